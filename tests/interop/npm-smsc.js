// A third-party SMSC for otpd's interop test: the server side of the `smpp` package from npm
// (installed by scripts/interop-setup.sh). It checks the bind, answers submit_sm with a
// message id, sends a delivery receipt for it, and prints what happened as JSON lines on
// stdout for the test to read.
//
//   node npm-smsc.js PORT SYSTEM_ID PASSWORD        (PORT 0: any; the first line says which)
'use strict';
const smpp = require('smpp');

const [port, systemId, password] = [Number(process.argv[2] || 0), process.argv[3] || 'otpd', process.argv[4] || 'secret'];
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');
let nextId = 0x1a2b00;

const server = smpp.createServer((session) => {
  const bind = (pdu) => {
    if (pdu.system_id !== systemId || pdu.password !== password) {
      say({ event: 'bind_refused', system_id: pdu.system_id });
      session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
      return;
    }
    say({ event: 'bind', command: pdu.command, system_id: pdu.system_id, interface_version: pdu.interface_version });
    session.send(pdu.response({ system_id: 'npm-smsc' }));
  };
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('bind_receiver', bind);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('submit_sm', (pdu) => {
    const id = (nextId++).toString(16).toUpperCase();
    const text = pdu.short_message && pdu.short_message.message !== undefined ? pdu.short_message.message : pdu.short_message;
    say({
      event: 'submit', message_id: id,
      source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
      destination_addr: pdu.destination_addr, dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
      registered_delivery: pdu.registered_delivery, data_coding: pdu.data_coding, esm_class: pdu.esm_class,
      validity_period: pdu.validity_period, text_length: String(text).length,
    });
    session.send(pdu.response({ message_id: id }));
    session.deliver_sm({
      source_addr: pdu.destination_addr,
      destination_addr: pdu.source_addr,
      esm_class: 4,
      short_message: `id:${id} sub:001 dlvrd:001 submit date:2611221200 done date:2611221200 stat:DELIVRD err:000 text:`,
      receipted_message_id: id,
      message_state: 2,
    }, (resp) => say({ event: 'receipt_acked', message_id: id, command_status: resp.command_status }));
  });
  session.on('unbind', (pdu) => {
    say({ event: 'unbind' });
    session.send(pdu.response());
    session.close();
  });
  session.on('error', (e) => say({ event: 'error', error: String(e) }));
});

server.listen(port, '127.0.0.1', () => say({ event: 'listening', port: server.address().port }));

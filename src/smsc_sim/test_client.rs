//! A bare ESME for the simulator's tests: rusmpp's codec over a `TcpStream`, no window,
//! no retries, so that every test sees exactly the PDUs the simulator sends.

use std::{net::SocketAddr, sync::mpsc::RecvTimeoutError, time::Duration};

use bytes::BytesMut;
use futures_util::StreamExt;
use rusmpp::{
    Command, CommandId, CommandStatus, Pdu,
    pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSm, DeliverSmResp, SubmitSm},
    tlvs::TlvValue,
    tokio_codec::{CommandCodec, DecodeError},
    types::{COctetString, OctetString},
    values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton},
};
use tokio::{
    io::AsyncWriteExt,
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};
use tokio_util::{
    codec::{Encoder, FramedRead},
    sync::CancellationToken,
};

use super::{SimArgs, SmscSim};

/// How long, in wall-clock time, a client waits for the simulator before failing the test.
const PATIENCE: Duration = Duration::from_secs(30);

/// Cancelled once `PATIENCE` of real time has passed, whether or not the test paused
/// tokio's clock. A tokio timeout would not do: with the clock paused, tokio jumps to the
/// next timer whenever no task is ready, even while bytes are on their way through the
/// loopback, and a client's timeout would fire before the simulator has read its request.
fn wall_clock_deadline() -> (CancellationToken, std::sync::mpsc::Sender<()>) {
    let deadline = CancellationToken::new();
    let fire = deadline.clone();
    // Dropping the client drops `alive`, which ends the thread at once.
    let (alive, dropped) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = dropped.recv_timeout(PATIENCE) {
            fire.cancel();
        }
    });
    (deadline, alive)
}

pub async fn sim(flags: &[&str]) -> SmscSim {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(flags);
    SmscSim::start(SimArgs::from_flags(all).unwrap())
        .await
        .unwrap()
}

#[derive(Debug, Clone, Copy)]
pub enum Bind {
    Transmitter,
    Receiver,
    Transceiver,
}

pub struct Client {
    // Reading through rusmpp's decoder; writing encodes with the same codec by hand, which
    // spares futures-util its `sink` feature.
    framed: FramedRead<OwnedReadHalf, CommandCodec>,
    writer: OwnedWriteHalf,
    seq: u32,
    deadline: CancellationToken,
    _alive: std::sync::mpsc::Sender<()>,
}

fn cstr<const MIN: usize, const MAX: usize>(text: &str) -> COctetString<MIN, MAX> {
    text.parse().unwrap()
}

/// A submit_sm as otpd sends one: SMPP 3.4 values set explicitly, not rusmpp's defaults.
pub fn submit_sm(destination: &str, text: &[u8], receipt: bool) -> SubmitSm {
    SubmitSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr_npi(Npi::Unknown)
        .source_addr(cstr("OTPD"))
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(cstr(destination))
        .esm_class(EsmClass::from(0))
        .registered_delivery(RegisteredDelivery::from(u8::from(receipt)))
        .data_coding(DataCoding::from(0))
        .short_message(OctetString::from_slice(text).unwrap())
        .build()
}

/// The receipt's text and its (receipted_message_id, message_state) TLVs.
pub fn receipt_parts(command: &Command) -> (String, &DeliverSm, Option<String>, Option<u8>) {
    let Some(Pdu::DeliverSm(deliver)) = command.pdu() else {
        panic!("not a deliver_sm: {command:?}")
    };
    let text = String::from_utf8(deliver.short_message().as_ref().to_vec()).unwrap();
    let mut id = None;
    let mut state = None;
    for tlv in deliver.tlvs() {
        match tlv.value() {
            Some(TlvValue::ReceiptedMessageId(value)) => id = Some(value.as_str().to_owned()),
            Some(TlvValue::MessageState(value)) => state = Some(u8::from(*value)),
            _ => {}
        }
    }
    (text, deliver, id, state)
}

/// The message id of a successful submit_sm_resp.
pub fn message_id(command: &Command) -> String {
    assert_eq!(command.status(), CommandStatus::EsmeRok, "{command:?}");
    let Some(Pdu::SubmitSmResp(resp)) = command.pdu() else {
        panic!("not a submit_sm_resp: {command:?}")
    };
    resp.message_id().as_str().to_owned()
}

impl Client {
    pub async fn connect(sim: &SmscSim) -> Client {
        Client::connect_to(sim.local_addr()).await
    }

    pub async fn connect_to(addr: SocketAddr) -> Client {
        let (reader, writer) = TcpStream::connect(addr).await.unwrap().into_split();
        let (deadline, _alive) = wall_clock_deadline();
        Client {
            framed: FramedRead::new(reader, CommandCodec::new()),
            writer,
            seq: 0,
            deadline,
            _alive,
        }
    }

    /// Sends a request with the next sequence number and returns that number.
    pub async fn send(&mut self, pdu: impl Into<Pdu>) -> u32 {
        self.seq += 1;
        let command = Command::new(CommandStatus::EsmeRok, self.seq, pdu);
        self.write(&command).await;
        self.seq
    }

    /// Sends a response (status and sequence number chosen by the test).
    pub async fn answer(&mut self, status: CommandStatus, seq: u32, pdu: impl Into<Pdu>) {
        self.write(&Command::new(status, seq, pdu)).await;
    }

    async fn write(&mut self, command: &Command) {
        let mut bytes = BytesMut::new();
        CommandCodec::new().encode(command, &mut bytes).unwrap();
        self.send_raw(&bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    async fn next(&mut self) -> Option<Result<Command, DecodeError>> {
        tokio::select! {
            next = self.framed.next() => next,
            () = self.deadline.cancelled() => panic!("no answer from the simulator in {PATIENCE:?}"),
        }
    }

    /// The next PDU from the simulator.
    pub async fn recv(&mut self) -> Command {
        match self.next().await {
            Some(Ok(command)) => command,
            other => panic!("expected a PDU, got {other:?}"),
        }
    }

    /// Asserts that the simulator closed the connection.
    pub async fn expect_closed(&mut self) {
        match self.next().await {
            None | Some(Err(_)) => {}
            Some(Ok(command)) => panic!("expected the connection to close, got {command:?}"),
        }
    }

    /// Sends a request and returns the next PDU, which the test expects to answer it.
    pub async fn call(&mut self, pdu: impl Into<Pdu>) -> Command {
        let seq = self.send(pdu).await;
        let answer = self.recv().await;
        assert_eq!(answer.sequence_number(), seq, "{answer:?}");
        answer
    }

    pub async fn bind_as(&mut self, kind: Bind, system_id: &str, password: &str) -> Command {
        let (system_id, password) = (cstr(system_id), cstr(password));
        // SMPP 3.4, said explicitly: rusmpp's default interface_version is 5.0.
        let version = InterfaceVersion::Smpp3_4;
        let pdu: Pdu = match kind {
            Bind::Transmitter => BindTransmitter::builder()
                .system_id(system_id)
                .password(password)
                .interface_version(version)
                .build()
                .into(),
            Bind::Receiver => BindReceiver::builder()
                .system_id(system_id)
                .password(password)
                .interface_version(version)
                .build()
                .into(),
            Bind::Transceiver => BindTransceiver::builder()
                .system_id(system_id)
                .password(password)
                .interface_version(version)
                .build()
                .into(),
        };
        self.call(pdu).await
    }

    /// Binds with the simulator's default account and asserts success.
    pub async fn bind(&mut self, kind: Bind) {
        let resp = self.bind_as(kind, "otpd", "secret").await;
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
    }

    pub async fn ack_receipt(&mut self, receipt: &Command) {
        assert_eq!(receipt.id(), CommandId::DeliverSm);
        let resp = DeliverSmResp::builder().build();
        self.answer(CommandStatus::EsmeRok, receipt.sequence_number(), resp)
            .await;
    }

    /// An enquire_link round trip: once it is answered, the simulator has handled
    /// everything sent before it.
    pub async fn sync(&mut self) {
        let resp = self.call(Pdu::EnquireLink).await;
        assert_eq!(resp.id(), CommandId::EnquireLinkResp, "{resp:?}");
    }
}

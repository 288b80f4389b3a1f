#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ from the vectors of the unit tests.

Run from anywhere: python3 fuzz/seeds/make_seeds.py. The files are small and committed; the
fuzzer's own finds go to fuzz/target/corpus/ (see scripts/fuzz.sh) and are not.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- SMPP -------------------------------------------------------------------------------
def pdu(command_id, status, seq, body=b""):
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def cstr(s):
    return s.encode() + b"\0"


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


RECEIPT = (b"id:7F3A9BC2E1 sub:001 dlvrd:001 submit date:2311221200 done date:2311221300 "
           b"stat:DELIVRD err:000 text:Your code is")


def deliver_sm(seq, short_message, tlvs=b""):
    body = (cstr("") + bytes([1, 1]) + cstr("31612345678") + bytes([5, 0]) + cstr("OTPD")
            + bytes([0x04, 0, 0]) + cstr("") + cstr("") + bytes([0, 0, 0, 0])
            + bytes([len(short_message)]) + short_message + tlvs)
    return pdu(0x00000005, 0, seq, body)


receipt_tlvs = tlv(0x001E, cstr("7F3A9BC2E1")) + tlv(0x0427, bytes([2])) + tlv(0x0423, bytes([3, 0, 0]))
smpp = {
    "submit_sm_resp": pdu(0x80000004, 0, 2, cstr("7F3A9BC2E1")),
    "submit_sm_resp_throttled": pdu(0x80000004, 0x58, 3, b""),
    "deliver_sm_receipt": deliver_sm(5, RECEIPT),
    "deliver_sm_tlvs": deliver_sm(6, b"", receipt_tlvs),
    "enquire_link": pdu(0x00000015, 0, 9),
    "enquire_link_resp": pdu(0x80000015, 0, 4),
    "generic_nack": pdu(0x80000000, 3, 2),
    "unbind": pdu(0x00000006, 0, 10),
    "unbind_resp": pdu(0x80000006, 0, 4),
    "unknown_command": pdu(0x00001234, 0, 11, b"junk"),
    "bind_transceiver_resp": pdu(0x80000009, 0, 1, cstr("SMSC")),
}
for name, data in smpp.items():
    write("smpp_pdu", name, data)
# The session target's first byte picks the piece size.
write("smpp_session", "accepted_then_receipt",
      b"\x05" + smpp["submit_sm_resp"] + pdu(0x80000004, 0, 3, cstr("12")) + smpp["deliver_sm_receipt"])
write("smpp_session", "rejected_nacked_unbound",
      b"\x00" + smpp["submit_sm_resp_throttled"] + smpp["generic_nack"] + smpp["enquire_link"] + smpp["unbind"])
write("smpp_session", "tlv_receipt_and_unknown",
      b"\x10" + smpp["deliver_sm_tlvs"] + smpp["unknown_command"] + smpp["enquire_link_resp"])

# --- receipt text ---------------------------------------------------------------------
receipts = {
    "delivered": RECEIPT,
    "expired": b"id:44a2f7c1 submit date:2311221200 done date:2311221201 stat:EXPIRED err:0",
    "underscores": b"id:99 submit_date:2311221200 done_date:2311221201 stat:ACCEPTD sub:001 dlvrd:000 err:000 text:",
    "uuid": b"id:550e8400-e29b-41d4-a716-446655440000 stat:DELIVRD",
    "bad_utf8": b"id:1\xff2 stat:DELIVRD err:000 text:Code \xe9\xff 1234\0",
    "truncated": b"id:123 sub:001 dlvrd:001 submit date:2311221200 done date:23112",
    "decimal_id": b"id:0123456789 sub:001 dlvrd:001 submit date:2311221200 done date:2311221201 stat:UNDELIV err:001 text:x",
}
for name, data in receipts.items():
    write("smpp_receipt", name, data)

# --- SMS PDUs: flags byte (bit 0: with SMSC; bit 1: as text), then octets ---------------
def sms(target, name, hex_pdu, with_smsc, as_text=False):
    flags = (1 if with_smsc else 0) | (2 if as_text else 0)
    body = hex_pdu.encode() if as_text else bytes.fromhex(hex_pdu)
    write(target, name, bytes([flags]) + body)


sms("sms_submit", "gsm7_report_requested", "0011000B916407281553F80000AA0AE8329BFD4697D9EC37", True)
sms("sms_submit", "alphanumeric_short", "0021070A817080523185000002E834", True)
sms("sms_submit", "ucs2_like", "01000191F100040341E9FF", False)
sms("sms_submit", "as_text", "0011000B916407281553F80000AA0AE8329BFD4697D9EC37", True, True)
sms("sms_deliver", "how_are_you", "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07", True)
sms("sms_deliver", "eight_bit", "04039121F300046211225050146102414A", False)
sms("sms_deliver", "as_text", "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07", True, True)
sms("sms_status_report", "delivered_with_smsc", "07917283010010F5062A0B916407281553F8621122505014616211226050146100", True)
sms("sms_status_report", "without_smsc", "062A0B916407281553F8621122505014616211226050146100", False)
sms("sms_status_report", "national_recipient", "07917283010010F5060B8172830100010F0F61702060600061702060605000", True)
sms("sms_status_report", "as_text", "07917283010010F5062A0B916407281553F8621122505014616211226050146100", True, True)

# --- AT: first byte picks the command in progress (low 3 bits) and the piece size -------
REPORT = "07917283010010F5062A0B916407281553F8621122505014616211226050146100"
DELIVER = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
at = {
    "creg_read": b"\x00AT+CREG?\r\r\n+CREG: 0,1\r\n\r\nOK\r\n",
    "cmgs_prompt": b"\x09AT+CMGS=23\r\r\n> ",
    "cmgs_done": b"\x01\r\n+CMGS: 42\r\n\r\nOK\r\n",
    "cds_mid_command": ("\x12\r\n+CDS: 25\r\n" + REPORT + "\r\n+CMS ERROR: 500\r\n").encode(),
    "cmt_and_ring": ("\x1b\r\n+CMT: ,40\r\n" + DELIVER + "\r\nRING\r\n^RSSI: 17\r\n").encode(),
    "cme_text_garbage": b"\x02\x00\xff\x1b\r\n+CME ERROR: SIM not inserted\r\nNO CARRIER\r\n",
    "cusd": b"\x03\r\n+CUSD: 0,\"Balance 1.00\",15\r\nOK\r\n",
}
for name, data in at.items():
    write("at_digester", name, data)

# --- modem session: the modem's answers, one per command, split at 0xFF; an empty piece
# lets the clock run to the next deadline (the ESC's settle time first). ------------------
SEP = b"\xff"
init = [b"", b"\r\nOK\r\n", b"ATE0\r\r\nOK\r\n", b"\r\nOK\r\n", b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n",
        b"\r\nOK\r\n", b"\r\n+CREG: 0,1\r\n\r\nOK\r\n", b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
        b"\r\nOK\r\n", b"\r\nOK\r\n", b"\r\nOK\r\n"]
send = [b"\r\n> ", b"\r\n+CMGS: 42\r\n\r\nOK\r\n"]
write("modem_session", "init_and_send", SEP.join(init + send))
write("modem_session", "init_send_report", SEP.join(init + send + [
    ("\r\n+CDS: 25\r\n" + REPORT + "\r\n").encode(), b"\r\nOK\r\n"]))
write("modem_session", "stored_message", SEP.join(init + [
    b"\r\n+CMTI: \"SM\",3\r\n", ("\r\n+CMGR: 0,,40\r\n" + DELIVER + "\r\n\r\nOK\r\n").encode(),
    b"\r\nOK\r\n"]))
write("modem_session", "registration_search", SEP.join(init[:6] + [
    b"\r\n+CREG: 0,2\r\n\r\nOK\r\n", b"", b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"]))
write("modem_session", "send_fails", SEP.join(init + [b"\r\n> ", b"\r\n+CMS ERROR: 38\r\n"]))

# --- config --------------------------------------------------------------------------
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "..", "packaging", "otpd.toml"), "rb") as f:
    write("config", "packaging_otpd_toml", f.read())
write("config", "smpp_and_modem", """data_dir = "/var/lib/otpd"

[otp]
length = 6
ttl = "5m"

[[channel]]
name = "operator"
kind = "smpp"
host = "smsc.example"
port = 2775
system_id = "otpd"
password = "pw"
window = 10
max_tps = 50
prefixes = ["+255"]

[[channel]]
name = "dongle"
kind = "modem"
device = "/dev/ttyUSB2"
sim_pin = "1234"

[[app]]
id = "shop"
beem_app_id = 4695

[limits]
lockout = "15m"
lockout_max = "1h"
""")
write("config", "bad_duration", "[otp]\nttl = \"five minutes\"\n")

# --- API bodies ----------------------------------------------------------------------
bodies = {
    "send": '{"recipient":"+255712345678","appid":"shop","channel":"sim","length":6,"ttl":300}',
    "verify": '{"verification_id":"019aa9c0-0000-7000-8000-000000000000","otp_code":"482913"}',
    "verify_by_recipient": '{"recipient":"+255712345678","otp_code":"482913","appid":"shop"}',
    "id": '{"verification_id":"019aa9c0-0000-7000-8000-000000000000"}',
    "beem_request": '{"appId":"4695","msisdn":"255712345678","source_addr":"x"}',
    "beem_verify": '{"pinId":"019aa9c0","pin":123456}',
    "wrong_type": '{"recipient":123456,"length":"six"}',
    "query": "verification_id=019aa9c0&x=%20",
}
for name, data in bodies.items():
    write("api_json", name, data)

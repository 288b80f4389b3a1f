# Cross-checks otpd's GSM 03.40 PDUs with libgammu through python-gammu (Debian's
# python3-gammu, installed by scripts/interop-setup.sh; run it with /usr/bin/python3, the
# interpreter that package is built for).
#
# Reads one JSON array of requests on stdin and prints one JSON array of answers, in order:
#
#   {"op": "decode", "hex": PDU, "smsc": true|false}
#       gammu.DecodePDU on the binary PDU (it takes bytes, not hex; `smsc` says whether an
#       SMSC address leads). Answers the fields otpd cares about.
#   {"op": "encode_submit", "number", "text", "unicode", "mr", "srr", "validity"}
#       gammu.EncodePDU of a one-part SMS-SUBMIT: the TPDU in hex (without the SMSC part,
#       which gammu writes as "0181" for an empty number where otpd writes "00"), to compare
#       octet for octet with otpd's encoder.
#   {"op": "encode_deliver", "number", "text", "unicode", "smsc", "time", "parts"}
#       gammu.EncodeSMS (which splits and adds the concatenation header when `parts` is
#       true) then gammu.EncodePDU with the Deliver layout: a list of hex PDUs, each with its
#       SMSC part, as a modem hands them to otpd in +CMT / +CMGR.
#
# What python-gammu cannot do, so otpd's tests do not ask it: report TP-SRR when decoding
# (libgammu keeps no such flag for a received SUBMIT), and encode an SMS-STATUS-REPORT
# (libgammu: "We DON'T CREATE FRAME FOR REAL SMS_STATUS_REPORT"; EncodePDU answers b"").
import datetime
import json
import sys

import gammu


def text_of(sms):
    # For GSM-7, libgammu's Length counts septets, escapes included, and python-gammu copies
    # that many UCS-2 units from a NUL-terminated buffer: with extension characters (€, [)
    # the decoded text is followed by its NUL and leftovers. The text ends at the NUL.
    return sms["Text"].split("\x00", 1)[0]


def decode(req):
    sms = gammu.DecodePDU(bytes.fromhex(req["hex"]), req["smsc"])
    udh = sms["UDH"]
    concat = None
    if udh["Type"] != "NoUDH":
        concat = {
            "type": udh["Type"],
            "ref": udh["ID8bit"],
            "part": udh["PartNumber"],
            "total": udh["AllParts"],
        }
    dt = sms["DateTime"]
    sc = sms["SMSCDateTime"]
    return {
        "type": sms["Type"],
        "number": sms["Number"],
        "text": text_of(sms),
        "coding": sms["Coding"],
        "class": sms["Class"],
        "mr": sms["MessageReference"],
        "validity": sms["SMSC"]["Validity"],
        "smsc": sms["SMSC"]["Number"],
        "reply_path": bool(sms["ReplyViaSameSMSC"]),
        "reject_duplicates": bool(sms["RejectDuplicates"]),
        "concat": concat,
        # SCTS; for a status report SMSCDateTime is TP-DT (discharge time). libgammu drops
        # the time zone.
        "time": dt.strftime("%y-%m-%d %H:%M:%S") if dt else None,
        "discharge": sc.strftime("%y-%m-%d %H:%M:%S") if sms["Type"] == "Status_Report" else None,
        "status": sms["DeliveryStatus"],
    }


def template():
    # EncodePDU wants every key of a message dictionary; DecodePDU of a minimal SUBMIT
    # gives a complete one to start from.
    return gammu.DecodePDU(bytes.fromhex("0001000C9152752143658700000100"), True)


def coding(req):
    return "Unicode_No_Compression" if req["unicode"] else "Default_No_Compression"


def encode_submit(req):
    sms = template()
    sms.update({
        "Number": req["number"],
        "Text": req["text"],
        "Coding": coding(req),
        "Length": len(req["text"]),
        "MessageReference": req["mr"],
        # In libgammu a SUBMIT that asks for a status report has the type Status_Report.
        "Type": "Status_Report" if req["srr"] else "Submit",
        "Class": -1,
    })
    sms["SMSC"] = dict(sms["SMSC"], Number="", Validity=req["validity"])
    pdu = gammu.EncodePDU(sms, "Submit")
    return pdu[1 + pdu[0]:].hex().upper()


def encode_deliver(req):
    info = {
        "Class": -1,
        "Unicode": req["unicode"],
        "Entries": [{
            "ID": "ConcatenatedTextLong" if req["parts"] else "Text",
            "Buffer": req["text"],
        }],
    }
    when = datetime.datetime.strptime(req["time"], "%y-%m-%d %H:%M:%S")
    out = []
    for part in gammu.EncodeSMS(info):
        sms = dict(template(), **part)
        sms.update({
            "Number": req["number"],
            "Type": "Deliver",
            "DateTime": when,
            "MessageReference": 0,
        })
        sms["SMSC"] = dict(sms["SMSC"], Number=req["smsc"])
        out.append(gammu.EncodePDU(sms, "Deliver").hex().upper())
    return out


OPS = {"decode": decode, "encode_submit": encode_submit, "encode_deliver": encode_deliver}

answers = [OPS[req["op"]](req) for req in json.load(sys.stdin)]
json.dump(answers, sys.stdout)

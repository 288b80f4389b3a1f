# Decodes SMS-SUBMIT PDUs (hex, one per line on stdin, with the leading SMSC part) with the
# third-party smspdudecoder package (installed by scripts/interop-setup.sh) and prints one
# JSON object per PDU, for otpd's cross-check of its GSM 03.40 encoder.
import json
import sys
from io import StringIO

from smspdudecoder.fields import SMSSubmit

for line in sys.stdin:
    hex_pdu = line.strip()
    if not hex_pdu:
        continue
    sms = SMSSubmit.decode(StringIO(hex_pdu))
    header = sms["user_data"]["header"]
    concat = None
    if header:
        for element in header.get("elements", []):
            if element.get("iei") == 0:
                data = element["data"]
                concat = [data["reference"], data["parts_count"], data["part_number"]]
    print(json.dumps({
        "recipient": sms["recipient"]["number"],
        "ton": sms["recipient"]["toa"]["ton"],
        "srr": sms["header"]["srr"],
        "udhi": sms["header"]["udhi"],
        "vpf": sms["header"]["vpf"],
        "vp": sms.get("vp"),
        "mr": sms["message-ref"],
        "encoding": sms["dcs"]["encoding"],
        "concat": concat,
        "text": sms["user_data"]["data"],
    }))

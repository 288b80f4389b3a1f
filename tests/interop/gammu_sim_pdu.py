# libGammu's PDU codec (python3-gammu, installed by scripts/interop-setup.sh), for otpd's
# cross-checks of the modem simulator's PDUs. Reads JSON requests, one per line on stdin,
# and prints one JSON answer per line:
#   {"decode": "<hex with SMSC part>"} -> {"type", "number", "reference", "status"}
#   {"encode": "<text>", "number": "...", "unicode": bool, "ref16": bool}
#       -> {"parts": ["<hex with SMSC part>", ...]}
import binascii
import json
import sys

import gammu

SMSC = {"Location": 0, "Number": "+255754000000", "Validity": "NA", "Format": "Text",
        "Name": "", "DefaultNumber": ""}

for line in sys.stdin:
    if not line.strip():
        continue
    request = json.loads(line)
    if "decode" in request:
        sms = gammu.DecodePDU(binascii.unhexlify(request["decode"]))
        print(json.dumps({
            "type": sms["Type"],
            "number": sms["Number"],
            "reference": sms["MessageReference"],
            "status": sms["DeliveryStatus"],
        }))
    else:
        kind = "ConcatenatedTextLong16bit" if request.get("ref16") else "ConcatenatedTextLong"
        info = {"Class": -1, "Unicode": request.get("unicode", False),
                "Entries": [{"ID": kind, "Buffer": request["encode"]}]}
        parts = []
        for sms in gammu.EncodeSMS(info):
            sms["SMSC"] = SMSC
            sms["Number"] = request["number"]
            parts.append(binascii.hexlify(gammu.EncodePDU(sms)).decode().upper())
        print(json.dumps({"parts": parts}))
    sys.stdout.flush()

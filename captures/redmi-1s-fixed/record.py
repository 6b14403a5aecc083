"""Re-record capture.pcap and keys.log: the RedMi 1S after Xiaomi's August 2014 update.

Cloud Messenger is now opt-in and everything goes over TLS. Before the user opts in the
handset only fetches its configuration (nothing identifying); the opt-in itself is a request
(`POST /v1/consent/cloud-messaging`) that the bundled policy's consent matcher recognises
inside the decrypted traffic; after it, the handset registers with its IMEI base64-encoded
and its own and its contacts' phone numbers only as SHA-256 hashes. The handset's TLS
session keys are written by Python's `ssl` (`SSLContext.keylog_filename`) to keys.log, as
SSLKEYLOGFILE would be on a test phone.

Run as root (tcpdump): python3 captures/redmi-1s-fixed/record.py
"""

import base64
import hashlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recorder import Host, Session, record

IMEI, OWN = "867203024182737", "+8615627394810"
API = "api.account.xiaomi.com"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def handset(s: Session) -> None:
    s.resolve(API)
    conn = s.connect(API)
    s.request(API, "GET", "/v1/config?miui=V5.8&lang=zh_CN", connection=conn)
    time.sleep(1.5)
    # The user switches Cloud Messaging on.
    s.request(API, "POST", "/v1/consent/cloud-messaging", body=b'{"accepted":true}',
              headers={"Content-Type": "application/json"}, connection=conn)
    time.sleep(0.5)
    body = json.dumps({
        "device": base64.b64encode(IMEI.encode()).decode(),
        "own_number_sha256": sha256(OWN),
        "contacts_sha256": [sha256("+4915123456789")],
    }).encode()
    s.request(API, "POST", "/mcc/v2/register", body=body,
              headers={"Content-Type": "application/json"}, connection=conn)
    conn.close()


if __name__ == "__main__":
    session = Session(phone_ip="192.168.1.23", dns_server_ip="192.168.1.1", hosts=[
        Host(API, "42.62.94.174", tls=True),
    ])
    record(session, handset, HERE / "capture.pcap", keylog_out=HERE / "keys.log")

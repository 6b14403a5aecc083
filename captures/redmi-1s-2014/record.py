"""Re-record capture.pcap: the RedMi 1S as F-Secure saw it in July 2014.

A new handset with no Mi account: the tester inserts a SIM, joins Wi-Fi, adds a contact,
receives an SMS, then signs into Mi Cloud. MIUI's Cloud Messenger sends the carrier name,
the IMEI and the phone's own number to api.account.xiaomi.com, then the added contact's
number and the SMS sender's number, and after the Mi Cloud login the IMSI — all over plain
HTTP, before any opt-in. A statistics upload goes over TLS to data.mistat.xiaomi.com (no key
log: it stays unreadable). Paths and parameter names are invented (F-Secure published them
only as screenshots); the sequence and the data follow BACKGROUND.md.

Run as root (tcpdump): python3 captures/redmi-1s-2014/record.py
"""

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recorder import Host, Session, record

IMEI, IMSI, OWN = "867203024182737", "460013728150946", "+8615627394810"


def handset(s: Session) -> None:
    s.resolve("api.account.xiaomi.com")
    # SIM inserted: Cloud Messenger activates itself with carrier, IMEI and own number.
    s.request("api.account.xiaomi.com", "POST", "/pass/v2/sim/activate",
              body=f"carrier=China%20Unicom&imei={IMEI}&phone=%2B8615627394810&miui=V5".encode(),
              headers={"Content-Type": "application/x-www-form-urlencoded",
                       "User-Agent": "MIUI/JHCCNBH45.0 CloudMessenger/1.0"})
    time.sleep(0.4)
    s.resolve("data.mistat.xiaomi.com")
    s.request("data.mistat.xiaomi.com", "POST", "/mistats/v2", body=b"\x00" * 900,
              headers={"Content-Type": "application/octet-stream"})
    time.sleep(0.6)
    # The tester adds a contact: its number goes up to look up its online status.
    body = json.dumps({"imei": IMEI, "contacts": [{"number": "+4915123456789"}]}).encode()
    s.request("api.account.xiaomi.com", "POST", "/mcc/v1/online_status", body=body,
              headers={"Content-Type": "application/json",
                       "User-Agent": "MIUI/JHCCNBH45.0 CloudMessenger/1.0"})
    time.sleep(0.6)
    # An SMS arrives: the sender's number goes up (national spelling).
    s.request("api.account.xiaomi.com", "GET",
              f"/mcc/v1/sms/sender_status?imei={IMEI}&sender=13910682234",
              headers={"User-Agent": "MIUI/JHCCNBH45.0 CloudMessenger/1.0"})
    time.sleep(0.8)
    # Mi Cloud login: now the IMSI goes too.
    s.request("api.account.xiaomi.com", "POST", "/pass/serviceLoginAuth2",
              body=f"user=someone&hash=0c7e&imsi={IMSI}&imei={IMEI}&sid=micloud".encode(),
              headers={"Content-Type": "application/x-www-form-urlencoded",
                       "User-Agent": "MIUI/JHCCNBH45.0 CloudMessenger/1.0"})


if __name__ == "__main__":
    session = Session(phone_ip="192.168.1.23", dns_server_ip="192.168.1.1", hosts=[
        Host("api.account.xiaomi.com", "42.62.94.174"),
        Host("data.mistat.xiaomi.com", "120.92.96.37", tls=True),
    ])
    record(session, handset, HERE / "capture.pcap")

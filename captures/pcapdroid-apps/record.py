"""Re-record this case: two apps of one phone, as PCAPdroid would export their traffic.

A weather app (com.example.weather, uid 10123) sends the phone's advertising ID and its
location to its own server, its advertising ID to Google Firebase Analytics' logging host
and to graph.facebook.com (Exodus lists seven Facebook SDKs on that pattern); the browser
(com.android.chrome, uid 10087) fetches a search page on www.google.com with nothing of the
device in it. The traffic is real (loopback, recorded by tcpdump through
captures/recorder.py); `pcapdroid_layout.py` then writes it as PCAPdroid's pcap export
(per-packet trailer) and, for tests/fixtures, as its pcapng export (UID-map custom blocks),
because PCAPdroid itself runs only on Android.

Run as root (tcpdump): python3 captures/pcapdroid-apps/record.py
"""

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pcapdroid_layout import write_pcap, write_pcapng
from recorder import Host, Session, record

AAID = "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5"
WEATHER = (10123, "com.example.weather", "Weather")
CHROME = (10087, "com.android.chrome", "Chrome")
HOSTS = {
    "api.weather.example": ("93.184.216.34", WEATHER),
    "firebaselogging-pa.googleapis.com": ("142.250.74.42", WEATHER),
    "graph.facebook.com": ("157.240.20.19", WEATHER),
    "www.google.com": ("142.250.74.36", CHROME),
}


def handset(s: Session) -> None:
    s.resolve("api.weather.example")
    s.request("api.weather.example", "GET",
              f"/v2/forecast?lat=39.98312&lon=116.30745&aaid={AAID}",
              headers={"User-Agent": "Weather/3.1 (Android 14)"})
    time.sleep(0.3)
    s.resolve("firebaselogging-pa.googleapis.com")
    s.request("firebaselogging-pa.googleapis.com", "POST", "/v1/firelog/legacy/log",
              body=json.dumps({"app": "com.example.weather", "adid": AAID,
                               "event": "forecast_view"}).encode(),
              headers={"Content-Type": "application/json"})
    time.sleep(0.3)
    s.resolve("graph.facebook.com")
    s.request("graph.facebook.com", "POST", "/v17.0/1234567890/activities",
              body=f"event=MOBILE_APP_INSTALL&advertiser_id={AAID}".encode(),
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    time.sleep(0.3)
    s.resolve("www.google.com")
    s.request("www.google.com", "GET", "/search?q=weather+tomorrow",
              headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0"})


if __name__ == "__main__":
    session = Session(phone_ip="10.215.173.1", dns_server_ip="10.215.173.2", hosts=[
        Host(name, ip) for name, (ip, _) in HOSTS.items()])
    plain = session.workdir / "tcpdump.pcap"
    record(session, handset, plain)
    by_ip = {ip: app for ip, app in HOSTS.values()}
    by_name = {name: app for name, (_, app) in HOSTS.items()}
    write_pcap(plain, HERE / "capture.pcap", by_ip, by_name)
    fixtures = HERE.parent.parent / "tests" / "fixtures" / "pcap"
    write_pcapng(plain, fixtures / "pcapdroid.pcapng", by_ip, by_name)
    print(f"wrote {HERE / 'capture.pcap'}, {fixtures / 'pcapdroid.pcapng'}")

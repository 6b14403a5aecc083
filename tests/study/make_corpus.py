"""Record a corpus of case folders for `auditor study`: one capture per "app", from real sockets.

One recording session (captures/recorder.py: real HTTP, TLS and DNS servers on loopback,
tcpdump on `lo`) in which every app is a handset on a loopback address of its own
(127.13.1.N, ...) talking to the session's servers with its own mix of identifiers and
encodings. tcpdump itself then splits the recording, one `host 127.13.1.N` filter per app,
and each part gets the public addresses rewritten as every recorded case does. Each app's
folder gets the capture, the session's TLS key log, a device.yaml and a study.yaml with its
labels. One more folder, `broken/`, holds a file named capture.pcap that is not a capture.

    python3 tests/study/make_corpus.py OUT_DIR [--apps 36] [--requests 3] [--big-app 0]

`--big-app N` makes one more app with N extra uploads, for a task that takes a while.
Needs root (tcpdump, ports 53/80/443 on loopback).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "captures"))

from recorder import Host, Session, recording, rewrite_addresses

IMEI, IMSI = "867203024182737", "460013728150946"
PHONE, ANDROID_ID = "+8615627394810", "3f8a1c0b7d52e946"
DEVICE = (ROOT / "captures" / "redmi-1s-2014" / "device.yaml").read_text(encoding="utf-8")
#: (name, public address, TLS) of the servers every app may talk to
HOSTS = (("api.account.xiaomi.com", "42.62.94.174", False),
         ("app.adjust.com", "185.151.204.10", False),
         ("graph.facebook.com", "157.240.1.1", True))
#: how app N writes its IMEI, cycling
ENCODINGS = ("plain", "base64", "sha256", "md5")


def _written(value: str, how: str) -> str:
    if how == "base64":
        return base64.b64encode(value.encode()).decode()
    if how in ("sha256", "md5"):
        return hashlib.new(how, value.encode()).hexdigest()
    return value


def _phone_address(number: int) -> str:
    """App `number`'s loopback address: 127.13.1.1, 127.13.1.2, ... (250 per /24)."""
    return f"127.13.{1 + (number - 1) // 250}.{1 + (number - 1) % 250}"


def _app(session: Session, number: int, requests: int) -> None:
    """The uploads of app `number`: its own pattern of data, hosts and encodings."""
    vendor, tracker, social = (h[0] for h in HOSTS)
    session.resolve(vendor)
    how = ENCODINGS[number % len(ENCODINGS)]
    for index in range(requests):
        body = json.dumps({"app": f"app-{number:03d}", "seq": index,
                           "device": _written(IMEI, how)}).encode()
        session.request(vendor, "POST", f"/v{number % 3}/report", body=body,
                        headers={"Content-Type": "application/json"})
    if number % 2 == 0:
        session.request(tracker, "GET", f"/session?android_id={ANDROID_ID}&app={number}")
    if number % 3 == 0:
        session.request(social, "POST", "/activities",
                        body=f"phone={_written(PHONE, 'sha256')}&imsi={IMSI}".encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})


def make_corpus(out: Path, *, apps: int = 36, requests: int = 3, big_app: int = 0) -> list[Path]:
    """Write the case folders under `out`; returns them."""
    out.mkdir(parents=True, exist_ok=True)
    session = Session(phone_ip="192.168.1.23", dns_server_ip="192.168.1.1",
                      hosts=[Host(name, ip, tls=tls) for name, ip, tls in HOSTS],
                      dns_loopback="127.13.0.10")
    for index, host in enumerate(session.hosts, start=2):
        host.loopback_ip = f"127.13.0.{index}"  # apart from other recordings on this machine
    plan = [(n, requests) for n in range(1, apps + 1)]
    if big_app:
        plan.append((apps + 1, big_app))
    raw = session.workdir / "corpus.pcap"
    with recording(session, raw):
        for number, count in plan:
            session.phone_loopback = _phone_address(number)
            _app(session, number, count)
    mapping = {session.dns_loopback: session.dns_server_ip,
               **{h.loopback_ip: h.public_ip for h in session.hosts}}
    folders = []
    for number, _ in plan:
        folder = out / f"app-{number:03d}"
        folder.mkdir(exist_ok=True)
        part = session.workdir / f"app-{number}.pcap"
        address = _phone_address(number)
        subprocess.run(["tcpdump", "-r", str(raw), "-w", str(part), "host", address],
                       check=True, capture_output=True)
        rewrite_addresses(part, folder / "capture.pcap", {**mapping, address: session.phone_ip})
        if session.keylog:
            shutil.copy(session.keylog, folder / "keys.log")
        (folder / "device.yaml").write_text(DEVICE, encoding="utf-8")
        (folder / "study.yaml").write_text(
            f"labels: {{app: app-{number:03d}, version: '1.{number % 4}', "
            f"firmware: MIUI-{5 + number % 2}, date: '2014-0{1 + number % 9}-15'}}\n",
            encoding="utf-8")
        folders.append(folder)
    broken = out / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "capture.pcap").write_bytes(b"this is not a capture\n")
    shutil.rmtree(session.workdir, ignore_errors=True)
    return folders + [broken]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--apps", type=int, default=36)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--big-app", type=int, default=0)
    options = parser.parse_args()
    made = make_corpus(options.out, apps=options.apps, requests=options.requests,
                       big_app=options.big_app)
    print(f"wrote {len(made)} case folders under {options.out}")

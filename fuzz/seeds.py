"""Seed inputs of each fuzz target, made from the test fixtures (nothing is copied into
the repository twice): the recorded captures, flow and HAR files, the YAML files of
rules/ and captures/, and HTTP/2 connections written by the `h2` library (the HTTP/2
implementation mitmproxy uses).

    python3 fuzz/seeds.py [OUT]   # writes OUT/TARGET/seed-N (default fuzz/work)
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
IMEI = "867203024182737"
_MAX_SEED = 64 << 10  # keeps the fuzzer's inputs (and each execution) small


def _small(paths) -> list[bytes]:
    return [p.read_bytes() for p in sorted(paths) if p.stat().st_size <= _MAX_SEED]


def _captures() -> list[bytes]:
    return _small([*(FIXTURES / "pcap").glob("*.pcap*"), *ROOT.glob("captures/*/*.pcap")])


def _http1() -> list[bytes]:
    """Client requests as the fixtures' HTTP/1 connections carried them, with a step byte."""
    raw = (FIXTURES / "pcap" / "http.pcap").read_bytes()
    starts = [m.start() for m in re.finditer(rb"(?:GET|POST|HEAD|PUT) /[^ ]* HTTP/1\.[01]\r\n",
                                             raw)]
    seeds = []
    for n, start in enumerate(starts):
        end = raw.find(b"\r\n\r\n", start)
        body_end = min(len(raw), end + 400) if end > 0 else start + 400
        seeds.append(bytes([n * 7 % 97]) + raw[start:body_end]
                     + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    chunked = (b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nimei=\r\nf\r\n" + IMEI.encode() + b"\r\n0\r\n\r\n")
    ws = (b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\nHTTP/1.1 101 S\r\n"
          b"Upgrade: websocket\r\n\r\n\x81\x05hello")
    long_head = b"GET /l HTTP/1.1\r\nX: " + b"a" * 3000 + b"\r\nContent-Length: 1\r\n\r\nx"
    return seeds + [b"\x10" + chunked, b"\x05" + ws, b"\x60" + long_head]


def _http2() -> list[bytes]:
    import h2.config
    import h2.connection

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    for n in range(2):
        stream = client.get_next_available_stream_id()
        client.send_headers(stream, [(":method", "POST"), (":scheme", "https"),
                                     (":authority", "h.example"), (":path", f"/u?n={n}"),
                                     ("content-type", "application/json"),
                                     ("cookie", f"imei={IMEI}")])
        client.send_data(stream, json.dumps({"imei": IMEI}).encode(), end_stream=True)
    up = client.data_to_send()
    server.receive_data(up)
    for stream in (1, 3):
        server.send_headers(stream, [(":status", "200")], end_stream=True)
    down = server.data_to_send()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    return [bytes([1]) + (len(up) - len(preface)).to_bytes(2, "big") + up[len(preface):] + down,
            bytes([0]) + len(up).to_bytes(2, "big") + up + down]


def _walker() -> list[bytes]:
    body = json.dumps({"imei": IMEI, "list": [1, "a"], "b64": base64.b64encode(
        IMEI.encode()).decode()}).encode()
    form = f"imei={IMEI}&x=%41&b={base64.b64encode(gzip.compress(IMEI.encode())).decode()}"
    multipart = (b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" + IMEI.encode()
                 + b"\r\n--b--\r\n")
    return [bytes([1]) + body, bytes([2]) + form.encode(), bytes([6]) + multipart,
            bytes([1 + 8]) + gzip.compress(body), bytes([3]) + IMEI.encode().hex().encode(),
            bytes([4]) + b"\x0a\x0f" + IMEI.encode()]


def _yaml() -> list[bytes]:
    files = [*ROOT.glob("captures/*/device.yaml"), *ROOT.glob("rules/*.yaml"),
             *ROOT.glob("rules/examples/*.yaml"), *ROOT.glob("captures/*/expect.yaml"),
             ROOT / "rules" / "key-hints.yaml"]
    pick = {"device.yaml": 0, "expect.yaml": 3, "key-hints.yaml": 4}
    out = []
    for path in sorted(files):
        if path.stat().st_size <= _MAX_SEED:
            out.append(bytes([pick.get(path.name, 1)]) + path.read_bytes())
    out.append(bytes([2]) + b"suppressions:\n  - rule: r1\n    host: h.example\n"
               b"    reason: known\n    expires: 2030-01-01\n")
    return out


def seeds(target: str) -> list[bytes]:
    """The seed inputs of one target (fuzz/targets.py names them)."""
    return {
        "capture": _captures,
        "http1": _http1,
        "http2": _http2,
        "walker": _walker,
        "har": lambda: _small((FIXTURES / "flows").glob("*.har")),
        "flowfile": lambda: _small((FIXTURES / "flows").glob("*.mitm")),
        "yaml": _yaml,
    }[target]()


def write(out: Path, target: str) -> Path:
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    for n, data in enumerate(seeds(target)):
        (folder / f"seed-{n}").write_bytes(data)
    return folder


if __name__ == "__main__":
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "work"
    for name in ("capture", "http1", "http2", "walker", "har", "flowfile", "yaml"):
        print(write(base, name))

"""Generate a large synthetic capture for benchmarking: `make_capture.py --size-mb N OUT.pcap`.

Synthetic on purpose (a benchmark needs hundreds of MB, faster than loopback can record
them): Ethernet/IPv4/TCP/UDP packets are packed with `struct` — complete handshakes,
keep-alive HTTP/1.1 connections with varied JSON and form uploads (split at a 1448-byte
MSS) and downloads, DNS queries and answers, and TLS connections with a real ClientHello
header and opaque records. A few requests carry identifiers of a device profile (the
planted leaks), so a full `auditor analyze` run has something to find.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
from pathlib import Path

MSS = 1448
_ETH = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
DEFAULT_PROFILE = {"imei": "867203024182737", "imsi": "460013728150946",
                   "phone_number": "+8615627394810"}
HOSTS = ["api.account.xiaomi.com", "tracking.miui.com", "data.mistat.xiaomi.com",
         "sdkconfig.ad.xiaomi.com", "cdn.example.net", "push.example.org"]


class PcapOut:
    """A little-endian microsecond pcap written with struct, packet by packet."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.size = 24
        self.time = 1_700_000_000.0

    def packet(self, src: bytes, dst: bytes, proto: int, l4: bytes) -> None:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
                         src, dst)
        frame = _ETH + ip + l4
        self.time += 0.0002
        sec = int(self.time)
        self.f.write(struct.pack("<IIII", sec, int((self.time - sec) * 1e6), len(frame),
                                 len(frame)))
        self.f.write(frame)
        self.size += 16 + len(frame)

    def close(self) -> None:
        self.f.close()


class TcpFlow:
    """One connection: handshake, data both ways in MSS-sized segments, FIN."""

    def __init__(self, out: PcapOut, client: bytes, cport: int, server: bytes,
                 sport: int) -> None:
        self.out, self.c, self.s, self.cport, self.sport = out, client, server, cport, sport
        self.cseq, self.sseq = random.getrandbits(32), random.getrandbits(32)
        self._segment(True, 0x02, b"")
        self.cseq += 1
        self._segment(False, 0x12, b"")
        self.sseq += 1
        self._segment(True, 0x10, b"")

    def _segment(self, up: bool, flags: int, data: bytes) -> None:
        sport, dport = (self.cport, self.sport) if up else (self.sport, self.cport)
        seq, ack = (self.cseq, self.sseq) if up else (self.sseq, self.cseq)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          0x50, flags, 65535, 0, 0) + data
        self.out.packet(self.c if up else self.s, self.s if up else self.c, 6, tcp)

    def send(self, up: bool, data: bytes) -> None:
        for start in range(0, len(data), MSS):
            piece = data[start:start + MSS]
            self._segment(up, 0x18, piece)
            if up:
                self.cseq += len(piece)
            else:
                self.sseq += len(piece)
        self._segment(not up, 0x10, b"")  # the other side's ACK

    def close(self) -> None:
        self._segment(True, 0x11, b"")
        self.cseq += 1
        self._segment(False, 0x11, b"")
        self.sseq += 1
        self._segment(True, 0x10, b"")


def dns_packets(out: PcapOut, client: bytes, server: bytes, name: str, answer: bytes) -> None:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    ident = random.getrandbits(16)
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"
    reply = (struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + qname + b"\x00\x01\x00\x01"
             + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + answer)
    port = random.randrange(20000, 60000)
    for src, dst, sport, dport, payload in ((client, server, port, 53, query),
                                            (server, client, 53, port, reply)):
        out.packet(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
                   + payload)


def client_hello(host: str) -> bytes:
    name = host.encode()
    sni = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    alpn = struct.pack("!HHH", 16, 5, 3) + b"\x02h2"
    extensions = sni + alpn
    body = (b"\x03\x03" + random.randbytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
            + struct.pack("!H", len(extensions)) + extensions)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def upload(n: int, profile: dict[str, str], leak: bool) -> tuple[str, bytes, str]:
    """(path and query, body, content type) of one varied upload."""
    if n % 3 == 0:
        fields = {f"k{i}": random.randbytes(random.randrange(4, 40)).hex()
                  for i in range(random.randrange(3, 30))}
        if leak:
            fields["deviceId"] = profile.get("imei", "")
        body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
        return f"/v2/form?n={n}", body, "application/x-www-form-urlencoded"
    events = [{"event": f"e{random.randrange(1000)}", "ts": 1700000000 + n + i,
               "payload": random.randbytes(random.randrange(8, 200)).hex()}
              for i in range(random.randrange(1, 12))]
    document = {"session": n, "events": events}
    if leak:
        document["phone"] = profile.get("phone_number", "")
    query = f"?imei={profile.get('imei', '')}" if leak else f"?n={n}"
    return f"/v1/event{query}", json.dumps(document).encode(), "application/json"


def generate(path: Path, size_mb: int, profile: dict[str, str], leaks: int) -> int:
    """Writes the capture; returns the number of planted leaking requests."""
    random.seed(2014)
    out = PcapOut(path)
    target = size_mb << 20
    dns_server = bytes([10, 0, 0, 1])
    planted = 0
    n = 0
    connection = 0
    while out.size < target:
        connection += 1
        client = bytes([10, 1, (connection >> 8) & 0xFF, connection & 0xFF])
        server = bytes([93, 184, connection % 200, 1 + connection % 250])
        host = HOSTS[connection % len(HOSTS)]
        if connection % 4 == 0:
            dns_packets(out, client, dns_server, host, server)
        cport = 10000 + connection % 50000
        if connection % 10 == 0:  # a TLS connection: only metadata is readable
            flow = TcpFlow(out, client, cport, server, 443)
            flow.send(True, client_hello(host))
            flow.send(False, b"\x16\x03\x03\x00\x40" + random.randbytes(64))
            for _ in range(random.randrange(2, 8)):
                size = random.randrange(100, 8000)
                flow.send(True, b"\x17\x03\x03" + struct.pack("!H", size) + random.randbytes(size))
                size = random.randrange(100, 16000)
                flow.send(False, b"\x17\x03\x03" + struct.pack("!H", size)
                          + random.randbytes(size))
            flow.close()
            continue
        flow = TcpFlow(out, client, cport, server, 80)
        for _ in range(random.randrange(3, 12)):
            n += 1
            leak = planted < leaks and n % 997 == 0
            planted += leak
            target_path, body, ctype = upload(n, profile, leak)
            head = (f"POST {target_path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: MIUI/V5\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            flow.send(True, head + body)
            answer = random.randbytes(random.randrange(200, 24000)).hex().encode()
            flow.send(False, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                      + str(len(answer)).encode() + b"\r\n\r\n" + answer)
        flow.close()
    out.close()
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--device", type=Path, help="device.yaml whose identifiers to plant")
    parser.add_argument("--leaks", type=int, default=5, help="requests carrying identifiers")
    args = parser.parse_args()
    profile = dict(DEFAULT_PROFILE)
    if args.device:
        import yaml

        loaded = yaml.safe_load(args.device.read_text()) or {}
        for key in DEFAULT_PROFILE:
            value = loaded.get(key)
            if value:
                profile[key] = str(value[0] if isinstance(value, list) else value)
    planted = generate(args.out, args.size_mb, profile, args.leaks)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB, {planted} planted leaks",
          file=sys.stderr)


if __name__ == "__main__":
    main()

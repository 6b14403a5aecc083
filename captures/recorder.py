"""Record a handset-like session from real sockets on loopback, as a sample case capture.

Used by the `record.py` beside each case. What runs, all on this machine:

- a DNS responder on UDP 127.0.0.10:53 that answers the names of the session with the
  public addresses given (so the capture shows the phone resolving its vendor's servers);
- one HTTP server per plain-text host (Python's `http.server`, a thread each) on
  127.0.0.2, 127.0.0.3, ... port 80, and, for TLS hosts, the same behind Python's `ssl` with a
  self-signed certificate made by `openssl req`, port 443; every server reads the whole
  request and answers `200 {"code":0}`;
- `tcpdump -i lo` writing the capture (started first, stopped last);
- the "handset": the case's client code, using real sockets (`http.client`, `ssl`, a UDP
  socket for DNS). With TLS it writes an NSS key log through `SSLContext.keylog_filename`.

Loopback cannot carry the phone's and the servers' real addresses, so afterwards every
127.0.0.x address in the capture is rewritten (scapy, checksums recomputed, timestamps and
payloads untouched) to the addresses the case names: the phone's Wi-Fi address and each
server's public address. That rewrite is the only thing not produced by the network stack.
"""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PHONE_LOOPBACK = "127.0.0.1"
DNS_LOOPBACK = "127.0.0.10"


@dataclass
class Host:
    """A server the handset talks to: its name, its public address, plain HTTP or TLS."""

    name: str
    public_ip: str
    tls: bool = False
    loopback_ip: str = ""  # assigned by the session


@dataclass
class Session:
    phone_ip: str  # the address the capture shows for the phone
    dns_server_ip: str  # the address the capture shows for the phone's DNS resolver
    hosts: list[Host]
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rec-")))
    keylog: Path | None = None
    phone_loopback: str = PHONE_LOOPBACK  # the handset's source address on loopback
    dns_loopback: str = DNS_LOOPBACK  # where the DNS responder listens

    def __post_init__(self) -> None:
        for index, host in enumerate(self.hosts, start=2):
            host.loopback_ip = f"127.0.0.{index}"

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    # -- the handset's side ----------------------------------------------------------------

    def resolve(self, name: str) -> None:
        """Send a real DNS query for `name` to the responder and wait for its answer."""
        query_id = int.from_bytes(os.urandom(2), "big")
        qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((self.phone_loopback, 0))
            s.settimeout(2)
            s.sendto(packet, (self.dns_loopback, 53))
            s.recvfrom(2048)

    def request(self, name: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None,
                connection: http.client.HTTPConnection | None = None) -> int:
        """One HTTP(S) request to host `name`; a new connection unless one is given."""
        conn = connection or self.connect(name)
        conn.request(method, path, body=body, headers={"Host": name, **(headers or {})})
        response = conn.getresponse()
        response.read()
        if connection is None:
            conn.close()
        return response.status

    def connect(self, name: str) -> http.client.HTTPConnection:
        host = self.host(name)
        if not host.tls:
            conn = http.client.HTTPConnection(host.loopback_ip, 80, timeout=5,
                                              source_address=(self.phone_loopback, 0))
        else:
            context = ssl.create_default_context(cafile=str(self.workdir / "cert.pem"))
            context.check_hostname = False
            context.keylog_filename = str(self.keylog) if self.keylog else None
            conn = _SNIConnection(host.loopback_ip, 443, context=context, timeout=5,
                                  source_address=(self.phone_loopback, 0), sni=host.name)
        return conn


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to a loopback address, presenting the real host name as SNI."""

    def __init__(self, *args, sni: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sni = sni

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._sni)


# -- the network's side -------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b'{"code":0,"result":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args) -> None:
        pass


def _dns_responder(sock: socket.socket, answers: dict[str, str], stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(2048)
        except TimeoutError:
            continue
        qname_end = data.index(b"\0", 12) + 1
        labels, i = [], 12
        while data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode())
            i += 1 + data[i]
        name = ".".join(labels)
        question = data[12:qname_end + 4]
        address = answers.get(name)
        header = struct.pack("!HHHHHH", int.from_bytes(data[:2], "big"),
                             0x8180 if address else 0x8183, 1, 1 if address else 0, 0, 0)
        answer = b""
        if address:
            answer = b"\xc0\x0c\0\1\0\1" + struct.pack("!IH", 300, 4) + socket.inet_aton(address)
        sock.sendto(header + question + answer, peer)


def _make_certificate(workdir: Path, names: list[str]) -> None:
    san = ",".join(f"DNS:{n}" for n in names)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem"),
         "-days", "30", "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}"],
        check=True, capture_output=True)


def record(session: Session, handset: Callable[[Session], None], out: Path,
           keylog_out: Path | None = None, snaplen: int = 0) -> None:
    """Run the servers and tcpdump, let `handset` talk, then write the rewritten capture.
    `snaplen`: record only that many bytes of each packet (`tcpdump -s`), 0 for all."""
    raw = session.workdir / "raw.pcap"
    with recording(session, raw, snaplen=snaplen):
        handset(session)
    rewrite_addresses(raw, out, {
        session.phone_loopback: session.phone_ip,
        session.dns_loopback: session.dns_server_ip,
        **{h.loopback_ip: h.public_ip for h in session.hosts},
    })
    if keylog_out and session.keylog:
        shutil.copy(session.keylog, keylog_out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


@contextmanager
def recording(session: Session, raw: Path, *, snaplen: int = 0) -> Iterator[None]:
    """The session's servers and DNS responder, and tcpdump writing `raw` (loopback
    addresses as they are) while the body of the `with` talks to them. `snaplen`: record
    only that many bytes of each packet (`tcpdump -s`), 0 for all."""
    if shutil.which("tcpdump") is None:
        sys.exit("tcpdump is needed: apt-get install tcpdump")
    stop = threading.Event()
    servers: list[http.server.ThreadingHTTPServer] = []
    tls_names = [h.name for h in session.hosts if h.tls]
    if tls_names:
        _make_certificate(session.workdir, tls_names)
        session.keylog = session.workdir / "keys.log"
    for host in session.hosts:
        server = http.server.ThreadingHTTPServer((host.loopback_ip, 443 if host.tls else 80),
                                                 _Handler)
        if host.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(session.workdir / "cert.pem", session.workdir / "key.pem")
            server.socket = context.wrap_socket(server.socket, server_side=True)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((session.dns_loopback, 53))
    threading.Thread(target=_dns_responder, daemon=True,
                     args=(dns, {h.name: h.public_ip for h in session.hosts}, stop)).start()

    cut = ["-s", str(snaplen)] if snaplen else []
    # only the session's own servers: other programs on this machine use loopback too
    only = " or ".join(f"host {address}" for address in
                       [session.dns_loopback] + [h.loopback_ip for h in session.hosts])
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", *cut, "-w",
                             str(raw), only],
                            stderr=subprocess.PIPE, text=True)
    assert dump.stderr is not None
    while "listening on" not in dump.stderr.readline():
        pass
    try:
        yield
        time.sleep(1.0)  # let tcpdump write the last packets before it is stopped
    finally:
        dump.terminate()
        dump.wait(5)
        stop.set()
        for server in servers:
            server.shutdown()
            server.server_close()


def rewrite_addresses(raw: Path, out: Path, mapping: dict[str, str]) -> None:
    """Copy a capture with IPv4 addresses replaced; checksums recomputed, times kept."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.utils import PcapReader, PcapWriter

    with PcapReader(str(raw)) as reader, PcapWriter(str(out), linktype=reader.linktype,
                                                    sync=True) as writer:
        for packet in reader:
            if IP in packet:
                when = packet.time
                ip = packet[IP]
                ip.src = mapping.get(ip.src, ip.src)
                ip.dst = mapping.get(ip.dst, ip.dst)
                del ip.chksum
                for layer in (TCP, UDP):
                    if layer in packet:
                        del packet[layer].chksum
                packet = packet.__class__(bytes(packet))
                packet.time = when
            writer.write(packet)

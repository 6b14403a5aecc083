"""Real processes on loopback for the live tests, the flow fixtures and the benchmark.

An origin server (HTTP or HTTPS with its own self-signed certificate, plus a WebSocket
endpoint) that records every body exactly as it arrived; a client that sends handset-like
uploads directly or through a proxy; and launchers for `mitmdump` and `auditor proxy`.
Every wait has an upper bound so a broken build fails instead of hanging.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message, Request, TextMessage

REPO = Path(__file__).resolve().parents[2]
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True)
class Upload:
    """One request a handset would make."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Origin:
    """A real HTTP(S) server on 127.0.0.1 that records what reaches it."""

    tls_dir: Path | None = None  # where to make its self-signed certificate; None: plain HTTP
    received: list[Received] = field(default_factory=list)
    ws_messages: list[bytes] = field(default_factory=list)

    def __enter__(self) -> Self:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # head and body go out as two writes

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                if self.headers.get("upgrade", "").lower() == "websocket":
                    origin._websocket(self)
                else:
                    self._record_and_answer()

            def do_POST(self) -> None:
                self._record_and_answer()

            do_PUT = do_POST

            def _record_and_answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                origin.received.append(Received(self.command, self.path,
                                                {k.lower(): v for k, v in self.headers.items()},
                                                body))
                answer = b'{"ok": true}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls_dir is not None:
            cert, key = make_certificate(self.tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _websocket(self, handler: BaseHTTPRequestHandler) -> None:
        """Minimal RFC 6455 server side: handshake, record each data frame, answer close."""
        key = handler.headers["sec-websocket-key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest()).decode()
        handler.send_response(101)
        handler.send_header("upgrade", "websocket")
        handler.send_header("connection", "Upgrade")
        handler.send_header("sec-websocket-accept", accept)
        handler.end_headers()
        handler.wfile.flush()
        while True:
            head = handler.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(handler.rfile.read(2), "big")
            elif length == 127:
                length = int.from_bytes(handler.rfile.read(8), "big")
            mask = handler.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(handler.rfile.read(length)))
            if opcode in (1, 2):
                self.ws_messages.append(payload)
                handler.wfile.write(b"\x81\x02ok")
            elif opcode == 8:
                handler.wfile.write(b"\x88\x02\x03\xe8")
                handler.wfile.flush()
                handler.close_connection = True
                return
            handler.wfile.flush()


def make_certificate(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "origin-cert.pem", folder / "origin-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


# --- clients -----------------------------------------------------------------------------


def send_uploads(uploads: list[Upload], origin: Origin, *, proxy_port: int | None = None,
                 ca_file: str | None = None) -> list[int]:
    """Send the uploads over one keep-alive connection, directly or through an HTTP proxy.
    Returns the status codes."""
    tls = origin.tls_dir is not None
    if tls:
        context = ssl.create_default_context(cafile=ca_file)
        if proxy_port is None:
            context = ssl._create_unverified_context()
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", proxy_port or origin.port, context=context, timeout=20)
        if proxy_port is not None:
            conn.set_tunnel(origin.authority)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", proxy_port or origin.port, timeout=20)
    statuses = []
    try:
        for upload in uploads:
            # through a plain-HTTP proxy the request line carries the absolute URL
            target = (f"http://{origin.authority}{upload.path}"
                      if proxy_port is not None and not tls else upload.path)
            conn.request(upload.method, target, body=upload.body or None,
                         headers=dict(upload.headers))
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    return statuses


def send_websocket(texts: list[str], origin: Origin, *, proxy_port: int,
                   ca_file: str | None, path: str = "/push") -> None:
    """Open a WebSocket to the origin through the proxy, send each text, close cleanly."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=20)
    try:
        if origin.tls_dir is not None:
            connect = f"CONNECT {origin.authority} HTTP/1.1\r\nHost: {origin.authority}\r\n\r\n"
            sock.sendall(connect.encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("proxy closed the CONNECT tunnel")
                answer += chunk
            assert answer.split(b" ")[1] == b"200", answer
            sock = ssl.create_default_context(cafile=ca_file).wrap_socket(
                sock, server_hostname="127.0.0.1")
        target = path if origin.tls_dir is not None else f"http://{origin.authority}{path}"
        ws = WSConnection(ConnectionType.CLIENT)
        sock.sendall(ws.send(Request(host=origin.authority, target=target)))
        _await_event(sock, ws, AcceptConnection)
        for text in texts:
            sock.sendall(ws.send(Message(data=text)))
            _await_event(sock, ws, TextMessage)  # the origin acknowledges each message
        sock.sendall(ws.send(CloseConnection(code=1000)))
        _await_event(sock, ws, CloseConnection)
    finally:
        sock.close()


def _await_event(sock: socket.socket, ws: WSConnection, kind: type) -> object:
    while True:
        for event in ws.events():
            if isinstance(event, kind):
                return event
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"connection closed while waiting for {kind.__name__}")
        ws.receive_data(data)


# --- proxies -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited early with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def mitmdump_command() -> list[str]:
    found = shutil.which("mitmdump")
    if found:
        return [found]
    return [sys.executable, "-c", ("import sys; from mitmproxy.tools.main import mitmdump; "
                                  "sys.exit(mitmdump())")]


def auditor_proxy_command() -> list[str]:
    return [sys.executable, "-c", "import sys; from auditor.proxy import main; sys.exit(main())"]


def start(command: list[str], port: int, log_dir: Path, name: str, *,
          new_group: bool = False) -> subprocess.Popen:
    """Start a proxy process with its output in files; returns once its port accepts.
    `new_group`: in a process group of its own, as a terminal starts a command."""
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               COLUMNS="200", TERM="dumb")
    with open(log_dir / f"{name}.out", "wb") as out, open(log_dir / f"{name}.err", "wb") as err:
        # the child keeps its own copies of the descriptors
        process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, process_group=0 if new_group else None)
    try:
        wait_for_port(port, process)
    except BaseException:
        stop(process)
        raise
    return process


def start_auditor_proxy(folder: Path, port: int, *options: str) -> subprocess.Popen:
    """`auditor proxy` on 127.0.0.1:`port` with the handset's device profile and policy
    (written into `folder`), its report in `folder/report.json`, output in `folder`."""
    (folder / "device.yaml").write_text(DEVICE_YAML)
    (folder / "policy.yaml").write_text(POLICY_YAML)
    return start([*auditor_proxy_command(), "--listen-host", "127.0.0.1", "--listen-port",
                  str(port), "--confdir", str(folder / "conf"),
                  "--device", str(folder / "device.yaml"),
                  "--policy", str(folder / "policy.yaml"),
                  "--report", str(folder / "report.json"), *options], port, folder, "proxy")


def stop(process: subprocess.Popen, sig: int = signal.SIGINT, *, timeout: float = 30,
         group: bool = False) -> int:
    """Ask the process (`group`: its whole process group, as Ctrl-C in a terminal does) to
    stop with `sig`; kill it if it does not within the timeout."""
    if process.poll() is None:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def record_flow_file(uploads: list[Upload], folder: Path, *, name: str = "flows",
                     origin: Origin | None = None,
                     ws_texts: list[str] = ()) -> tuple[Path, Path]:
    """Send the uploads (then a WebSocket with `ws_texts`, if any) through a real
    `mitmdump -w` to a plain-HTTP origin; returns the flow file and the HAR mitmdump wrote
    of the same traffic."""
    own_origin = origin is None
    origin = origin or Origin().__enter__()
    flows, har = folder / f"{name}.mitm", folder / f"{name}.har"
    port = free_port()
    process = start([*mitmdump_command(), "-q", "--listen-host", "127.0.0.1",
                     "--listen-port", str(port), "--set", f"confdir={folder / 'mitm-conf'}",
                     "-w", str(flows), "--set", f"hardump={har}"], port, folder, "mitmdump")
    try:
        send_uploads(uploads, origin, proxy_port=port)
        if ws_texts:
            send_websocket(list(ws_texts), origin, proxy_port=port, ca_file=None)
    finally:
        code = stop(process)
        if own_origin:
            origin.__exit__(None, None, None)
    if code != 0:
        raise RuntimeError(f"mitmdump exited with {code}")
    return flows, har


# --- what a handset like the RedMi 1S sends (values of DESIGN.md's example device) -------

DEVICE_YAML = """\
name: RedMi 1S test unit
region: CN
imei: ["867203024182737", "867203024182810"]
imsi: "460013728150946"
iccid: "89860114872047315961"
phone_number: "+8615627394810"
android_id: "3f8a1c0b7d52e946"
advertising_id: "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5"
"""

POLICY_YAML = """\
rules:
  - id: no-identifiers-before-opt-in
    title: Handset identifiers leave the phone before the user opts in
    severity: high
    description: Identifiers sent before the user agreed to anything.
    when:
      data: [identifiers]
      consent: before-opt-in
"""

HANDSET_UPLOADS = [
    Upload("POST", "/v1/activate",
           b"imei=867203024182737&imsi=460013728150946&carrier=CMCC",
           (("Content-Type", "application/x-www-form-urlencoded"),)),
    Upload("POST", "/v2/profile", b'{"phone": "+8615627394810", "lang": "zh_CN"}',
           (("Content-Type", "application/json"),)),
    Upload("POST", "/v3/stats",
           gzip.compress(b'{"android_id": "3f8a1c0b7d52e946", "events": [1, 2, 3]}', mtime=0),
           (("Content-Type", "application/json"), ("Content-Encoding", "gzip"))),
    Upload("GET", "/v1/config?version=4&sim=89860114872047315961"),
]

#: What the WebSocket sends after the uploads above (an identifier in a text message).
HANDSET_WS_TEXTS = ['{"type": "hello", "aaid": "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5"}']

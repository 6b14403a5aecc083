"""What runs on a reassembled TCP connection: HTTP/1, TLS (listed, or decrypted when the
key log has its keys), DNS over TCP, or an unknown protocol. Each handler takes both
byte streams and turns them into `Exchange`s when they are complete."""

from __future__ import annotations

import heapq
import struct
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from auditor.model import Exchange, InputInfo
from auditor.sources.bodycodec import MAX_BODY, decode_body
from auditor.sources.pcap.dns import DnsMessage, parse_dns
from auditor.sources.pcap.http1 import HttpConversation, HttpMessage, WsMessage
from auditor.sources.pcap.tcp import UNLIMITED, ReadsEverything
from auditor.sources.pcap.tls.hello import Hello, count_records, handshake_message, parse_hello

if TYPE_CHECKING:
    from auditor.sources.pcap.tls.decrypt import KeyLog

RAW_BODY_LIMIT = 64 << 10  # bytes of an unknown protocol's upload kept for the detectors
_HELLO_LIMIT = 64 << 10
_HANDSHAKE = 0x16  # TLS record type


@dataclass
class CaptureContext:
    """What every handler of one capture shares."""

    path: str
    info: InputInfo
    keylog: KeyLog | None = None  # when key logs or pcapng secrets blocks were given
    names: dict[str, str] = field(default_factory=dict)  # ip -> name, from DNS answers
    out: list[Exchange] = field(default_factory=list)  # exchanges ready to hand out
    missing_decryptor: bool = False

    def name_of(self, ip: str) -> str:
        return self.names.get(ip, ip)

    def learn(self, message: DnsMessage) -> None:
        for address in message.addresses:
            self.names[address] = message.qname


@dataclass
class Endpoints:
    """Who talks to whom on one connection or flow."""

    client: str  # ip:port
    server: str
    server_ip: str
    time: float  # first packet
    packet: int  # 1-based number of the first packet
    last_time: float = 0.0
    bytes_up: int = 0  # payload bytes, lost ones included
    bytes_down: int = 0
    up_packet: int = 0  # 1-based number of the last packet that carried bytes up

    @property
    def frames(self) -> tuple[int, ...]:
        """(first packet, last packet the phone sent bytes in) of a connection."""
        return (self.packet, max(self.packet, self.up_packet))


def split_host(authority: str) -> str:
    """`example.com:8080` -> `example.com`; `[::1]:80` -> `::1`."""
    if authority.startswith("["):
        return authority[1:authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def dns_exchange(ctx: CaptureContext, ends: Endpoints, message: DnsMessage, size: int,
                 time: float, packet: int) -> Exchange:
    return Exchange(id=0, time=time, client=ends.client, server=ends.server,
                    host=message.qname, transport="dns", method="QUERY",
                    url=f"dns:{message.qname}", source=f"{ctx.path}#pkt {packet}",
                    bytes_up=size, server_ip=ends.server_ip, end_time=time,
                    frames=(packet, packet))


def dns_answered(query: Exchange, raw: bytes, size: int, time: float) -> Exchange:
    """The query with what its answer `raw` said: the RCODE (0 = NOERROR, 3 = NXDOMAIN)
    as status; `size`, the answer's bytes on the wire, as bytes_down."""
    return replace(query, status=raw[3] & 0x0F, bytes_down=size, end_time=time)


class HttpHandler:
    """HTTP/1 in the clear (or inside decrypted TLS, with `scheme` https)."""

    def __init__(self, ctx: CaptureContext, ends: Endpoints, scheme: str = "http",
                 alpn: str = "") -> None:
        self.ctx, self.ends, self.scheme, self.alpn = ctx, ends, scheme, alpn
        self.conv = HttpConversation(self._request, self._websocket)
        self.up, self.down = self.conv.up, self.conv.down

    def close(self) -> None:
        self.conv.close()

    def _target(self, request: HttpMessage) -> tuple[str, str]:
        """(host, url) from the Host header, an absolute-form target, or the server."""
        host_header = request.header("host")
        target = request.target
        if request.method == "CONNECT":
            return split_host(target), f"{self.scheme}://{target}"
        if "://" in target[:10]:
            parts = urlsplit(target)
            authority = host_header or parts.netloc
            path = parts.path or "/"
            path += f"?{parts.query}" if parts.query else ""
        else:
            authority = host_header or self.ctx.name_of(self.ends.server_ip)
            if ":" in authority and not host_header and not authority.startswith("["):
                authority = f"[{authority}]"  # a bare IPv6 address
            path = target if target.startswith("/") else f"/{target}"
        return split_host(authority), f"{self.scheme}://{authority}{path}"

    def _request(self, request: HttpMessage) -> None:
        host, url = self._target(request)
        body = bytes(request.body)
        notes = list(request.notes)
        for what in request.cut:  # a cap cut this request: the report must say so
            self.ctx.info.warn(f"{self.ctx.path}#pkt {request.packet}: {what}")
        coding = request.header("content-encoding")
        if coding and body:
            body, problem = decode_body(body, coding)
            if problem:
                notes.append(problem)
                self.ctx.info.warn(f"{self.ctx.path}#pkt {request.packet}: {problem}")
        if len(body) > MAX_BODY:
            body = body[:MAX_BODY]
        self.ctx.out.append(Exchange(
            id=0, time=request.time, client=self.ends.client, server=self.ends.server,
            host=host, transport=self.scheme, method=request.method, url=url,
            headers=tuple(request.headers), body=body, decrypted=self.scheme == "https",
            source=f"{self.ctx.path}#pkt {request.packet}", bytes_up=request.bytes_up,
            bytes_down=request.bytes_down, status=request.status,
            server_ip=self.ends.server_ip, alpn=self.alpn, end_time=request.end_time,
            notes=tuple(notes), incomplete=request.incomplete,
            frames=(request.packet, request.end_packet or request.packet)))

    def _websocket(self, upgrade: HttpMessage, message: WsMessage) -> None:
        host, url = self._target(upgrade)
        scheme = "wss" if self.scheme == "https" else "ws"
        self.ctx.out.append(Exchange(
            id=0, time=message.time, client=self.ends.client, server=self.ends.server,
            host=host, transport=scheme, url=scheme + url[url.find(":"):],
            body=message.payload, decrypted=scheme == "wss",
            source=f"{self.ctx.path}#pkt {message.packet}", bytes_up=message.bytes_up,
            bytes_down=message.bytes_down, server_ip=self.ends.server_ip, alpn=self.alpn,
            end_time=message.end_time, notes=tuple(message.notes),
            frames=(message.packet, message.end_packet or message.packet)))


class _Collector:
    """A stream sink that remembers the first `limit` bytes and any gaps, counts TLS
    records when `tls` is set — and, while `segments` is a list, notes which captured
    segment each kept chunk came in."""

    def __init__(self, limit: int, tls: bool = False) -> None:
        self.limit = limit
        self.tls = tls
        self.kept = bytearray()
        self.records = [0, 0, 0, 0]  # see count_records
        self.gaps: list[str] = []
        self.segments: list[tuple[int, float, int]] | None = None  # (kept offset, time, pkt)

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        if len(self.kept) < self.limit:
            if self.segments is not None:
                self.segments.append((len(self.kept), time, packet))
            self.kept += chunk[:self.limit - len(self.kept)]
        if self.tls:
            count_records(self.records, chunk)

    def gap(self, missing: int, offset: int) -> None:
        self.gaps.append(f"gap: {missing} bytes missing at stream offset {offset}")
        self.limit = len(self.kept)  # what is kept must be the stream as sent, without holes
        self.records[1:] = [0, 0, 0]  # record boundaries are lost; count from the next

    def countable(self) -> int:
        """Once nothing more is kept: everything, or for TLS the rest of the current
        record (a record header must be read to count the next one)."""
        if self.segments is not None or len(self.kept) < self.limit:
            return 0
        if not self.tls:
            return UNLIMITED
        return 0 if self.records[2] else self.records[1]

    def skipped(self, size: int, time: float, packet: int) -> None:
        if self.tls:
            self.records[1] -= size


class _FragmentCollector(_Collector):
    """Keeps the bytes on both sides of a gap — apart by a line break, so that no value is
    made of bytes that were not side by side — for a stream only searched, never parsed."""

    def gap(self, missing: int, offset: int) -> None:
        self.gaps.append(f"gap: {missing} bytes missing at stream offset {offset}")
        if self.kept and len(self.kept) < self.limit:
            self.kept += b"\n"


class RawHandler:
    """A protocol the reader does not know: one exchange, the first 64 KiB of upload."""

    def __init__(self, ctx: CaptureContext, ends: Endpoints) -> None:
        self.ctx, self.ends = ctx, ends
        self.up, self.down = _FragmentCollector(RAW_BODY_LIMIT), _Collector(0)

    def close(self) -> None:
        e = self.ends
        if not e.bytes_up and not e.bytes_down:
            return
        notes = self.up.gaps + [f"server: {g}" for g in self.down.gaps]
        if e.bytes_up > RAW_BODY_LIMIT:
            notes.append(f"only the first {RAW_BODY_LIMIT >> 10} KiB of the upload are kept")
        self.ctx.out.append(Exchange(
            id=0, time=e.time, client=e.client, server=e.server,
            host=self.ctx.name_of(e.server_ip), transport="tcp", body=bytes(self.up.kept),
            source=f"{self.ctx.path}#pkt {e.packet}", bytes_up=e.bytes_up,
            bytes_down=e.bytes_down, server_ip=e.server_ip, end_time=e.last_time,
            notes=tuple(notes), incomplete=bool(self.up.gaps), frames=e.frames))


class DnsTcpHandler:
    """DNS over TCP: length-prefixed messages; queries are exchanges, out when their
    answer comes (or the connection ends); answers also name IPs."""

    def __init__(self, ctx: CaptureContext, ends: Endpoints) -> None:
        self.ctx, self.ends = ctx, ends
        self.up = _DnsTcpStream(self, query=True)
        self.down = _DnsTcpStream(self, query=False)
        self.pending: dict[int, Exchange] = {}  # unanswered queries by DNS id

    def close(self) -> None:
        self.ctx.out.extend(self.pending.values())
        self.pending.clear()


class _DnsTcpStream(ReadsEverything):
    def __init__(self, handler: DnsTcpHandler, query: bool) -> None:
        self.handler, self.query = handler, query
        self.buf = bytearray()
        self.broken = False

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        if self.broken:
            return
        self.buf += chunk
        while len(self.buf) >= 2:
            size = struct.unpack_from("!H", self.buf)[0]
            if len(self.buf) < 2 + size:
                return
            raw = bytes(self.buf[2:2 + size])
            del self.buf[:2 + size]
            message = parse_dns(raw)
            if message is None:
                continue
            handler = self.handler
            ctx = handler.ctx
            if self.query and not message.is_response:
                earlier = handler.pending.pop(message.id, None)
                if earlier is not None:
                    ctx.out.append(earlier)
                handler.pending[message.id] = dns_exchange(ctx, handler.ends, message,
                                                           size + 2, time, packet)
            elif message.is_response:
                ctx.learn(message)
                query = handler.pending.pop(message.id, None)
                if query is not None:
                    ctx.out.append(dns_answered(query, raw, size + 2, time))

    def gap(self, missing: int, offset: int) -> None:
        self.broken = True  # message boundaries are lost


class _HelloCollector(_Collector):
    """The client's side of TLS: reads the ClientHello as soon as it is whole, so the
    decision to keep everything for decryption is taken before bytes are dropped."""

    def __init__(self, handler: TlsHandler) -> None:
        super().__init__(_HELLO_LIMIT, tls=True)
        self.handler = handler

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        super().data(chunk, time, packet)
        if self.handler.hello is None:
            self.handler.client_hello()


class _ServerHelloCollector(_Collector):
    """The server's side of TLS: when the connection is only listed (`segments` is None),
    nothing past the server's first handshake message — all `_server_hello` reads — is
    kept, so the rest of the download is only counted."""

    def __init__(self) -> None:
        super().__init__(_HELLO_LIMIT, tls=True)

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        super().data(chunk, time, packet)
        kept = self.kept
        if self.segments is None and len(kept) < self.limit and (
                kept[0] != _HANDSHAKE or handshake_message(bytes(kept)) is not None):
            self.limit = len(kept)


class _Timeline:
    """When a byte of one direction's decrypted data was captured: its plaintext offset
    maps through the TLS record that held it to an offset in the TCP stream (plaintext
    and ciphertext run byte for byte inside a record), and that to the segment."""

    def __init__(self, marks: list[tuple[int, int]],
                 segments: list[tuple[int, float, int]] | None, default: tuple[float, int]
                 ) -> None:
        self.marks = marks  # (plaintext offset, stream offset), see Decrypted.client_marks
        self.plain = [plain for plain, _ in marks]
        self.segments = segments or []
        self.starts = [start for start, _, _ in self.segments]
        self.default = default  # (time, packet) when nothing better is known

    def at(self, offset: int) -> tuple[float, int]:
        """(time, packet) of the segment that carried plaintext byte `offset`."""
        record = bisect_right(self.plain, offset) - 1
        if record < 0:
            return self.default
        plain, cipher = self.marks[record]
        return self._segment(bisect_right(self.starts, cipher + offset - plain) - 1)

    def chunks(self, data: bytes) -> Iterator[tuple[int, bytes, float]]:
        """(packet, bytes, time): `data` cut where a TLS record or a segment begins."""
        marks = self.marks
        if not marks and data:
            yield self.default[1], data, self.default[0]
        for record, (plain, cipher) in enumerate(marks):
            end = marks[record + 1][0] if record + 1 < len(marks) else len(data)
            while plain < end:
                index = bisect_right(self.starts, cipher) - 1
                stop = end
                if index + 1 < len(self.starts):
                    stop = min(end, plain + self.starts[index + 1] - cipher)
                time, packet = self._segment(index)
                yield packet, data[plain:stop], time
                cipher += stop - plain
                plain = stop

    def _segment(self, index: int) -> tuple[float, int]:
        if index < 0:
            return self.default
        _, time, packet = self.segments[index]
        return time, packet


class TlsHandler:
    """A TLS connection: listed with SNI, ALPN, sizes and record counts — or, when the
    key log holds its keys, decrypted and read as HTTPS, each request timed by the
    segment that carried its first byte."""

    def __init__(self, ctx: CaptureContext, ends: Endpoints) -> None:
        self.ctx, self.ends = ctx, ends
        self.up, self.down = _HelloCollector(self), _ServerHelloCollector()
        # segments are noted until the ClientHello tells whether the keys are known
        self.up.segments, self.down.segments = [], []
        self.hello: Hello | None = None
        self.decrypting = False

    def client_hello(self) -> None:
        if self.hello is not None:
            return
        message = handshake_message(bytes(self.up.kept))
        if message is None:
            return
        self.hello = parse_hello(message)
        keylog = self.ctx.keylog
        if self.hello is not None and keylog is not None and keylog.has(self.hello.random):
            self.decrypting = True
            self.up.limit = self.down.limit = MAX_BODY
        elif self.hello is not None:
            self.up.segments = self.down.segments = None  # only decrypted data needs them
            self.up.limit = len(self.up.kept)  # the ClientHello was all there was to read

    def close(self) -> None:
        self.client_hello()
        if self.decrypting and self._decrypt():
            return
        e = self.ends
        hello = self.hello
        server = self._server_hello()
        notes = [f"{self.up.records[0]} TLS records up, {self.down.records[0]} down"]
        if hello is None:
            notes.append("no complete ClientHello was captured")
        if server is not None and server.version:
            notes.append(server.version)
        notes += self.up.gaps + [f"server: {g}" for g in self.down.gaps]
        host = (hello.sni if hello and hello.sni else "") or self.ctx.name_of(e.server_ip)
        self.ctx.out.append(Exchange(
            id=0, time=e.time, client=e.client, server=e.server, host=host, transport="tls",
            readable=False, source=f"{self.ctx.path}#pkt {e.packet}", bytes_up=e.bytes_up,
            bytes_down=e.bytes_down, server_ip=e.server_ip, alpn=self._alpn(server),
            end_time=e.last_time, notes=tuple(notes), frames=e.frames))

    def _server_hello(self) -> Hello | None:
        return parse_hello(handshake_message(bytes(self.down.kept)) or b"\x00")

    def _alpn(self, server: Hello | None) -> str:
        """The ALPN the ServerHello chose (TLS 1.2), else what the ClientHello offered."""
        hello = self.hello
        return ",".join(server.alpn if server and server.alpn else (hello.alpn if hello else []))

    def _decrypt(self) -> bool:
        """Read the connection with its keys; False when that failed (it is then listed)."""
        e, out = self.ends, self.ctx.out
        where = f"TLS {e.client} -> {e.server}"
        if len(self.up.kept) >= MAX_BODY or len(self.down.kept) >= MAX_BODY:
            self.ctx.info.warn(f"{where}: over {MAX_BODY >> 20} MiB each way; only the "
                               f"first {MAX_BODY >> 20} MiB were decrypted")
        ready = len(out)
        try:
            return self._read_decrypted(where)
        except Exception as error:  # noqa: BLE001 - one bad connection must not end the run
            del out[ready:]  # what it gave so far would be half of it
            self.ctx.info.warn(f"{where}: reading the decrypted connection failed "
                               f"({type(error).__name__}: {error}); it is listed unread")
            return False

    def _read_decrypted(self, where: str) -> bool:
        from auditor.sources.pcap.http2 import CLIENT_PREFACE
        from auditor.sources.pcap.tls.decrypt import decrypt_connection

        e = self.ends
        result = decrypt_connection(bytes(self.up.kept), bytes(self.down.kept),
                                    self.ctx.keylog)
        for warning in result.warnings:
            self.ctx.info.warn(f"{where}: {warning}")
        if not result.ok:
            return False
        alpn = result.alpn or self._alpn(self._server_hello())
        up = _Timeline(result.client_marks, self.up.segments, (e.time, e.packet))
        down = _Timeline(result.server_marks, self.down.segments, (e.last_time, e.packet))
        if alpn == "h2" or result.client_data.startswith(CLIENT_PREFACE):
            self._http2(result.client_data, result.server_data, up, where)
            return True
        http = HttpHandler(self.ctx, e, scheme="https", alpn=alpn)
        # both directions in capture order, as they would arrive in the clear
        for packet, chunk, time, upward in heapq.merge(
                ((p, c, t, True) for p, c, t in up.chunks(result.client_data)),
                ((p, c, t, False) for p, c, t in down.chunks(result.server_data)),
                key=lambda item: item[0]):
            (http.up if upward else http.down).data(chunk, time, packet)
        http.close()
        return True

    def _http2(self, client_data: bytes, server_data: bytes, up: _Timeline,
               where: str) -> None:
        from auditor.sources.pcap.http2 import parse_http2

        e = self.ends
        authority = self.hello.sni if self.hello and self.hello.sni else e.server_ip
        warnings: list[str] = []
        for request in parse_http2(client_data, server_data, warnings):
            host = request.authority or authority
            time, packet = up.at(request.offset)
            self.ctx.out.append(Exchange(
                id=0, time=time, client=e.client, server=e.server, host=split_host(host),
                transport="https", method=request.method, url=f"https://{host}{request.path}",
                headers=tuple(request.headers), body=request.body, decrypted=True,
                source=f"{self.ctx.path}#pkt {packet}", bytes_up=len(request.body),
                bytes_down=request.bytes_down, status=request.status,
                server_ip=e.server_ip, alpn="h2", end_time=e.last_time,
                notes=(f"HTTP/2 stream {request.stream_id}",),
                frames=(packet, packet)))  # the frame of its HEADERS, as Wireshark shows it
        for warning in warnings:
            self.ctx.info.warn(f"{where}: {warning}")

"""SIP (RFC 3261) over UDP and TCP: each request the phone sent — REGISTER, INVITE,
MESSAGE, ... — becomes an exchange whose URL is the request URI (`sip:<IMSI>@ims...`,
`tel:+49...`) and whose headers are the message's (From, To, P-Asserted-Identity, Contact
with `+sip.instance="<urn:gsma:imei:...>"`), compact names written out, so the detectors
search them like any other upload. Responses give the status of the request before them
on a TCP connection; over UDP a request is one datagram, matched to its final response by
Call-ID and CSeq (`SipDatagrams`), or handed out unanswered after SIP's 32-second timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from auditor.model import Exchange
from auditor.sources.pcap.protocols import CaptureContext, Endpoints
from auditor.sources.pcap.tcp import ReadsEverything

METHODS = (b"REGISTER", b"INVITE", b"MESSAGE", b"OPTIONS", b"SUBSCRIBE", b"NOTIFY",
           b"PUBLISH", b"BYE", b"ACK", b"CANCEL", b"INFO", b"PRACK", b"UPDATE", b"REFER")
#: a request line's start; a head cut short (the first bytes of a stream) may end in the URI
_REQUEST_START = re.compile(rb"(?:" + b"|".join(METHODS) + rb") (?:sips?:|tel:|urn:|"
                            rb"(?:s|si|sip|sips|t|te|tel|u|ur|urn)\Z)")
_REQUEST_LINE = re.compile(rb"([A-Z]+) ([^\s]+) SIP/2\.0\r?\n")
_STATUS_LINE = re.compile(rb"SIP/2\.0 (\d{3}) ")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_HEADER = re.compile(r"^([^:\n]*):(.*)$", re.MULTILINE)
_URI_HOST = re.compile(r"^sips?:(?:[^@;?]*@)?\[?([^\]:;?>]+)")
#: RFC 3261 7.3.3 and the IANA registry: compact header names, written out
_COMPACT = {"i": "Call-ID", "m": "Contact", "f": "From", "t": "To", "l": "Content-Length",
            "v": "Via", "c": "Content-Type", "e": "Content-Encoding", "k": "Supported",
            "s": "Subject", "o": "Event", "u": "Allow-Events", "r": "Refer-To",
            "b": "Referred-By", "x": "Session-Expires", "a": "Accept-Contact",
            "j": "Reject-Contact", "d": "Request-Disposition", "y": "Identity"}
_MAX_MESSAGE = 64 << 10  # a SIP message over TCP; past this the stream is not SIP
_TIMEOUT = 32.0  # seconds: SIP's transaction timeout (64 x T1) for a request over UDP
_MAX_PENDING = 4096  # unanswered requests over UDP held at once; older ones go out as they are
_TRANSACTION = re.compile(rb"(?im)^(?:call-id|i)[ \t]*:[ \t]*(\S+)|^cseq[ \t]*:[ \t]*(\d+)")


def looks_like_sip(data: bytes) -> bool:
    """Does a stream or datagram begin with a SIP request line (or a SIP status line)?"""
    return _REQUEST_START.match(data) is not None or data.startswith(b"SIP/2.0 ")


@dataclass
class SipRequest:
    method: str
    uri: str
    headers: list[tuple[str, str]]
    body: bytes
    size: int  # bytes on the wire
    notes: list[str]
    incomplete: bool = False  # bytes of it are missing from the capture


def parse_request(data: bytes) -> SipRequest | None:
    """A whole SIP request (its body as far as the bytes go), or None for anything else."""
    end = _HEAD_END.search(data)
    head_end, body_start = (end.start(), end.end()) if end else (len(data), len(data))
    first = _REQUEST_LINE.match(data)
    if first is None:
        return None
    text = data[first.end():head_end].decode("utf-8", "replace").replace("\r\n", "\n")
    headers = [(_COMPACT.get(name.strip().lower(), name.strip()), value.strip())
               for name, value in _HEADER.findall(text)]
    notes = [] if end else ["the SIP message ends inside its headers"]
    return SipRequest(first.group(1).decode("ascii"), first.group(2).decode("utf-8", "replace"),
                      headers, data[body_start:], len(data), notes, incomplete=end is None)


def _content_length(head: bytes) -> int:
    match = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head)
    return int(match.group(1)) if match else 0


def sip_exchange(ctx: CaptureContext, ends: Endpoints, request: SipRequest, time: float,
                 packet: int, status: int | None = None, bytes_down: int = 0,
                 last_packet: int = 0) -> Exchange:
    """`packet`/`last_packet`: the frames of the request's first and last byte (one
    datagram over UDP: the same frame)."""
    host = _URI_HOST.match(request.uri) if request.uri.startswith("sip") else None
    return Exchange(
        id=0, time=time, client=ends.client, server=ends.server,
        host=host.group(1) if host else ctx.name_of(ends.server_ip), transport="sip",
        method=request.method, url=request.uri, headers=tuple(request.headers),
        body=request.body, source=f"{ctx.path}#pkt {packet}", bytes_up=request.size,
        bytes_down=bytes_down, status=status, server_ip=ends.server_ip, end_time=time,
        notes=tuple(request.notes), incomplete=request.incomplete,
        frames=(packet, max(last_packet, packet)))


def _transaction(message: bytes) -> tuple[bytes, bytes]:
    """(Call-ID, CSeq number) of a SIP message: what pairs a response with its request."""
    call_id = cseq = b""
    head_end = message.find(b"\r\n\r\n")
    for match in _TRANSACTION.finditer(message, 0, head_end if head_end >= 0 else len(message)):
        call_id = call_id or (match.group(1) or b"")
        cseq = cseq or (match.group(2) or b"")
    return call_id, cseq


class SipDatagrams:
    """SIP over UDP: each request waits for its final response (Call-ID, CSeq and the two
    endpoints must match), or for the timeout, before it is handed out to `out`."""

    def __init__(self, ctx: CaptureContext) -> None:
        self.ctx = ctx
        self.pending: dict[tuple, Exchange] = {}  # (client, server, Call-ID, CSeq) -> request

    def request(self, exchange: Exchange, message: bytes) -> None:
        key = (exchange.client, exchange.server, *_transaction(message))
        earlier = self.pending.pop(key, None)
        if earlier is not None:  # a retransmission: the first one went unanswered so far
            self.ctx.out.append(earlier)
        elif len(self.pending) >= _MAX_PENDING:
            self.ctx.out.append(self.pending.pop(next(iter(self.pending))))
        self.pending[key] = exchange

    def response(self, src: str, dst: str, message: bytes, time: float) -> None:
        status = _STATUS_LINE.match(message)
        key = (dst, src, *_transaction(message))
        exchange = self.pending.get(key)
        if exchange is None or status is None:
            return
        exchange = replace(exchange, bytes_down=exchange.bytes_down + len(message),
                           end_time=time)
        if int(status.group(1)) < 200:
            self.pending[key] = exchange  # provisional: the final response follows
            return
        del self.pending[key]
        self.ctx.out.append(replace(exchange, status=int(status.group(1))))

    def flush(self, asked_before: float | None) -> None:
        """Hands out the requests sent before then (all when None) still unanswered."""
        for key in [k for k, e in self.pending.items()
                    if asked_before is None or e.time < asked_before]:
            self.ctx.out.append(self.pending.pop(key))

    def sweep(self, now: float) -> None:
        if self.pending:
            self.flush(now - _TIMEOUT)


class SipHandler:
    """SIP over one TCP connection: requests framed by Content-Length, each handed out
    with the status of the final response that answered it."""

    def __init__(self, ctx: CaptureContext, ends: Endpoints) -> None:
        self.ctx, self.ends = ctx, ends
        self.up, self.down = _SipStream(self, True), _SipStream(self, False)
        # unanswered: (request, time and frame of its first byte, frame of its last, bytes down)
        self.waiting: list[tuple[SipRequest, float, int, int, list[int]]] = []

    def request(self, request: SipRequest, time: float, packet: int, last: int) -> None:
        self.waiting.append((request, time, packet, last, [0]))

    def response(self, status: int, size: int) -> None:
        if not self.waiting:
            return
        request, time, packet, last, down = self.waiting[0]
        down[0] += size
        if status >= 200:
            self.waiting.pop(0)
            self.ctx.out.append(sip_exchange(self.ctx, self.ends, request, time, packet,
                                             status, down[0], last))

    def close(self) -> None:
        self.up.close()
        for request, time, packet, last, down in self.waiting:
            self.ctx.out.append(sip_exchange(self.ctx, self.ends, request, time, packet,
                                             None, down[0], last))
        self.waiting.clear()


class _SipStream(ReadsEverything):
    def __init__(self, handler: SipHandler, upward: bool) -> None:
        self.handler, self.upward = handler, upward
        self.buf = bytearray()
        self.start = (0.0, 0)  # time and packet of buf[0]
        self.last = 0  # the packet of the latest bytes
        self.broken = False

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        if self.broken:
            return
        if not self.buf:
            self.start = (time, packet)
        self.last = packet
        self.buf += chunk
        while self.buf:
            end = _HEAD_END.search(self.buf)
            if end is None:
                if len(self.buf) > _MAX_MESSAGE:
                    self._give_up("a SIP message head over 64 KiB")
                return
            size = end.end() + _content_length(bytes(self.buf[:end.start()]))
            if size > _MAX_MESSAGE:  # read its first 64 KiB, then no more of the stream
                if len(self.buf) >= _MAX_MESSAGE:
                    self._message(bytes(self.buf[:_MAX_MESSAGE]))
                    self._give_up("a SIP message over 64 KiB (its first 64 KiB were read)")
                return
            if len(self.buf) < size:
                return
            self._message(bytes(self.buf[:size]))
            del self.buf[:size]
            self.start = (time, packet)
            while self.buf[:2] in (b"\r\n", b"\n"):  # keep-alive pings (RFC 5626)
                del self.buf[:2 if self.buf[:2] == b"\r\n" else 1]

    def _message(self, message: bytes) -> None:
        if self.upward:
            request = parse_request(message)
            if request is not None:
                self.handler.request(request, *self.start, self.last)
        else:
            status = _STATUS_LINE.match(message)
            if status:
                self.handler.response(int(status.group(1)), len(message))

    def _give_up(self, why: str) -> None:
        self.broken = True
        self.buf.clear()
        self.handler.ctx.info.warn(f"SIP {self.handler.ends.client} -> "
                                   f"{self.handler.ends.server}: {why}; the rest of the "
                                   f"connection was not read")

    def gap(self, missing: int, offset: int) -> None:
        """Bytes lost: a request cut there is handed out as far as it goes."""
        if self.upward and self.buf:
            request = parse_request(bytes(self.buf))
            if request is not None:
                request.notes.append(f"gap: {missing} bytes of the upload missing at stream "
                                     f"offset {offset}; the request is incomplete")
                request.incomplete = True
                self.handler.request(request, *self.start, self.last)
        self.broken = True
        self.buf.clear()

    def close(self) -> None:
        if self.upward and self.buf and not self.broken:
            request = parse_request(bytes(self.buf))
            if request is not None:
                request.notes.append("the connection ended before the request was complete")
                request.incomplete = True
                self.handler.request(request, *self.start, self.last)
            self.buf.clear()

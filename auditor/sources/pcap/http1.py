"""HTTP/1.x over one reassembled connection: requests parsed from the client's stream,
responses matched to them in order (status and size only — response bodies are counted,
never kept), and WebSocket messages after a `101 Switching Protocols`.

Keep-alive, pipelining, absolute-form targets, `Expect: 100-continue`, Content-Length and
chunked bodies are handled; a gap in either stream marks the request it touches and the
parser resynchronises on the next request (or status) line.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from auditor.decode.limits import size_text
from auditor.sources.bodycodec import MAX_BODY
from auditor.sources.pcap.tcp import UNLIMITED

METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT",
           b"TRACE", b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK",
           b"UNLOCK", b"REPORT", b"SEARCH", b"PURGE")
_METHOD_ALT = b"|".join(METHODS)
#: The start of a request line, to tell HTTP by content whatever the port.
_REQUEST_START = re.compile(rb"(?:" + _METHOD_ALT + rb") [^\s]")
_RESYNC_REQUEST = re.compile(rb"(?:^|\n)((?:" + _METHOD_ALT + rb") [^\s]+ HTTP/1\.[01]\r?\n)")
_RESYNC_STATUS = re.compile(rb"(?:^|\n)(HTTP/1\.[01] \d{3})")
_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\s]+) HTTP/(\d\.\d)\s*$")
#: what is left of a request line cut short (by snaplen, by a gap): method and target so far
_CUT_REQUEST_LINE = re.compile(rb"(" + _METHOD_ALT + rb") ([^\s]+)(?: HTTP/(\d\.\d))?")
#: bytes of body fragments kept for a request cut by gaps (what survives a short snaplen)
_MAX_FRAGMENTS = 64 << 10
_NOTED_GAPS = 3  # gaps inside a cut request noted one by one; more are only counted
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_HEADER = re.compile(r"^([^:\n]*):(.*)$", re.MULTILINE)  # a header line: name, value
_MAX_HEAD = 256 << 10  # bytes of a head that are parsed and searched; the rest is skipped
_HEAD_CAP_TEXT = f"{_MAX_HEAD >> 10} KiB"
#: A request line's method and the start of its target, when the line is over the cap.
_LONG_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\s]+)")
#: The framing headers of the part of an over-long head that is skipped.
_FRAMING = re.compile(rb"\n(content-length|transfer-encoding)[ \t]*:[ \t]*([^\r\n]*)",
                      re.IGNORECASE)
_MAX_SKIPPED_LINE = 4096  # a skipped line longer than this cannot be a framing header
_KEEP_TAIL = 256  # bytes kept while searching for a resync point


def looks_like_request(data: bytes) -> bool:
    """Does a client stream begin with an HTTP/1 request line?"""
    return _REQUEST_START.match(data) is not None


@dataclass
class HttpMessage:
    """A request as it was parsed, with what was learnt of its response."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    time: float
    packet: int
    end_time: float
    body: bytearray = field(default_factory=bytearray)
    bytes_up: int = 0
    status: int | None = None
    bytes_down: int = 0
    notes: list[str] = field(default_factory=list)
    complete: bool = False  # the whole request was read
    incomplete: bool = False  # bytes of it are missing from the capture (snaplen, gaps)
    answered: bool = False  # a final response was read (or none will come)
    index: dict[str, str] = field(default_factory=dict)  # see _Head.index
    end_packet: int = 0  # the packet that completed the request (0 until then)
    #: what a cap cut from this request (shown as warnings on the input)
    cut: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        """The first header of that name (any case), or ''."""
        return self.index.get(name.lower(), "")


@dataclass
class WsMessage:
    """One WebSocket message the client sent."""

    payload: bytes
    time: float
    packet: int
    end_time: float
    bytes_up: int
    notes: list[str]
    bytes_down: int = 0  # server bytes since the previous client message (counted only)
    end_packet: int = 0  # the packet that completed the message


class _Head(NamedTuple):
    """A parsed request or response head."""

    first: re.Match | None  # the request or status line, matched
    headers: list[tuple[str, str]]
    index: dict[str, str]  # lower-cased name -> the value of its first header

    def content_length(self) -> int | None:
        value = self.index.get("content-length")
        if value is None:
            return None
        try:
            return max(0, int(value.split(",")[0].strip()))
        except ValueError:
            return None

    def chunked(self) -> bool:
        return "transfer-encoding" in self.index and any(
            n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in self.headers)


def _parse_head(head: bytes, line_re: re.Pattern) -> _Head:
    text = head.decode("latin-1").replace("\r\n", "\n")
    line_end = text.find("\n")
    if line_end < 0:
        return _Head(line_re.match(head), [], {})
    first = line_re.match(head[:head.find(b"\n")])
    if "\n " in text or "\n\t" in text:
        headers = _folded_headers(text[line_end + 1:])
    else:  # the common case, without a loop in Python
        headers = [(name.strip(), value.strip())
                   for name, value in _HEADER.findall(text, line_end + 1)]
    return _Head(first, headers, {name.lower(): value for name, value in reversed(headers)})


def _folded_headers(text: str) -> list[tuple[str, str]]:
    """Header lines, some continued on the next (obsolete line folding)."""
    headers: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return headers


class _BodyReader:
    """Reads one message body (length-delimited, chunked or until close) from a buffer;
    keeps it only when `keep` is set."""

    def __init__(self, length: int | None, chunked: bool, keep: bool) -> None:
        self.remaining = length if length is not None else -1  # -1: until close
        self.chunked = chunked
        self.keep = keep
        self.chunk_left = 0
        self.chunk_state = "size"  # size | data | crlf | trailer
        self.body = bytearray()
        self.overflow = False
        self.broken = False  # chunked framing was unreadable

    def read(self, buf: bytearray, pos: int) -> tuple[int, bool]:
        """Consumes from buf[pos:]; returns (new pos, body finished)."""
        if not self.chunked:
            if self.remaining < 0:
                self._keep(buf, pos, len(buf))
                return len(buf), False
            take = min(self.remaining, len(buf) - pos)
            self._keep(buf, pos, pos + take)
            self.remaining -= take
            return pos + take, self.remaining == 0
        while pos < len(buf):
            if self.chunk_state == "data":
                take = min(self.chunk_left, len(buf) - pos)
                self._keep(buf, pos, pos + take)
                pos += take
                self.chunk_left -= take
                if self.chunk_left:
                    return pos, False
                self.chunk_state = "crlf"
                continue
            end = buf.find(b"\n", pos)
            if end < 0:
                if len(buf) - pos > 4096:
                    self.broken = True
                    return len(buf), True
                return pos, False
            line = bytes(buf[pos:end]).strip()
            pos = end + 1
            if self.chunk_state == "crlf":
                self.chunk_state = "size"
                if line:
                    self.broken = True
                    return pos, True
            elif self.chunk_state == "size":
                size_text = line.split(b";")[0].strip()
                if not _CHUNK_SIZE.fullmatch(size_text):  # int() also takes -5, +5, 5_0
                    self.broken = True
                    return pos, True
                size = int(size_text, 16)
                if size == 0:
                    self.chunk_state = "trailer"
                else:
                    self.chunk_state, self.chunk_left = "data", size
            elif not line:  # the empty line after the trailers
                return pos, True
        return pos, False

    def takes_whole(self, chunk: bytes) -> bool:
        """The fast path of a body's middle: a chunk that lies wholly inside a
        length-delimited body is kept (or counted) without buffering."""
        if self.chunked or len(chunk) >= self.remaining >= 0:
            return False
        if self.keep:
            self._keep(chunk, 0, len(chunk))
        if self.remaining > 0:
            self.remaining -= len(chunk)
        return True

    def countable(self) -> int:
        """How many of the next bytes lie inside a body that is only counted: the rest of
        a length-delimited body but its last byte (whose chunk ends the body through
        `read`), or of a chunk."""
        if self.keep:
            return 0
        if self.chunked:
            return self.chunk_left if self.chunk_state == "data" else 0
        return UNLIMITED if self.remaining < 0 else max(0, self.remaining - 1)

    def count(self, size: int) -> None:
        """`size` countable bytes went by."""
        if self.chunked:
            self.chunk_left -= size
        elif self.remaining > 0:
            self.remaining -= size

    def skip(self, missing: int) -> bool:
        """Bytes lost in a gap; True when framing survives (a known length)."""
        if self.chunked and self.chunk_state == "data" and missing <= self.chunk_left:
            self.chunk_left -= missing
            return True
        if not self.chunked and 0 <= missing <= self.remaining:
            self.remaining -= missing
            return True
        return False

    def _keep(self, buf: bytearray, start: int, end: int) -> None:
        if not self.keep or start == end:
            return
        if len(self.body) + end - start > MAX_BODY:
            self.overflow = True
            end = start + max(0, MAX_BODY - len(self.body))
        self.body += buf[start:end]


class HttpConversation:
    """Both directions of one HTTP/1 connection. `on_request` gets every request once
    it is complete and answered (or the connection ended); `on_websocket` every client
    WebSocket message."""

    def __init__(self, on_request: Callable[[HttpMessage], None],
                 on_websocket: Callable[[HttpMessage, WsMessage], None]) -> None:
        self.on_request = on_request
        self.on_websocket = on_websocket
        self.requests: deque[HttpMessage] = deque()  # sent, not yet emitted
        self.unanswered: deque[HttpMessage] = deque()  # waiting for a final response
        self.up = _ClientStream(self)
        self.down = _ServerStream(self)

    def emit_ready(self) -> None:
        while self.requests and self.requests[0].complete and self.requests[0].answered:
            self.on_request(self.requests.popleft())

    def close(self) -> None:
        self.up.close()
        self.down.close()
        for request in self.requests:
            if not request.complete:
                request.notes.append("the connection ended before the request was complete")
                request.incomplete = True
            self.on_request(request)
        self.requests.clear()
        self.unanswered.clear()


class _ClientStream:
    """The client's side: requests, then WebSocket frames after an accepted upgrade."""

    def __init__(self, conv: HttpConversation) -> None:
        self.conv = conv
        self.buf = bytearray()
        self.mark = (0.0, 0)  # time and packet of the chunk holding buf[0]
        self.now = (0.0, 0)
        # head | long-head | body | upgrade-wait | websocket | resync | opaque
        self.state = "head"
        self.current: HttpMessage | None = None
        self.reader: _BodyReader | None = None
        self.ws: _WebSocketReader | None = None
        self.awaiting: HttpMessage | None = None  # the request that asked to switch protocols
        # a request cut by a gap: what follows, up to the next request line, is kept as
        # fragments of its body (searched as far as the bytes go), then it is finished
        self.fragments: HttpMessage | None = None
        self.fragment_break = False  # the next fragment comes after a gap
        self.fragment_gaps = 0  # gaps seen since the cut, past the first
        self.framing: dict[str, str] = {}  # framing headers found in a skipped head

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        self.now = (time, packet)
        if not self.buf:
            self.mark = self.now
            if self.state == "body" and self.reader.takes_whole(chunk):
                self.current.bytes_up += len(chunk)
                self.current.end_time = time
                return
        self.buf += chunk
        self._run()

    def countable(self) -> int:
        """Only a tunnel's bytes are counted rather than read."""
        return UNLIMITED if self.state == "opaque" and not self.buf and self.conv.requests else 0

    def skipped(self, size: int, time: float, packet: int) -> None:
        self.now = self.mark = (time, packet)
        self.conv.requests[-1].bytes_up += size

    def gap(self, missing: int, offset: int) -> None:
        note = f"gap: {missing} bytes of the upload missing at stream offset {offset}"
        if self.state == "body" and self.current and self.reader and not self.buf \
                and self.reader.skip(missing):
            self.current.notes.append(note)
            self.current.bytes_up += missing
            self.current.incomplete = True
            return
        if self.state == "resync" and self.fragments is not None:
            self._keep_fragment(self.buf)
            self.fragment_gaps += 1
            if self.fragment_gaps <= _NOTED_GAPS:
                self.fragments.notes.append(note)
            self.fragments.bytes_up += missing
            self.fragment_break = True
        elif self.state == "head" and self.buf:
            self._cut_request(note, missing)
        elif self.state == "websocket" and self.ws is not None:
            self.ws.gap(note)
        elif self.current is not None and not self.current.complete:
            request, reader = self.current, self.reader
            request.notes.append(note)
            request.incomplete = True
            request.bytes_up += len(self.buf) + missing
            if reader is not None and self.buf:  # the body's bytes before the gap
                reader.read(self.buf, 0)
            self.buf.clear()
            self.fragments = request  # finished when the next request starts, or at close
            self.fragment_break, self.fragment_gaps = True, 0
            request.body = reader.body if reader else bytearray()
            self.current = self.reader = None
        if self.state not in ("opaque", "websocket"):
            self.state = "resync"
            self.buf.clear()

    def _run(self) -> None:
        pos = 0
        while pos < len(self.buf):
            if self.state == "head":
                end = _HEAD_END.search(self.buf, pos)
                if end is None:
                    if len(self.buf) - pos > _MAX_HEAD:
                        pos = self._long_head(pos)
                        continue
                    break
                pos = self._start_request(pos, end.start(), end.end())
            elif self.state == "long-head":
                pos = self._skip_head(pos)
                if self.state == "long-head":
                    break
            elif self.state == "body":
                assert self.reader is not None and self.current is not None
                start = pos
                pos, done = self.reader.read(self.buf, pos)
                self.current.bytes_up += pos - start
                self.current.end_time = self.now[0]
                if done:
                    self._finish_request()
                elif pos == start:
                    break
            elif self.state == "resync":
                found = _RESYNC_REQUEST.search(self.buf, pos)
                if found is None:
                    keep = max(pos, len(self.buf) - _KEEP_TAIL)
                    if self.fragments is not None:  # all but a tail that may start a request
                        self._keep_fragment(self.buf[pos:keep])
                    pos = keep
                    break
                if self.fragments is not None:
                    self._keep_fragment(self.buf[pos:found.start(1)])
                    self._end_fragments()
                pos = found.start(1)
                self.state = "head"
                self.mark = self.now
            elif self.state == "websocket":
                assert self.ws is not None
                pos = self.ws.read(self.buf, pos, self.now)
                break
            else:  # upgrade-wait keeps the bytes; opaque (a tunnel) only counts them
                if self.state == "opaque" and self.conv.requests:
                    self.conv.requests[-1].bytes_up += len(self.buf) - pos
                    pos = len(self.buf)
                break
        if pos:
            del self.buf[:pos]
            self.mark = self.now

    def _start_request(self, pos: int, head_end: int, body_start: int) -> int:
        head = _parse_head(bytes(self.buf[pos:head_end]), _REQUEST_LINE)
        first = head.first
        if first is None:
            self.state = "resync"
            return pos + 1
        request = HttpMessage(first.group(1).decode("latin-1"), first.group(2).decode("latin-1"),
                              first.group(3).decode(), head.headers, self.mark[0], self.mark[1],
                              self.now[0], bytes_up=body_start - pos, index=head.index)
        self.current = request
        self.conv.requests.append(request)
        self.conv.unanswered.append(request)
        self._open_body(head)
        return body_start

    def _open_body(self, head: _Head) -> None:
        """The body its head frames follows (none: the request is complete)."""
        length, chunked = head.content_length(), head.chunked()
        self.reader = _BodyReader(length or 0, chunked, keep=True)
        self.state = "body"
        self.mark = self.now
        if not chunked and not length:
            self._finish_request()

    def _long_head(self, pos: int) -> int:
        """A request head over the cap: its first `_MAX_HEAD` bytes are parsed and searched
        (with a warning), the rest is skipped up to the end of the head. Always advances."""
        window = bytes(self.buf[pos:pos + _MAX_HEAD])
        lines_end = window.rfind(b"\n")
        if lines_end > 0:
            head = _parse_head(window, _REQUEST_LINE)  # the cut last line too
            first = head.first
            if first is None:
                self.state = "resync"
                return pos + 1
            method, target, version = first.group(1), first.group(2), first.group(3).decode()
            what = (f"request head over {_HEAD_CAP_TEXT}; its first {_HEAD_CAP_TEXT} were "
                    f"searched, the rest of the head was skipped")
            consumed = lines_end  # the newline stays: the skipped part starts at a line
        else:
            line = _LONG_REQUEST_LINE.match(window)
            if line is None:
                self.state = "resync"
                return pos + 1
            method, target, version = line.group(1), line.group(2), "1.1"
            head = _Head(None, [], {})
            what = (f"request line over {_HEAD_CAP_TEXT}; its first {_HEAD_CAP_TEXT} were "
                    f"searched, the rest of the request head was skipped")
            consumed = len(window)
        request = HttpMessage(method.decode("latin-1"), target.decode("latin-1"), version,
                              head.headers, self.mark[0], self.mark[1], self.now[0],
                              bytes_up=consumed, index=head.index, cut=[what])
        request.notes.append(what)
        self.current = request
        self.reader = _BodyReader(0, False, keep=True)  # until the head's end is found
        self.conv.requests.append(request)
        self.conv.unanswered.append(request)
        self.framing = {}
        self.state = "long-head"
        return pos + consumed

    def _skip_head(self, pos: int) -> int:
        """The skipped rest of an over-long head, up to its end; its framing headers
        (Content-Length, Transfer-Encoding) still say where the body ends."""
        request = self.current
        assert request is not None
        end = _HEAD_END.search(self.buf, pos)
        stop = end.start() if end is not None else len(self.buf)
        for found in _FRAMING.finditer(self.buf, pos, stop):
            if end is not None or found.end() < stop:  # a whole line, not one still arriving
                self.framing.setdefault(found.group(1).decode().lower(),
                                        found.group(2).decode("latin-1").strip())
        if end is None:
            line_start = self.buf.rfind(b"\n", pos)
            if line_start < 0 or len(self.buf) - line_start > _MAX_SKIPPED_LINE:
                line_start = len(self.buf) - 1  # inside a long line: keep one byte of it
            keep = max(pos, line_start)
            request.bytes_up += keep - pos
            return keep
        request.bytes_up += end.end() - pos
        request.end_time = self.now[0]
        request.end_packet = self.now[1]
        for name, value in self.framing.items():
            if name not in request.index:
                request.index[name] = value
                request.headers.append((name.title(), value))
        self._open_body(_Head(None, list(self.framing.items()), self.framing))
        return end.end()

    def _cut_request(self, note: str, missing: int) -> None:
        """A request whose head a gap cut: what was captured — the request line, even cut
        short, and the header lines before the gap — is still an upload worth auditing.
        The bytes that follow, up to the next request line, are kept as body fragments."""
        complete_lines = self.buf.rfind(b"\n")
        head = _parse_head(bytes(self.buf[:complete_lines]), _REQUEST_LINE) \
            if complete_lines >= 0 else None
        if head is not None and head.first is not None:
            first, headers, index = head.first, head.headers, head.index
            where = "the request headers are cut there"
        else:
            first = _CUT_REQUEST_LINE.match(self.buf)
            if first is None:
                return
            headers, index = [], {}
            where = "the request line is cut there"
        version = first.group(3).decode() if first.group(3) else ""
        request = HttpMessage(first.group(1).decode("latin-1"), first.group(2).decode("latin-1"),
                              version, headers, self.mark[0], self.mark[1],
                              self.now[0], bytes_up=len(self.buf) + missing,
                              notes=[f"{note}; {where}"], incomplete=True, index=index,
                              end_packet=self.now[1])
        self.conv.requests.append(request)
        self.conv.unanswered.append(request)
        self.fragments = request
        self.fragment_break, self.fragment_gaps = False, 0

    def _keep_fragment(self, data: bytes | bytearray) -> None:
        """Bytes of a cut request's body; those on either side of a gap are kept apart by
        a line break, so that no value is made of bytes that were not side by side."""
        request = self.fragments
        request.bytes_up += len(data)
        room = _MAX_FRAGMENTS - len(request.body)
        if data and room > 0:
            if request.body and self.fragment_break:
                request.body += b"\n"
            request.body += data[:room]
            self.fragment_break = False

    def _end_fragments(self) -> None:
        request, self.fragments = self.fragments, None
        if self.fragment_gaps > _NOTED_GAPS:
            request.notes.append(f"{self.fragment_gaps - _NOTED_GAPS} more gaps in the "
                                 f"upload after these")
        if request.body:
            request.notes.append("body fragments between gaps kept as captured")
        request.complete = True
        self.conv.emit_ready()

    def _finish_request(self) -> None:
        request, reader = self.current, self.reader
        assert request is not None and reader is not None
        request.body = reader.body
        if reader.overflow:
            cap = size_text(MAX_BODY)
            what = f"body over {cap}; only the first {cap} were kept and searched"
            request.notes.append(what)
            request.cut.append(what)
        if reader.broken:
            request.notes.append("chunked body framing is damaged; body kept up to there")
        request.complete = True
        request.end_packet = self.now[1]
        self.current = self.reader = None
        upgrade = request.header("upgrade")
        if upgrade or request.method == "CONNECT":
            self.state = "upgrade-wait"
            self.awaiting = request
        else:
            self.state = "resync" if reader.broken else "head"
        self.conv.emit_ready()

    def answered(self, request: HttpMessage) -> None:
        """The server answered a request that asked to switch protocols."""
        if self.state != "upgrade-wait" or request is not self.awaiting:
            return
        if request.status == 101 and "websocket" in request.header("upgrade").lower():
            self.state = "websocket"
            self.ws = _WebSocketReader(self.conv, request)
            # the upgrade goes out before the messages it opened, in stream order
            request.notes.append("the connection switched to WebSocket; the client's "
                                 "messages follow as their own exchanges")
            request.answered = True
            self.conv.emit_ready()
        elif request.status == 101 or (request.method == "CONNECT" and request.status
                                        and 200 <= request.status < 300):
            self.state = "opaque"
            request.notes.append("the connection switched to a tunnel; its bytes are counted")
        else:
            self.state = "head"
        self._run()

    def close(self) -> None:
        if self.fragments is not None:
            if self.state == "resync":
                self._keep_fragment(self.buf)
            self._end_fragments()
        if self.state == "body" and self.current is not None:
            if self.reader is not None and self.reader.remaining < 0:
                self._finish_request()  # a body that runs until the connection closes
            else:
                request = self.current
                request.body = self.reader.body if self.reader else bytearray()
        if self.ws is not None:
            self.ws.close()


class _ServerStream:
    """The server's side: status lines matched to requests; bodies only counted."""

    def __init__(self, conv: HttpConversation) -> None:
        self.conv = conv
        self.buf = bytearray()
        self.state = "head"  # head | body | resync | opaque
        self.reader: _BodyReader | None = None
        self.request: HttpMessage | None = None
        self.now = 0.0

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        self.now = time
        if self.state == "opaque" or (self.state == "body" and not self.buf
                                      and self.reader.takes_whole(chunk)):
            self._count(len(chunk))
            return
        self.buf += chunk
        pos = 0
        while pos < len(self.buf):
            if self.state == "head":
                end = _HEAD_END.search(self.buf, pos)
                if end is None:
                    if len(self.buf) - pos > _MAX_HEAD:
                        pos = self._long_head(pos)
                        continue
                    break
                pos = self._start_response(pos, end.start(), end.end())
            elif self.state == "body":
                assert self.reader is not None
                start = pos
                pos, done = self.reader.read(self.buf, pos)
                self._count(pos - start)
                if done:
                    self._finish_response()
                elif pos == start:
                    break
            elif self.state == "resync":
                found = _RESYNC_STATUS.search(self.buf, pos)
                if found is None:
                    self._count(len(self.buf) - pos)
                    pos = len(self.buf)
                    break
                self._count(found.start(1) - pos)
                pos = found.start(1)
                self.state = "head"
            else:
                self._count(len(self.buf) - pos)
                pos = len(self.buf)
        del self.buf[:pos]

    def countable(self) -> int:
        """A tunnel, or the middle of a response body: counted, never read."""
        if self.buf:
            return 0
        if self.state == "opaque":
            return UNLIMITED
        return self.reader.countable() if self.state == "body" else 0

    def skipped(self, size: int, time: float, packet: int) -> None:
        self.now = time
        if self.state == "body":
            self.reader.count(size)
        self._count(size)

    def gap(self, missing: int, offset: int) -> None:
        self._count(missing)
        if self.state == "opaque":
            return
        status = _STATUS_LINE.match(self.buf) if self.state == "head" else None
        if status is not None and self.conv.unanswered:
            self.request = self.conv.unanswered.popleft()  # its headers were cut
            self.request.status = int(status.group(1))
            self._count(len(self.buf))
            self._finish_response()
        if self.state == "body" and self.reader is not None and not self.buf \
                and self.reader.skip(missing):
            return
        if self.state == "body":
            self._finish_response()
        self.state = "resync"
        self.buf.clear()

    def _count(self, size: int) -> None:
        ws = self.conv.up.ws
        if self.state == "opaque" and ws is not None:
            ws.down += size  # the upgrade request is out; the next message carries them
            return
        target = self.request or (self.conv.requests[-1] if self.conv.requests else None)
        if target is not None:
            target.bytes_down += size
            target.end_time = max(target.end_time, self.now)

    def _long_head(self, pos: int) -> int:
        """A response head over the cap answers its request; the parser then looks for
        the next status line past its start (responses are only counted)."""
        status = _STATUS_LINE.match(self.buf, pos)
        if status is not None and self.conv.unanswered:
            self.request = self.conv.unanswered.popleft()
            self.request.status = int(status.group(1))
            self._finish_response()
        self._count(1)
        self.state = "resync"
        return pos + 1

    def _start_response(self, pos: int, head_end: int, body_start: int) -> int:
        head = _parse_head(bytes(self.buf[pos:head_end]), _STATUS_LINE)
        first = head.first
        if first is None:
            self.state = "resync"
            return pos + 1
        status = int(first.group(1))
        request = self.conv.unanswered[0] if self.conv.unanswered else None
        if 100 <= status < 200 and status != 101:
            if request is not None:
                request.bytes_down += body_start - pos
            return body_start  # an interim response: the final one follows
        if request is not None:
            self.conv.unanswered.popleft()
            request.status = status
        self.request = request
        self._count(body_start - pos)
        method = request.method if request else ""
        if status == 101 or (method == "CONNECT" and 200 <= status < 300):
            # the rest of the connection is another protocol: its bytes count for this
            # request, which is emitted when the connection closes
            self.state = "opaque"
            if request is not None:
                self.conv.up.answered(request)
            return body_start
        if method == "HEAD" or status in (204, 304):
            self._finish_response()
            return body_start
        length = head.content_length()
        chunked = head.chunked()
        self.reader = _BodyReader(length, chunked, keep=False)
        self.state = "body"
        if length == 0 and not chunked:
            self._finish_response()
        return body_start

    def _finish_response(self) -> None:
        request = self.request
        self.state = "head"
        self.reader = None
        if request is not None:
            request.answered = True
            self.request = None
            self.conv.up.answered(request)
            self.conv.emit_ready()

    def close(self) -> None:
        if self.state == "body" and self.request is not None:
            self.request.answered = True


class _WebSocketReader:
    """Client-to-server WebSocket frames: unmasked, fragments joined, control frames
    skipped; permessage-deflate messages inflated."""

    def __init__(self, conv: HttpConversation, upgrade: HttpMessage) -> None:
        self.conv = conv
        self.upgrade = upgrade
        self.parts = bytearray()
        self.start: tuple[float, int] | None = None
        self.wire = 0
        self.down = 0  # server bytes since the last message
        self.compressed = False
        self.broken = False
        self.notes: list[str] = []
        extensions = upgrade.header("sec-websocket-extensions").lower()
        self.deflate = "permessage-deflate" in extensions
        self.fresh_context = "client_no_context_takeover" in extensions
        self.inflater = zlib.decompressobj(-15)

    def read(self, buf: bytearray, pos: int, now: tuple[float, int]) -> int:
        while not self.broken:
            if len(buf) - pos < 2:
                return pos
            b0, b1 = buf[pos], buf[pos + 1]
            size, head = b1 & 0x7F, 2
            if size == 126:
                if len(buf) - pos < 4:
                    return pos
                size, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif size == 127:
                if len(buf) - pos < 10:
                    return pos
                size, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            masked = b1 & 0x80
            key = bytes(buf[pos + head:pos + head + 4]) if masked else b""
            head += 4 if masked else 0
            if size > MAX_BODY:
                self.gap(f"a WebSocket frame of {size} bytes is over the cap; the rest of "
                         f"the WebSocket was not read")
                return len(buf)
            if len(buf) - pos < head + size:
                return pos
            payload = bytes(buf[pos + head:pos + head + size])
            if masked:
                payload = _unmask(payload, key)
            if self.start is None:
                self.start = now
            self.wire += head + size
            pos += head + size
            opcode = b0 & 0x0F
            if opcode in (1, 2):
                self.compressed = bool(b0 & 0x40) and self.deflate
                self.parts = bytearray(payload)
            elif opcode == 0:
                self.parts += payload
            else:  # control frames (close, ping, pong) carry no upload of interest
                if opcode == 8:
                    self.start, self.wire = None, 0
                continue
            if b0 & 0x80:
                self._message(now)
        return len(buf)

    def _message(self, now: tuple[float, int]) -> None:
        payload = bytes(self.parts)
        if self.compressed:
            if self.fresh_context:
                self.inflater = zlib.decompressobj(-15)
            try:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff", MAX_BODY)
            except zlib.error as e:
                self.notes.append(f"permessage-deflate data could not be inflated ({e}); "
                                  f"payload kept as sent")
        assert self.start is not None
        message = WsMessage(payload, self.start[0], self.start[1], now[0], self.wire,
                            self.notes, self.down, end_packet=now[1])
        self.parts, self.start, self.wire, self.notes, self.down = bytearray(), None, 0, [], 0
        self.conv.on_websocket(self.upgrade, message)

    def gap(self, note: str) -> None:
        """Frame boundaries are lost after a gap: stop reading this WebSocket."""
        self.notes.append(note)
        self.upgrade.notes.append(note + "; the rest of the WebSocket was not read")
        self.broken = True

    def close(self) -> None:
        if self.parts and self.start is not None:
            self.notes.append("the connection ended inside a fragmented message")
            self._message(self.start)


def _unmask(payload: bytes, key: bytes) -> bytes:
    mask = int.from_bytes((key * (len(payload) // 4 + 1))[:len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ mask).to_bytes(len(payload), "big")

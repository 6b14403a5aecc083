"""HTTP/2 requests out of the decrypted bytes of one connection (RFC 9113).

Frames are parsed here; header blocks are decoded with `hpack`, one decoder per direction
because each side keeps its own dynamic table. Every header block of a direction is
decoded in order — PUSH_PROMISE and trailers too — or the tables would drift apart.
What the server sends is read only for each stream's `:status` and byte count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hpack import Decoder
from hpack.exceptions import HPACKError

__all__ = ["CLIENT_PREFACE", "H2Request", "parse_http2"]

CLIENT_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, CONTINUATION = 0x0, 0x1, 0x3, 0x4, 0x5, 0x9
FLAG_END_STREAM, FLAG_END_HEADERS, FLAG_PADDED, FLAG_PRIORITY = 0x1, 0x4, 0x8, 0x20
SETTINGS_HEADER_TABLE_SIZE = 0x1
_FRAME_HEADER = 9
#: hpack refuses header lists above this; phones' telemetry cookies can be large.
_MAX_HEADER_LIST = 1 << 20


@dataclass
class H2Request:
    """One request stream the client opened, and what the server answered on it."""

    stream_id: int
    method: str = ""
    scheme: str = ""
    authority: str = ""
    path: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # no pseudo-headers;
    #                                                    trailers appended after the headers
    body: bytes = b""  # DATA payloads concatenated, padding removed, content-coding kept
    status: int | None = None  # final (non-1xx) :status of the response, when seen
    bytes_down: int = 0  # bytes of the server's frames on this stream, frame headers included
    reset: bool = False  # a RST_STREAM ended the stream
    offset: int = 0  # where the HEADERS frame that opened the stream starts in client_data


@dataclass
class _Frame:
    type: int
    flags: int
    stream_id: int
    payload: bytes
    offset: int  # where the frame starts in its direction's data


def _frames(data: bytes, side: str, warnings: list[str], start: int = 0) -> list[_Frame]:
    """The frames of `data` from `start` on."""
    frames, pos = [], start
    while pos < len(data):
        if len(data) - pos < _FRAME_HEADER:
            warnings.append(f"http2 {side}: the data ends inside a frame header")
            break
        length = int.from_bytes(data[pos:pos + 3], "big")
        end = pos + _FRAME_HEADER + length
        if end > len(data):
            warnings.append(f"http2 {side}: the data ends inside a frame "
                            f"({end - len(data)} of {length} bytes missing)")
            break
        stream_id = int.from_bytes(data[pos + 5:pos + 9], "big") & 0x7FFFFFFF
        frames.append(_Frame(data[pos + 3], data[pos + 4], stream_id,
                             data[pos + _FRAME_HEADER:end], pos))
        pos = end
    return frames


def _unpad(frame: _Frame) -> bytes:
    """The payload without padding (and, for HEADERS, without priority fields)."""
    payload, start = frame.payload, 0
    pad = 0
    if frame.flags & FLAG_PADDED and frame.type in (DATA, HEADERS, PUSH_PROMISE):
        pad, start = payload[0] if payload else 0, 1
    if frame.type == HEADERS and frame.flags & FLAG_PRIORITY:
        start += 5
    if frame.type == PUSH_PROMISE:
        start += 4  # promised stream id
    return payload[start:len(payload) - pad]


def _header_blocks(frames: list[_Frame]) -> list[tuple[_Frame, bytes]]:
    """Each frame that starts a header block, with its block joined from CONTINUATIONs;
    other frames come through as they are, with their unpadded payload."""
    out: list[tuple[_Frame, bytes]] = []
    block: bytearray | None = None
    for frame in frames:
        if block is not None and frame.type == CONTINUATION:
            block += frame.payload
            if frame.flags & FLAG_END_HEADERS:
                block = None
            continue
        payload = _unpad(frame)
        if frame.type in (HEADERS, PUSH_PROMISE) and not frame.flags & FLAG_END_HEADERS:
            block = bytearray(payload)
            out.append((frame, block))
            continue
        block = None
        out.append((frame, payload))
    return out


def _table_size(frames: list[_Frame]) -> int | None:
    """The last SETTINGS_HEADER_TABLE_SIZE a side announced (for the other side's decoder)."""
    size = None
    for frame in frames:
        if frame.type == SETTINGS and frame.stream_id == 0:
            for pos in range(0, len(frame.payload) - 5, 6):
                if int.from_bytes(frame.payload[pos:pos + 2], "big") == \
                        SETTINGS_HEADER_TABLE_SIZE:
                    size = int.from_bytes(frame.payload[pos + 2:pos + 6], "big")
    return size


def _decoder(announced_size: int | None) -> Decoder:
    decoder = Decoder(max_header_list_size=_MAX_HEADER_LIST)
    if announced_size is not None:
        decoder.max_allowed_table_size = announced_size
    return decoder


def _decode(decoder: Decoder, block: bytes) -> list[tuple[str, str]]:
    return [(name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
            for name, value in decoder.decode(bytes(block), raw=True)]


def parse_http2(client_data: bytes, server_data: bytes,
                warnings: list[str] | None = None) -> list[H2Request]:
    """The requests of one HTTP/2 connection, in the order their streams were opened.

    `client_data` starts with the client preface; what cannot be read (cut frames, a
    broken header block) is appended to `warnings` and the rest is still returned.
    """
    warnings = warnings if warnings is not None else []
    start = 0
    if client_data.startswith(CLIENT_PREFACE):
        start = len(CLIENT_PREFACE)
    else:
        warnings.append("http2 client: no connection preface; reading frames from byte 0")
    client_frames = _frames(client_data, "client", warnings, start)
    server_frames = _frames(server_data, "server", warnings)
    requests: dict[int, H2Request] = {}
    _read_client(client_frames, _decoder(_table_size(server_frames)), requests, warnings)
    _read_server(server_frames, _decoder(_table_size(client_frames)), requests, warnings)
    return list(requests.values())


def _read_client(frames: list[_Frame], decoder: Decoder, requests: dict[int, H2Request],
                 warnings: list[str]) -> None:
    bodies: dict[int, bytearray] = {}
    for frame, payload in _header_blocks(frames):
        if frame.type == HEADERS:
            try:
                headers = _decode(decoder, payload)
            except HPACKError as e:
                warnings.append(f"http2 client: stream {frame.stream_id}: bad header block "
                                f"({e}); later requests of this connection are not read")
                break
            request = requests.get(frame.stream_id)
            if request is None:
                request = requests[frame.stream_id] = H2Request(frame.stream_id,
                                                                offset=frame.offset)
                bodies[frame.stream_id] = bytearray()
            _apply_request_headers(request, headers)
        elif frame.type == DATA and frame.stream_id in bodies:
            bodies[frame.stream_id] += payload
        elif frame.type == RST_STREAM and frame.stream_id in requests:
            requests[frame.stream_id].reset = True
    for stream_id, body in bodies.items():
        requests[stream_id].body = bytes(body)


def _apply_request_headers(request: H2Request, headers: list[tuple[str, str]]) -> None:
    pseudo = {"method": "method", "scheme": "scheme", "authority": "authority", "path": "path"}
    for name, value in headers:
        if name.startswith(":"):
            attribute = pseudo.get(name[1:])
            if attribute:
                setattr(request, attribute, value)
        else:
            request.headers.append((name, value))


def _read_server(frames: list[_Frame], decoder: Decoder, requests: dict[int, H2Request],
                 warnings: list[str]) -> None:
    for frame in frames:
        request = requests.get(frame.stream_id)
        if request is not None:
            request.bytes_down += _FRAME_HEADER + len(frame.payload)
            request.reset |= frame.type == RST_STREAM
    for frame, payload in _header_blocks(frames):
        if frame.type not in (HEADERS, PUSH_PROMISE):
            continue
        try:
            headers = _decode(decoder, payload)
        except HPACKError as e:
            warnings.append(f"http2 server: stream {frame.stream_id}: bad header block ({e}); "
                            f"later response statuses of this connection are not read")
            break
        request = requests.get(frame.stream_id)
        if frame.type == HEADERS and request is not None and request.status is None:
            status = dict(headers).get(":status", "")
            if status.isdigit() and not status.startswith("1"):
                request.status = int(status)

"""Protocol Buffers wire format without a schema, and gRPC message framing.

Only the wire format is known, so every value is offered in each reading it could have:
a varint as unsigned, signed and zigzag integer; a fixed64 as integer and double; a fixed32
as integer and float; a length-delimited field as nested message, text or bytes.
"""

from __future__ import annotations

import math
import struct

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_MAX_FIELD_NUMBER = (1 << 29) - 1
_RESERVED = range(19000, 20000)  # field numbers protoc refuses; real messages never have them
# A blob tried as a message on a guess (no content type says so) must look like one a
# program wrote: small field numbers and, unless it is tiny, more than one field or a
# string/message payload. This keeps random bytes (hashes, ciphertext) from parsing by chance.
_GUESSED_MAX_FIELD_NUMBER = 1 << 12
_MAX_FIELDS = 1_000_000

WireField = tuple[int, int, "int | bytes"]  # (field number, wire type, value)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); raises IndexError/ValueError on a bad or cut varint."""
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")


def parse_message(buf: bytes, *, guessed: bool = False) -> list[WireField] | None:
    """The fields of `buf` read as one protobuf message, or None unless it parses cleanly
    to its last byte. `guessed` adds the plausibility checks for blobs tried on a hunch."""
    fields: list[WireField] = []
    pos, end = 0, len(buf)
    max_number = _GUESSED_MAX_FIELD_NUMBER if guessed else _MAX_FIELD_NUMBER
    try:
        while pos < end:
            tag, pos = read_varint(buf, pos)
            number, wire_type = tag >> 3, tag & 7
            if not 0 < number <= max_number or number in _RESERVED:
                return None
            value: int | bytes
            if wire_type == VARINT:
                value, pos = read_varint(buf, pos)
            elif wire_type == LENGTH:
                size, pos = read_varint(buf, pos)
                if pos + size > end:
                    return None
                value = buf[pos:pos + size]
                pos += size
            elif wire_type in (FIXED64, FIXED32):
                width = 8 if wire_type == FIXED64 else 4
                if pos + width > end:
                    return None
                value = buf[pos:pos + width]
                pos += width
            else:  # groups (3, 4) are deprecated; 6 and 7 do not exist
                return None
            fields.append((number, wire_type, value))
            if len(fields) > _MAX_FIELDS:
                return None
    except (IndexError, ValueError):
        return None
    if not fields or (guessed and not _plausible(fields, end)):
        return None
    return fields


def _plausible(fields: list[WireField], size: int) -> bool:
    if size < 2:
        return False
    if len(fields) == 1:
        _number, wire_type, value = fields[0]
        # one lone number or fixed value is what random bytes most often parse as
        return wire_type == LENGTH and len(value) >= 1  # type: ignore[arg-type]
    return True


def packed_varints(buf: bytes) -> list[int] | None:
    """`buf` read as a packed repeated varint field, or None."""
    values, pos = [], 0
    try:
        while pos < len(buf):
            value, pos = read_varint(buf, pos)
            values.append(value)
    except (IndexError, ValueError):
        return None
    return values or None


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def double_text(raw: bytes) -> str | None:
    """An 8-byte little-endian double as its shortest text, when it is a plausible number."""
    (number,) = struct.unpack("<d", raw)
    if number == 0.0 or (math.isfinite(number) and 1e-7 <= abs(number) <= 1e15):
        return repr(number)
    return None


def float_text(raw: bytes) -> str | None:
    """A 4-byte float as the shortest text that reads back to the same float32 bits."""
    (number,) = struct.unpack("<f", raw)
    if not (number == 0.0 or (math.isfinite(number) and 1e-5 <= abs(number) <= 1e9)):
        return None
    for digits in range(6, 10):
        text = f"{number:.{digits}g}"
        if struct.pack("<f", float(text)) == raw:
            return text
    return repr(number)


def grpc_frames(buf: bytes, *, guessed: bool = False) -> list[tuple[bool, bytes]] | None:
    """gRPC length-prefixed messages [(compressed, message)], or None unless `buf` is
    exactly a sequence of them (1 flag byte 0/1, 4-byte big-endian length, message).
    `guessed` (no content type says gRPC) also refuses empty messages, so that a run of
    zero bytes is not taken for millions of empty frames."""
    frames, pos, end = [], 0, len(buf)
    while pos < end:
        if pos + 5 > end or buf[pos] > 1 or len(frames) >= _MAX_FIELDS:
            return None
        size = int.from_bytes(buf[pos + 1:pos + 5], "big")
        if pos + 5 + size > end or (guessed and size == 0):
            return None
        frames.append((buf[pos] == 1, buf[pos + 5:pos + 5 + size]))
        pos += 5 + size
    return frames or None

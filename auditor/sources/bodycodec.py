"""Content-Encoding decoding of request bodies (gzip, deflate, br, zstd) with a size cap
and a decompression-ratio cap, so a decompression bomb costs a warning, not the run."""

from __future__ import annotations

import zlib

import brotli
import zstandard

MAX_BODY = 64 << 20  # bytes of decoded body kept at most
MAX_RATIO = 1000  # decoded/encoded beyond this (past the first MiB) is treated as a bomb
_STEP = 1 << 16


class BodyTooLarge(Exception):
    """Decoding would exceed the size or ratio cap."""


def _limit(encoded_size: int) -> int:
    return min(MAX_BODY, max(1 << 20, encoded_size * MAX_RATIO))


def _zlib_stream(data: bytes, wbits: int) -> bytes:
    decoder = zlib.decompressobj(wbits)
    limit = _limit(len(data))
    out = bytearray()
    pending = data
    while pending:
        out += decoder.decompress(pending, _STEP)
        if len(out) > limit:
            raise BodyTooLarge
        pending = decoder.unconsumed_tail
        if decoder.eof:
            rest = decoder.unused_data
            if wbits & 16 and rest[:2] == b"\x1f\x8b":  # another gzip member follows
                decoder, pending = zlib.decompressobj(wbits), rest
            else:
                break
    out += decoder.flush()
    if len(out) > limit:
        raise BodyTooLarge
    return bytes(out)


def _deflate(data: bytes) -> bytes:
    # "deflate" is zlib-wrapped by the RFC, but many clients send raw deflate
    try:
        return _zlib_stream(data, 15)
    except zlib.error:
        return _zlib_stream(data, -15)


def _brotli(data: bytes) -> bytes:
    decoder = brotli.Decompressor()
    limit = _limit(len(data))
    out = bytearray()
    for start in range(0, len(data), _STEP):
        out += decoder.process(data[start:start + _STEP])
        if len(out) > limit:
            raise BodyTooLarge
    return bytes(out)


def _zstd(data: bytes) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    limit = _limit(len(data))
    out = bytearray()
    while chunk := reader.read(_STEP):
        out += chunk
        if len(out) > limit:
            raise BodyTooLarge
    return bytes(out)


_DECODERS = {
    "gzip": lambda d: _zlib_stream(d, 31), "x-gzip": lambda d: _zlib_stream(d, 31),
    "deflate": _deflate, "br": _brotli, "zstd": _zstd,
}


def decode_body(body: bytes, content_encoding: str) -> tuple[bytes, str]:
    """The body with its Content-Encoding undone, and "" — or the body as sent and a
    reason why it was kept so (unknown coding, damaged data, over a cap)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    out = body
    for coding in reversed(codings):  # the last coding listed was applied last
        if coding == "identity":
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            return body, f"Content-Encoding {coding!r} is not supported; body kept as sent"
        try:
            out = decoder(out)
        except BodyTooLarge:
            return body, (f"{coding} body would decode beyond the cap ({MAX_BODY >> 20} MiB "
                          f"or {MAX_RATIO}x its size); body kept as sent")
        except (zlib.error, brotli.error, zstandard.ZstdError, EOFError) as e:
            return body, f"{coding} body could not be decoded ({e}); body kept as sent"
    return out, ""

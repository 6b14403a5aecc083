"""Content-Encoding decoding of request bodies (gzip, deflate, br, zstd) with a size cap
and a decompression-ratio cap, so a decompression bomb costs a warning, not the run.

This is the one body decoder of every source (captures, HAR, flow files, the live proxy's
conversion). Every coding is streamed (`decompress_capped`): no decoder is ever asked for
more than the cap, so a bomb costs at most the cap in memory, never its full expansion.
"""

from __future__ import annotations

from auditor.decode.compression import decompress_capped

MAX_BODY = 64 << 20  # bytes of decoded body kept at most
MAX_RATIO = 1000  # decoded/encoded beyond this (past the first MiB) is treated as a bomb
OVER_CAP = "would decode beyond the cap"  # in the reason of a body kept as sent for a cap

_KINDS = {"gzip": ("gzip",), "x-gzip": ("gzip",), "deflate": ("zlib", "deflate"),
          "br": ("brotli",), "zstd": ("zstd",)}


def _limit(encoded_size: int) -> int:
    return min(MAX_BODY, max(1 << 20, encoded_size * MAX_RATIO))


def decode_body(body: bytes, content_encoding: str) -> tuple[bytes, str]:
    """The body with its Content-Encoding undone, and "" — or the body as sent and a
    reason why it was kept so (unknown coding, damaged data, over a cap)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    out = body
    for coding in reversed(codings):  # the last coding listed was applied last
        if coding == "identity":
            continue
        kinds = _KINDS.get(coding)
        if kinds is None:
            return body, f"Content-Encoding {coding!r} is not supported; body kept as sent"
        limit = _limit(len(out))
        for kind in kinds:  # "deflate" is zlib-wrapped by the RFC; many send it raw
            decoded, complete, cut = decompress_capped(kind, out, limit)
            if decoded is not None:
                break
        if cut:
            return body, (f"{coding} body {OVER_CAP} ({MAX_BODY >> 20} MiB or {MAX_RATIO}x "
                          f"its size); body kept as sent")
        if decoded is None or (not complete and not decoded):
            return body, f"{coding} body could not be decoded; body kept as sent"
        out = decoded
    return out, ""


def over_cap(problem: str) -> bool:
    """Was a body kept as sent because it would decode beyond a cap (a bomb)?"""
    return OVER_CAP in problem

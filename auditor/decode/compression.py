"""Capped decompression: gzip, zlib, raw deflate, brotli and zstd.

No decompressor is ever asked for more than `Budget.output_cap` bytes, so a bomb costs at
most the cap in memory and time, never its full expansion.
"""

from __future__ import annotations

import io
import zlib

import brotli
import zstandard

from auditor.decode.limits import Budget, size_text

_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "zlib": zlib.MAX_WBITS, "deflate": -zlib.MAX_WBITS}
# brotli 1.1 (the newest mitmproxy 11 allows) has no output limit per call, so input goes in
# small pieces: one 32-byte piece can expand to at most a few 16 MiB meta-blocks.
_BROTLI_PIECE = 32
_ZSTD_MAX_WINDOW = 1 << 27  # refuse frames that ask the decoder for more than 128 MiB of window


#: First bytes `sniff_compression` can say yes to (gzip, zstd, and zlib's CMF byte): a
#: value starting otherwise needs no closer look.
MAGIC_FIRST_BYTES = frozenset({_GZIP_MAGIC[0], _ZSTD_MAGIC[0], *range(0x08, 0x80, 0x10)})


def sniff_compression(data: bytes) -> str | None:
    """The compression a blob's first bytes announce (gzip, zlib, zstd), or None."""
    if data[:3] == _GZIP_MAGIC:
        return "gzip"
    if data[:4] == _ZSTD_MAGIC:
        return "zstd"
    if len(data) >= 6 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 \
            and (data[0] << 8 | data[1]) % 31 == 0 and not data[1] & 0x20:
        return "zlib"
    return None


def decompress(kind: str, data: bytes, budget: Budget, label: str, *,
               complete_only: bool = False) -> bytes | None:
    """`data` decompressed as `kind`, at most the budget's cap of it (with a warning when cut).

    None when the data is not of that kind. `complete_only` (for blobs with no magic bytes,
    tried on a guess) also rejects a stream that does not end cleanly.
    """
    cap = budget.output_cap(len(data))
    if cap <= 0:
        budget.warn(f"{label}: {kind} data not expanded: this exchange already used its "
                    f"{size_text(budget.limits.max_decompressed)} decompression budget")
        return None
    out, complete, cut = decompress_capped(kind, data, cap)
    if out is None or not out or (complete_only and not complete):
        return None
    budget.decompressed += len(out)
    if cut:
        budget.warn(f"{label}: {kind} data expands beyond {size_text(cap)} (the cap is "
                    f"{budget.limits.max_ratio}x its size, at most "
                    f"{size_text(budget.limits.max_decompressed)} per exchange); "
                    f"searched the first {size_text(len(out))}")
    elif not complete:
        budget.warn(f"{label}: {kind} data ends early (damaged or cut off); "
                    f"searched the {size_text(len(out))} that could be read")
    return out


def decompress_capped(kind: str, data: bytes, cap: int) -> tuple[bytes | None, bool, bool]:
    """`data` decompressed as `kind` (gzip, zlib, deflate — raw —, brotli, zstd), streamed so
    that at most about `cap` bytes are ever produced: (output or None when the data is not
    of that kind, the stream ended cleanly, the output was cut at the cap)."""
    if kind == "brotli":
        return _brotli(data, cap)
    if kind == "zstd":
        return _zstd(data, cap)
    return _zlib(data, _WBITS[kind], cap)


def _zlib(data: bytes, wbits: int, cap: int) -> tuple[bytes | None, bool, bool]:
    """(output, stream ended cleanly, output was cut at the cap). Concatenated gzip members
    (what `cat a.gz b.gz` makes, and some loggers send) are read one after another."""
    parts: list[bytes] = []
    size = 0
    while True:
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(data, cap - size)
            if not decoder.unconsumed_tail and not decoder.eof:
                out += decoder.flush()
        except zlib.error:
            return (b"".join(parts), False, False) if parts else (None, False, False)
        parts.append(out)
        size += len(out)
        if decoder.unconsumed_tail:
            return b"".join(parts), False, True
        data = decoder.unused_data
        if not decoder.eof or wbits != _WBITS["gzip"] or not data.startswith(_GZIP_MAGIC):
            return b"".join(parts), decoder.eof, False


def _brotli(data: bytes, cap: int) -> tuple[bytes | None, bool, bool]:
    decoder = brotli.Decompressor()
    parts: list[bytes] = []
    size = 0
    try:
        for start in range(0, len(data), _BROTLI_PIECE):
            piece = decoder.process(data[start:start + _BROTLI_PIECE])
            size += len(piece)
            parts.append(piece)
            if size >= cap:
                return b"".join(parts)[:cap], False, True
        complete = decoder.is_finished()
    except brotli.error:
        return None, False, False
    return b"".join(parts), complete, False


def _zstd(data: bytes, cap: int) -> tuple[bytes | None, bool, bool]:
    decoder = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
    parts: list[bytes] = []
    size = 0
    try:
        with decoder.stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
            while size <= cap:
                piece = reader.read(min(1 << 20, cap + 1 - size))
                if not piece:
                    break
                parts.append(piece)
                size += len(piece)
    except zstandard.ZstdError:
        return (b"".join(parts), False, False) if parts else (None, False, False)
    out = b"".join(parts)
    if size > cap:
        return out[:cap], False, True
    return out, True, False

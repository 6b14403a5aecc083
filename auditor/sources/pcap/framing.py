"""Packet framing of pcap and pcapng files: yields each captured packet with its time and
link type, and hands pcapng Decryption Secrets Blocks to a callback.

scapy's RawPcapReader/RawPcapNgReader were the starting point, but they cut packets at
65535 bytes, report a truncated file only through a log line (indistinguishable from a
clean end), keep interfaces across pcapng sections and swallow corrupt blocks as EOF.
An audit must say where a capture is damaged, so the framing is done here with `struct`.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator

from auditor.model import InputError, InputInfo
from auditor.sources import ProgressCallback, take_stream
from auditor.sources.pcap.pcapdroid import CUSTOM_BLOCK, PcapngApps, comment_uid, uid_map_block

#: (packet number, epoch seconds, link type, buffer, start, end): the captured bytes are
#: buffer[start:end] — not cut out, so that a reader that needs only a few header fields
#: does not copy the packet
Frame = tuple[int, float, int, bytes, int, int]
SecretsCallback = Callable[[int, bytes, str], None]  # (secrets type, data, origin)

_CHUNK = 1 << 20
_MAX_RECORD = 256 << 20  # a packet or block longer than this is corruption, not data
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_SHB = 0x0A0D0D0A
_IDB, _OPB, _SPB, _EPB, _DSB = 1, 2, 3, 6, 10


class _Buffered:
    """A file read in large chunks, with the absolute offset of what was handed out, and
    the SHA-256 of the whole file taken as it goes by (so the file is read only once)."""

    def __init__(self, f, size: int, progress: ProgressCallback | None) -> None:
        self.f = f
        self.size = size
        self.digest = hashlib.sha256()
        self.buf = b""
        self.pos = 0
        self.base = 0  # file offset of buf[0]
        self.progress = progress
        self.reported = 0

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def ensure(self, n: int) -> bool:
        """Makes the next `n` bytes available at buf[pos:]; False at the end of the file."""
        if self.pos + n <= len(self.buf):
            return True
        self._refill(n)
        return len(self.buf) >= n

    def _refill(self, n: int) -> None:
        rest = self.buf[self.pos:]
        self.base += self.pos
        chunk = self.f.read(max(_CHUNK, n - len(rest)))
        self.digest.update(chunk)
        self.buf = rest + chunk
        self.pos = 0
        if self.progress and self.base - self.reported >= _CHUNK:
            self.reported = self.base
            self.progress(self.base, self.size)

    def take(self, n: int) -> bytes:
        """Up to `n` bytes; fewer only at the end of the file."""
        if self.pos + n > len(self.buf):
            self._refill(n)
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def finish_digest(self) -> str:
        """The file's SHA-256, reading what framing left unread (after damage, say)."""
        for chunk in iter(lambda: self.f.read(_CHUNK), b""):
            self.digest.update(chunk)
        return self.digest.hexdigest()


def iter_frames(
    path: str,
    info: InputInfo,
    *,
    on_secrets: SecretsCallback | None = None,
    progress: ProgressCallback | None = None,
    apps: PcapngApps | None = None,
) -> Iterator[Frame]:
    """Every packet of a pcap or pcapng file, in file order. Damage after the first
    packet becomes a warning on `info`; an unreadable start raises InputError. With
    `apps`, PCAPdroid's pcapng app records are read into it (see pcapdroid.py)."""
    try:
        # a pipe already opened and sniffed (`auditor analyze -`), else the file
        f = take_stream(path) or open(path, "rb")  # noqa: SIM115 — closed by `with` below
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    with f:
        reader = _Buffered(f, info.size, progress)
        magic = reader.take(4)
        if magic in _PCAP_MAGICS:
            yield from _pcap_frames(path, info, reader, *_PCAP_MAGICS[magic])
        elif magic == b"\x0a\x0d\x0d\x0a":
            yield from _pcapng_frames(path, info, reader, on_secrets, apps)
        else:
            raise InputError(f"{path}: not a pcap or pcapng file (first bytes {magic.hex(' ')})")
        info.sha256 = reader.finish_digest()
        if progress:
            progress(info.size, info.size)


def _pcap_frames(path: str, info: InputInfo, r: _Buffered, endian: str,
                 unit: float) -> Iterator[Frame]:
    header = r.take(20)
    if len(header) < 20:
        raise InputError(f"{path}: the pcap file header is cut short ({4 + len(header)} of 24 "
                         f"bytes); the file is truncated")
    linktype = struct.unpack(endian + "HHiIII", header)[5] & 0x0FFFFFFF
    unpack_record = struct.Struct(endian + "III4x").unpack_from  # the wire length is unused
    number = 0
    buf, pos = r.buf, r.pos  # local copies of the reader's state, written back to refill
    while True:
        if pos + 16 > len(buf):
            r.pos = pos
            if not r.ensure(16):
                if len(r.buf) > r.pos:
                    info.warn(f"{path}: packet {number + 1}: truncated mid-packet (record "
                              f"header cut at offset {r.offset}); the rest of the file was "
                              f"skipped")
                return
            buf, pos = r.buf, r.pos
        number += 1
        sec, frac, caplen = unpack_record(buf, pos)
        if caplen > _MAX_RECORD:
            r.pos = pos
            _fatal_or_warn(path, info, number, f"impossible packet length {caplen} at offset "
                           f"{r.offset}; the file is corrupt")
            return
        end = pos + 16 + caplen
        if end > len(buf):
            r.pos = pos
            if not r.ensure(16 + caplen):
                info.warn(f"{path}: packet {number}: truncated mid-packet "
                          f"({len(r.buf) - r.pos - 16} of {caplen} bytes); the rest of the "
                          f"file was skipped")
                return
            buf, pos = r.buf, r.pos
            end = pos + 16 + caplen
        yield number, sec + frac * unit, linktype, buf, pos + 16, end
        pos = end


def _fatal_or_warn(path: str, info: InputInfo, number: int, what: str) -> None:
    """Corruption before the first packet means nothing is readable: stop the run."""
    if number <= 1 and info.packets == 0:
        raise InputError(f"{path}: packet {number}: {what}; re-export the capture")
    info.warn(f"{path}: packet {number}: {what}; the rest of the file was skipped")


class _Section:
    """What a pcapng section header fixes for the blocks that follow it."""

    def __init__(self, endian: str) -> None:
        self.endian = endian
        self.interfaces: list[tuple[int, float]] = []  # (link type, seconds per tick)


def _pcapng_frames(path: str, info: InputInfo, r: _Buffered,
                   on_secrets: SecretsCallback | None,
                   apps: PcapngApps | None = None) -> Iterator[Frame]:
    section: _Section | None = None
    number = 0
    block_type = _SHB  # the magic already read
    while True:
        start = r.offset - 4
        head = r.take(4)
        if len(head) < 4:
            _truncated_block(path, info, number, start)
            return
        if block_type == _SHB:
            order = r.take(4)
            endian = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(order)
            if endian is None:
                _fatal_or_warn(path, info, number + 1, f"bad section header byte-order magic "
                               f"at offset {start}")
                return
            section = _Section(endian)
            length = struct.unpack(endian + "I", head)[0]
            body_len = length - 12 - 4
            if length < 28 or length % 4 or length > _MAX_RECORD:
                _fatal_or_warn(path, info, number + 1, f"corrupt section header block at "
                               f"offset {start} (length {length})")
                return
        else:
            assert section is not None
            length = struct.unpack(section.endian + "I", head)[0]
            body_len = length - 12
            if length < 12 or length % 4 or length > _MAX_RECORD:
                _fatal_or_warn(path, info, number + 1, f"corrupt pcapng block at offset "
                               f"{start} (type {block_type:#x}, length {length})")
                return
        body = r.take(body_len)
        trailer = r.take(4)
        if len(body) < body_len or len(trailer) < 4:
            _truncated_block(path, info, number + 1, start)
            return
        if struct.unpack(section.endian + "I", trailer)[0] != length:
            _fatal_or_warn(path, info, number + 1, f"corrupt pcapng block at offset {start} "
                           f"(type {block_type:#x}: trailing length does not match)")
            return
        if block_type == _EPB or block_type == _OPB:
            number += 1
            frame = _packet_block(section, block_type, body, number)
            if frame is None:
                info.warn(f"{path}: packet {number}: malformed packet block at offset {start} "
                          f"(unknown interface or bad length); skipped")
            else:
                if apps is not None:
                    apps.packet_uid = _comment_uid(section.endian, body, frame[5])
                yield frame
        elif block_type == _SPB:
            number += 1
            if apps is not None:
                apps.packet_uid = None
            if section.interfaces and len(body) >= 4:
                yield number, 0.0, section.interfaces[0][0], body, 4, len(body)
        elif block_type == _IDB:
            section.interfaces.append(_interface(section.endian, body))
        elif (block_type & 0xBFFFFFFF) == CUSTOM_BLOCK and apps is not None:
            try:
                mapping = uid_map_block(body, section.endian)
            except ValueError as e:
                info.warn(f"{path}: custom block at offset {start}: {e}; skipped (the "
                          f"packets of its app are listed with their uid only)")
            else:
                if mapping is not None:
                    apps.learn(*mapping)
        elif block_type == _DSB and on_secrets is not None and len(body) >= 8:
            kind, size = struct.unpack(section.endian + "II", body[:8])
            on_secrets(kind, body[8:8 + size], f"{path}: secrets block at offset {start}")
        raw_type = r.take(4)
        if not raw_type:
            return
        if len(raw_type) < 4:
            _truncated_block(path, info, number + 1, r.offset - len(raw_type))
            return
        block_type = _SHB if raw_type == b"\x0a\x0d\x0d\x0a" else struct.unpack(
            section.endian + "I", raw_type)[0]


def _truncated_block(path: str, info: InputInfo, number: int, offset: int) -> None:
    if number <= 1 and info.packets == 0 and offset == 0:
        raise InputError(f"{path}: the pcapng section header is cut short; the file is "
                         f"truncated")
    info.warn(f"{path}: packet {number}: truncated mid-packet (block at offset {offset} "
              f"is cut short); the rest of the file was skipped")


def _interface(endian: str, body: bytes) -> tuple[int, float]:
    """(link type, seconds per timestamp tick) of an Interface Description Block."""
    if len(body) < 8:
        return (-1, 1e-6)
    linktype = struct.unpack(endian + "H", body[:2])[0]
    tick = 1e-6
    pos = 8
    while pos + 4 <= len(body):
        code, size = struct.unpack(endian + "HH", body[pos:pos + 4])
        if code == 0:
            break
        if code == 9 and size >= 1:  # if_tsresol: power of 10, or of 2 with the high bit
            value = body[pos + 4]
            tick = 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value
        pos += 4 + size + (-size % 4)
    return (linktype, tick)


def _comment_uid(endian: str, body: bytes, data_end: int) -> int | None:
    """The uid in a packet block's `u-<uid>` comment option (PCAPdroid), else None."""
    pos = data_end + (-data_end % 4)
    while pos + 4 <= len(body):
        code, size = struct.unpack_from(endian + "HH", body, pos)
        if code == 0:
            return None
        if code == 1:
            return comment_uid(body[pos + 4:pos + 4 + size])
        pos += 4 + size + (-size % 4)
    return None


def _packet_block(section: _Section, block_type: int, body: bytes,
                  number: int) -> Frame | None:
    if len(body) < 20:
        return None
    if block_type == _EPB:
        iface, high, low, caplen = struct.unpack(section.endian + "IIII", body[:16])
    else:  # obsolete Packet Block: 16-bit interface id and drop count
        iface, _drops, high, low, caplen = struct.unpack(section.endian + "HHIII", body[:16])
    if iface >= len(section.interfaces) or 20 + caplen > len(body):
        return None
    linktype, tick = section.interfaces[iface]
    return number, ((high << 32) | low) * tick, linktype, body, 20, 20 + caplen

"""The app behind each packet, as PCAPdroid records it in its pcap and pcapng exports.

Read from PCAPdroid's own sources (github.com/emanuele-f/PCAPdroid, commit c735049, 2026-08):

pcap (`app/src/main/jni/core/pcap_dump.c`, `dump_packet_pcap`; `pcap_dump.h`,
`pcapdroid_trailer_t`): with "PCAPdroid extensions" on, the file's link type is Ethernet;
each IP packet gets a bogus Ethernet header (both MACs zero), then the IP packet, then 0-3
zero bytes so that header + packet is a multiple of 4, then a 32-byte trailer:

    offset  size  field
    0       4     magic 0x01072021, big-endian (htonl)
    4       4     uid, signed, big-endian (htonl)
    8       20    app name, NUL-padded (strncpy of at most 19 bytes)
    28      4     fcs: PCAPdroid's crc32 over the frame before it, host byte order

The trailer is the last 32 bytes of the captured packet; `tools/pcapdroid.lua`
(`dissect_pcap_trailer`) finds it there and checks only the magic — so does this reader.
When the trailer would exceed the snaplen PCAPdroid leaves it out: such packets carry no app.

pcapng (`dump_packet_pcapng`, `dump_pcapng_uid_mapping`, `make_custom_block`): packets are
Enhanced Packet Blocks whose comment option (code 1) is `u-<uid>`, and the first packet of a
uid is preceded by a Custom Block (type 0x00000BAD) of Private Enterprise Number 62652:

    pen u32 | version u16 (1) | type u8 (1 = UID map) | pad u8 |
    uid i32 | package name length u8 | app name length u8 | package name | app name

in the section's byte order (`pcapdroid.lua` tells it from the version field).
"""

from __future__ import annotations

import struct

from auditor.model import App

TRAILER_MAGIC = b"\x01\x07\x20\x21"  # PCAPDROID_TRAILER_MAGIC in network order
TRAILER_SIZE = 32  # sizeof(pcapdroid_trailer_t)
PCAPDROID_PEN = 62652
CUSTOM_BLOCK = 0x00000BAD  # "custom block that may be copied"
_UID_MAP = 1  # PCAPDROID_BLOCK_UID_MAP
_ETHERNET_HEADER = 14
_MIN_IP_HEADER = 20


def trailer_app(buf: bytes, start: int, end: int) -> App | None:
    """The app in the PCAPdroid trailer of the packet buf[start:end], or None."""
    at = end - TRAILER_SIZE
    if at < start + _ETHERNET_HEADER + _MIN_IP_HEADER or not buf.startswith(TRAILER_MAGIC, at):
        return None
    # the magic alone could be payload: the IP packet must end where PCAPdroid's padding
    # to a multiple of 4 and the trailer begin
    ethertype = struct.unpack_from("!H", buf, start + 12)[0]
    if ethertype == 0x0800:
        ip_length = struct.unpack_from("!H", buf, start + 16)[0]
    elif ethertype == 0x86DD:
        ip_length = 40 + struct.unpack_from("!H", buf, start + 18)[0]
    else:
        return None
    framed = _ETHERNET_HEADER + ip_length
    if start + framed + (-framed % 4) != at:
        return None
    uid = struct.unpack_from("!i", buf, at + 4)[0]
    name = bytes(buf[at + 8:at + 28]).split(b"\0", 1)[0].decode("utf-8", "replace")
    return App(uid=uid, name=name, source="PCAPdroid pcap trailer")


def uid_map_block(body: bytes, endian: str) -> tuple[int, str, str] | None:
    """(uid, package, app name) of a PCAPdroid UID-map custom block (body after the block
    type and length), or None for another vendor's custom block. Raises ValueError for a
    PCAPdroid block this reader cannot read (another version or type, cut short)."""
    if len(body) < 4 or struct.unpack_from(endian + "I", body, 0)[0] != PCAPDROID_PEN:
        return None
    if len(body) < 14:
        raise ValueError("a PCAPdroid block cut short")
    _, version, kind = struct.unpack_from(endian + "IHB", body, 0)
    if version != 1 or kind != _UID_MAP:
        raise ValueError(f"PCAPdroid block version {version}, type {kind} is not known "
                         f"(version 1, type 1 = UID map is)")
    uid, package_len, name_len = struct.unpack_from(endian + "iBB", body, 8)
    if 14 + package_len + name_len > len(body):
        raise ValueError("a PCAPdroid UID-map block whose names run past its end")
    package = body[14:14 + package_len].decode("utf-8", "replace")
    name = body[14 + package_len:14 + package_len + name_len].decode("utf-8", "replace")
    return uid, package, name


def comment_uid(comment: bytes) -> int | None:
    """The uid of an Enhanced Packet Block comment `u-<uid>`, else None."""
    if not comment.startswith(b"u-"):
        return None
    try:
        return int(comment[2:].rstrip(b"\0"))
    except ValueError:
        return None


class PcapngApps:
    """What the pcapng framing learns: uid → app from the UID-map blocks, and the uid of the
    packet being read from its comment."""

    def __init__(self) -> None:
        self.by_uid: dict[int, App] = {}
        self.packet_uid: int | None = None

    def learn(self, uid: int, package: str, name: str) -> None:
        self.by_uid[uid] = App(uid=uid, package=package, name=name,
                               source="PCAPdroid pcapng UID map")

    def current(self) -> App | None:
        """The app of the packet just framed (its uid alone when no map block named it)."""
        uid = self.packet_uid
        if uid is None:
            return None
        return self.by_uid.get(uid) or App(uid=uid, source="PCAPdroid pcapng packet comment")

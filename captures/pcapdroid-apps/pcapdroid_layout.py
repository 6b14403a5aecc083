"""Rewrite a tcpdump capture into PCAPdroid's export layout, with the app of each packet.

PCAPdroid itself runs only on Android (it captures through Android's VpnService), so the
traffic of this case is real loopback traffic recorded by tcpdump, and this script adds
what PCAPdroid adds, byte for byte as its sources write it (github.com/emanuele-f/PCAPdroid,
`app/src/main/jni/core/pcap_dump.c` and `pcap_dump.h`, read at commit c735049):

- pcap with "PCAPdroid extensions" (`dump_packet_pcap`): link type Ethernet; each IP packet
  behind a bogus Ethernet header with both MACs zero and the type of its IP version, then
  zero bytes up to a multiple of 4, then the 32-byte `pcapdroid_trailer_t`: magic
  0x01072021 and uid (both big-endian, htonl), the app name NUL-padded in 20 bytes (at most
  19 of them), and an FCS. PCAPdroid's FCS is its own `crc32()` (crc32.c, little-endian
  host order); its dissector `tools/pcapdroid.lua` does not check it and neither does the
  auditor — here it is zlib's CRC-32, so a checker would see it differ.
- pcapng (`get_pcapng_preamble`, `dump_pcapng_uid_mapping`, `dump_packet_pcapng`): a
  Section Header Block, an Interface Description Block of link type RAW (101); before the
  first packet of each uid a Custom Block (type 0xBAD, PEN 62652, version 1, type 1 = UID
  map: uid, package name length, app name length, package name, app name); each packet an
  Enhanced Packet Block with the comment option `u-<uid>` (VPN mode: no flags option).

Which app sent a packet is given by the case (by server address; DNS by the queried name),
since there is no Android to ask.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from scapy.layers.dns import DNS
from scapy.layers.inet import IP
from scapy.utils import RawPcapReader

MAGIC = 0x01072021
PEN = 62652


def _pad4(n: int) -> int:
    return -n % 4


def _apps_of(packets, apps_by_ip: dict[str, tuple[int, str, str]],
             apps_by_name: dict[str, tuple[int, str, str]]):
    """(ip packet bytes, seconds, microseconds, app) for every IP packet of the capture."""
    for data, meta in packets:
        ip = data[14:]  # tcpdump -i lo: an Ethernet header of zeros
        packet = IP(ip)
        app = apps_by_ip.get(packet.dst) or apps_by_ip.get(packet.src)
        if app is None and DNS in packet and packet[DNS].qd is not None:
            name = packet[DNS].qd.qname.decode().rstrip(".")
            app = apps_by_name.get(name)
        yield ip, meta.sec, meta.usec, app


def write_pcap(src: Path, out: Path, apps_by_ip, apps_by_name) -> None:
    with RawPcapReader(str(src)) as reader, open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ip, sec, usec, app in _apps_of(reader, apps_by_ip, apps_by_name):
            uid, _package, name = app if app else (-1, "", "")
            frame = bytes(12) + (b"\x08\x00" if ip[0] >> 4 == 4 else b"\x86\xdd") + ip
            frame += bytes(_pad4(len(frame)))
            trailer = struct.pack("!Ii20s", MAGIC, uid, name.encode()[:19])
            frame += trailer
            frame += struct.pack("<I", zlib.crc32(frame))
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


def _block(block_type: int, body: bytes) -> bytes:
    body += bytes(_pad4(len(body)))
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(_pad4(len(value)))


def write_pcapng(src: Path, out: Path, apps_by_ip, apps_by_name) -> None:
    with RawPcapReader(str(src)) as reader, open(out, "wb") as f:
        shb_options = (_option(2, b"loopback (tcpdump)") + _option(3, b"Linux")
                       + _option(4, b"handset-auditor fixture in PCAPdroid layout")
                       + struct.pack("<HH", 0, 0))
        f.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_options))
        f.write(_block(1, struct.pack("<HHI", 101, 0, 65535)))
        mapped: set[int] = set()
        for ip, sec, usec, app in _apps_of(reader, apps_by_ip, apps_by_name):
            uid, package, name = app if app else (-1, "", "")
            if uid not in mapped:
                mapped.add(uid)
                f.write(_block(0xBAD, struct.pack("<IHBBiBB", PEN, 1, 1, 0, uid, len(package),
                                                  len(name)) + package.encode() + name.encode()))
            when = sec * 1_000_000 + usec
            body = struct.pack("<IIIII", 0, when >> 32, when & 0xFFFFFFFF, len(ip), len(ip))
            body += ip + bytes(_pad4(len(ip)))
            body += _option(1, f"u-{uid}".encode()) + struct.pack("<HH", 0, 0)
            f.write(_block(6, body))

"""Test helper: the reassembled TCP payload of each direction of each connection in a
small fixture capture, read with scapy (fine for tests; the product has its own reader)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.inet import TCP
from scapy.utils import rdpcap

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tls"


@dataclass
class Connection:
    client: tuple[str, int]
    server: tuple[str, int]
    client_stream: bytes = b""
    server_stream: bytes = b""
    _segments: dict[bool, dict[int, bytes]] = field(default_factory=lambda: {True: {}, False: {}})
    _isn: dict[bool, int] = field(default_factory=dict)


def connections(name: str) -> list[Connection]:
    """Every TCP connection of fixtures/tls/<name>, in the order its SYN was seen."""
    found: dict[frozenset, Connection] = {}
    for packet in rdpcap(str(FIXTURES / name)):
        if TCP not in packet:
            continue
        ip, tcp = packet[TCP].underlayer, packet[TCP]
        src, dst = (ip.src, tcp.sport), (ip.dst, tcp.dport)
        key = frozenset((src, dst))
        if tcp.flags.S and not tcp.flags.A:
            found[key] = Connection(client=src, server=dst)
        conn = found.get(key)
        if conn is None:
            continue
        from_client = src == conn.client
        if tcp.flags.S:
            conn._isn[from_client] = tcp.seq + 1
        payload = bytes(tcp.payload)
        if payload:
            conn._segments[from_client][(tcp.seq - conn._isn[from_client]) % 2**32] = payload
    for conn in found.values():
        conn.client_stream = _join(conn._segments[True])
        conn.server_stream = _join(conn._segments[False])
    return list(found.values())


def _join(segments: dict[int, bytes]) -> bytes:
    out = bytearray()
    for offset in sorted(segments):
        data = segments[offset]
        if offset + len(data) > len(out):
            out += data[len(out) - offset:]
    return bytes(out)

"""DNS messages: the name a query asks for, and the addresses an answer gives for it."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

_A, _CNAME, _AAAA = 1, 5, 28
_MAX_POINTERS = 32


@dataclass
class DnsMessage:
    id: int
    is_response: bool
    qname: str
    qtype: int
    addresses: list[str] = field(default_factory=list)  # A/AAAA answers, any CNAME hop


def _name(data: bytes, pos: int) -> tuple[str, int]:
    """A possibly compressed domain name at `pos`; returns it and the position after it."""
    labels: list[str] = []
    after = -1  # where the name ends in the message, once a pointer was followed
    jumps = 0
    while True:
        size = data[pos]
        if size == 0:
            return ".".join(labels), (after if after >= 0 else pos + 1)
        if size & 0xC0 == 0xC0:
            jumps += 1
            if jumps > _MAX_POINTERS:
                raise ValueError("DNS name compression loop")
            if after < 0:
                after = pos + 2
            pos = ((size & 0x3F) << 8) | data[pos + 1]
            continue
        if size & 0xC0:
            raise ValueError("reserved DNS label type")
        labels.append(data[pos + 1:pos + 1 + size].decode("ascii", "backslashreplace"))
        pos += 1 + size


def parse_dns(data: bytes) -> DnsMessage | None:
    """The question and A/AAAA answers of a DNS message; None when it is not one."""
    try:
        ident, flags, qdcount, ancount = struct.unpack_from("!HHHH", data, 0)
        if qdcount < 1 or flags & 0x7800:  # standard queries only (opcode 0)
            return None
        qname, pos = _name(data, 12)
        qtype = struct.unpack_from("!H", data, pos)[0]
        pos += 4
        for _ in range(qdcount - 1):
            pos = _name(data, pos)[1] + 4
        message = DnsMessage(ident, bool(flags & 0x8000), qname, qtype)
        for _ in range(ancount):
            pos = _name(data, pos)[1]
            rtype, _cls, _ttl, size = struct.unpack_from("!HHIH", data, pos)
            pos += 10
            rdata = data[pos:pos + size]
            pos += size
            if rtype == _A and size == 4:
                message.addresses.append(socket.inet_ntop(socket.AF_INET, rdata))
            elif rtype == _AAAA and size == 16:
                message.addresses.append(socket.inet_ntop(socket.AF_INET6, rdata))
        return message
    except (struct.error, IndexError, ValueError, UnicodeError):
        return None

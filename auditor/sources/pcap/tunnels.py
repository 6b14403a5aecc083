"""Tunnels between the link layer and the IP packet the phone sent: what mobile cores, lab
networks and mirrored ports wrap it in. Each function takes the bytes at one layer and
says where the inner packet starts and what the tunnel is called, or None when the bytes
are not (or not wholly) that tunnel — the caller then treats them as it would have before.

  Ethernet types  PPPoE session (0x8864), MPLS (0x8847, 0x8848), VLAN tags around them
  IP protocols    IP-in-IP (4), IPv6 in IP / 6in4 (41), GRE (47): IP, Ethernet bridging
                  (0x6558) and ERSPAN type I/II (0x88BE) and III (0x22EB)
  UDP ports       GTP-U (2152, G-PDUs with any extension headers), VXLAN (4789)

`packets.parse_ip` calls these and parses what is inside as it parses an outer packet, at
most `MAX_DEPTH` tunnels deep. Names read `GTP-U TEID 0x1a2b 192.0.2.1 -> 192.0.2.2`; a
tunnel in a tunnel reads outermost first, joined by ` / `.
"""

from __future__ import annotations

import socket
import struct

MAX_DEPTH = 4
IP_PROTOCOLS = frozenset({4, 41, 47})  # IP-in-IP, IPv6-in-IP, GRE
GTP_U_PORT, VXLAN_PORT = 2152, 4789
UDP_PORTS = frozenset({GTP_U_PORT, VXLAN_PORT})

_IPV4_TYPE, _IPV6_TYPE = 0x0800, 0x86DD
_VLAN_TYPES = frozenset({0x8100, 0x88A8, 0x9100})
_PPPOE_SESSION, _MPLS_TYPES = 0x8864, frozenset({0x8847, 0x8848})
_BRIDGED, _ERSPAN_1_2, _ERSPAN_3 = 0x6558, 0x88BE, 0x22EB
_PPP_IP = {0x0021: 4, 0x0057: 6}  # PPP protocol numbers of IPv4 and IPv6
_u16 = struct.Struct("!H").unpack_from
_u32 = struct.Struct("!I").unpack_from

#: (the bytes holding the inner packet, where its IP header starts, the tunnel's name)
Inner = tuple[bytes, int, str]


def _ip_text(addr: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)


def _between(src: bytes, dst: bytes) -> str:
    return f"{_ip_text(src)} -> {_ip_text(dst)}"


def ethernet_ip(data: bytes, off: int) -> tuple[int, str]:
    """(offset of the IP header, tunnel name or '') in an Ethernet frame starting at `off`
    — through VLAN tags, PPPoE sessions and MPLS label stacks; offset -1 when not IP."""
    if len(data) < off + 14:
        return -1, ""
    ethertype, pos = _u16(data, off + 12)[0], off + 14
    while ethertype in _VLAN_TYPES and len(data) >= pos + 4:
        ethertype, pos = _u16(data, pos + 2)[0], pos + 4
    return link_ip(ethertype, data, pos)


def link_ip(ethertype: int, data: bytes, pos: int) -> tuple[int, str]:
    """Like `ethernet_ip`, from an Ethernet type and the offset of what it announces."""
    if ethertype in (_IPV4_TYPE, _IPV6_TYPE):
        return pos, ""
    if ethertype == _PPPOE_SESSION:  # version/type, code, session id, length, PPP protocol
        if len(data) < pos + 8 or data[pos] != 0x11 or data[pos + 1] != 0:
            return -1, ""
        version = _PPP_IP.get(_u16(data, pos + 6)[0])
        if version is None:
            return -1, ""
        return pos + 8, f"PPPoE session {_u16(data, pos + 2)[0]:#06x}"
    if ethertype in _MPLS_TYPES:
        labels = []
        while len(data) >= pos + 4:
            entry = _u32(data, pos)[0]
            labels.append(str(entry >> 12))
            pos += 4
            if entry & 0x100:  # bottom of stack
                if len(data) > pos and data[pos] >> 4 in (4, 6):
                    return pos, f"MPLS label {'/'.join(labels)}"
                return -1, ""  # a pseudowire or other payload
        return -1, ""
    return -1, ""


def ip_inner(proto: int, payload: bytes, src: bytes, dst: bytes) -> Inner | None:
    """The packet inside an IP payload of protocol 4, 41 or 47."""
    if proto == 4 or proto == 41:
        if not payload or payload[0] >> 4 != (4 if proto == 4 else 6):
            return None
        kind = "IP-in-IP" if proto == 4 and len(src) == 4 else (
            "6in4" if len(src) == 4 else "IP-in-IPv6")
        return payload, 0, f"{kind} {_between(src, dst)}"
    return _gre(payload, src, dst)


def _gre(payload: bytes, src: bytes, dst: bytes) -> Inner | None:
    if len(payload) < 4:
        return None
    flags, proto = _u16(payload, 0)[0], _u16(payload, 2)[0]
    if flags & 0x0007:  # version 1 is PPTP's enhanced GRE
        return None
    pos = 4 + (4 if flags & 0xC000 else 0) + (4 if flags & 0x2000 else 0)
    pos += 4 if flags & 0x1000 else 0
    key = f" key {_u32(payload, 8 if flags & 0xC000 else 4)[0]}" \
        if flags & 0x2000 and len(payload) >= pos else ""
    name = f"GRE{key} {_between(src, dst)}"
    if proto in (_IPV4_TYPE, _IPV6_TYPE):
        return (payload, pos, name) if len(payload) > pos else None
    if proto == _ERSPAN_1_2:
        if flags & 0x1000:  # type II has a sequence number and an 8-byte header
            if len(payload) < pos + 8:
                return None
            session = _u16(payload, pos + 2)[0] & 0x03FF
            name, pos = f"ERSPAN II session {session} {_between(src, dst)}", pos + 8
        else:
            name = f"ERSPAN I {_between(src, dst)}"
    elif proto == _ERSPAN_3:
        if len(payload) < pos + 12:
            return None
        session = _u16(payload, pos + 2)[0] & 0x03FF
        optional = payload[pos + 11] & 0x01  # a platform-specific subheader follows
        name, pos = f"ERSPAN III session {session} {_between(src, dst)}", \
            pos + 12 + (8 if optional else 0)
    elif proto != _BRIDGED:
        return None
    off, inner = ethernet_ip(payload, pos)
    if off < 0:
        return None
    return payload, off, f"{name} / {inner}" if inner else name


#: what `udp_inner` gives for a tunnel datagram without an IP packet inside (an ARP frame
#: in VXLAN, a GTP-U echo request): nothing to read, and no UDP conversation either
NOT_IP: Inner = (b"", -1, "")


def udp_inner(sport: int, dport: int, payload: bytes, src: bytes, dst: bytes) -> Inner | None:
    """The packet inside a GTP-U G-PDU or a VXLAN datagram; `NOT_IP` when it is one of
    these tunnels but carries no IP packet; None when it is neither."""
    if GTP_U_PORT in (sport, dport):
        return _gtp_u(payload, src, dst)
    if dport == VXLAN_PORT and len(payload) >= 8 + 14 and payload[0] & 0x08:
        off, inner = ethernet_ip(payload, 8)
        if off < 0:
            return NOT_IP
        name = f"VXLAN VNI {int.from_bytes(payload[4:7], 'big')} {_between(src, dst)}"
        return payload, off, f"{name} / {inner}" if inner else name
    return None


def _gtp_u(payload: bytes, src: bytes, dst: bytes) -> Inner | None:
    """A G-PDU (message type 255) of GTP version 1: the user's own IP packet."""
    if len(payload) < 8 or payload[0] >> 5 != 1 or not payload[0] & 0x10:
        return None
    if payload[1] != 255:
        return NOT_IP  # echo, error indication, end marker
    flags, pos = payload[0], 8
    if flags & 0x07:  # sequence number, N-PDU number, next extension header type
        if len(payload) < 12:
            return None
        next_type, pos = payload[11], 12
        while next_type:  # extension headers: length in 4-byte units, ..., next type
            if len(payload) <= pos or not payload[pos]:
                return None
            pos += payload[pos] * 4
            if len(payload) < pos:
                return None
            next_type = payload[pos - 1]
    if len(payload) <= pos or payload[pos] >> 4 not in (4, 6):
        return NOT_IP
    return payload, pos, f"GTP-U TEID {_u32(payload, 4)[0]:#x} {_between(src, dst)}"

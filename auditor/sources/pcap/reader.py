"""pcap/pcapng captures to `Exchange`s, streaming: packets are framed (capfile), parsed
(netparse), reassembled per connection and direction (tcpstream) and handed to the
protocol found by content (apps). Memory grows with open connections, not file size.

Most packets of a capture are bare ACKs or carry bytes that are only counted (response
bodies, TLS records without keys). For those — Ethernet, IPv4 without options or
fragments, TCP in order on a known connection — the packet loop reads the headers with
one `struct` call and updates counters in place, without a Python object per packet;
every other packet takes the general path below, which has the same effect.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import replace

from auditor.model import App, Exchange, InputInfo
from auditor.sources.pcap.dns import parse_dns
from auditor.sources.pcap.framing import iter_frames
from auditor.sources.pcap.http1 import looks_like_request
from auditor.sources.pcap.packets import (
    ACK,
    FIN,
    RST,
    SYN,
    TCP,
    Defragmenter,
    Segment,
    format_endpoint,
    format_ip,
    link_ip,
    parse_ip,
)
from auditor.sources.pcap.pcapdroid import PcapngApps, trailer_app
from auditor.sources.pcap.protocols import (
    RAW_BODY_LIMIT,
    CaptureContext,
    DnsTcpHandler,
    Endpoints,
    HttpHandler,
    RawHandler,
    TlsHandler,
    dns_answered,
    dns_exchange,
)
from auditor.sources.pcap.sip import (
    SipDatagrams,
    SipHandler,
    looks_like_sip,
    parse_request,
    sip_exchange,
)
from auditor.sources.pcap.tcp import ReadsEverything, Reassembler
from auditor.sources.pcap.tls.hello import (
    QuicInitialReader,
    is_quic_initial,
    looks_like_client_hello,
    looks_like_server_hello,
)

_TLS_KEYLOG_SECRETS = 0x544C534B
_SNIFF_BYTES = 11  # enough client bytes to tell a request line or a ClientHello
_IDLE_UDP = 120.0  # seconds of capture time after which a UDP flow is over
_IDLE_TCP = 900.0
_SWEEP_EVERY = 8192  # packets
_DNS_WAIT = 5.0  # seconds of capture time a DNS query waits for its answer
_ETHERNET = 1
_FAST_MIN = 14 + 20 + 20  # Ethernet, IPv4 and TCP headers without options
# Ethernet type; IPv4 version+IHL, total length, fragment field, protocol; TCP ports,
# sequence number, data offset, flags
_eth_ipv4_tcp = struct.Struct("!12xHBxH2xHxB10xHHI4xBB").unpack_from
_ports = struct.Struct("!HH").pack


def read_pcap(
    path: str,
    info: InputInfo,
    *,
    keylogs: list[str],
    progress: Callable[[int, int], None] | None,
) -> Iterator[Exchange]:
    """Every exchange in a pcap or pcapng file, as soon as it is complete."""
    return _CaptureReader(path, info, keylogs).run(progress)


def flow_key(src: bytes, sport: int, dst: bytes, dport: int) -> bytes:
    """What a packet's connection is found by: its addresses and ports as they stand in
    an IPv4 packet (source, destination, source port, destination port)."""
    return src + dst + _ports(sport, dport)


class _Half:
    """One direction of a TCP connection, as the packet loop finds it by its flow key."""

    __slots__ = ("conn", "ends", "stream", "upward")

    def __init__(self, conn: _TcpConnection, upward: bool) -> None:
        self.conn, self.ends, self.upward = conn, conn.ends, upward
        self.stream: Reassembler | None = None  # from the direction's first segment


class _TcpConnection:
    """Both directions of one TCP connection, until its protocol is known and after."""

    def __init__(self, ctx: CaptureContext, ends: Endpoints, client_key: tuple,
                 server_key: tuple) -> None:
        self.ctx = ctx
        self.ends = ends
        self.client_key = client_key  # (address bytes, port) of the client
        self.server_key = server_key
        self.up_key = flow_key(*client_key, *server_key)  # of the client's packets
        self.down_key = flow_key(*server_key, *client_key)
        self.halves = (_Half(self, True), _Half(self, False))
        self.up: Reassembler | None = None
        self.down: Reassembler | None = None
        self.handler: HttpHandler | TlsHandler | RawHandler | DnsTcpHandler | SipHandler | \
            None = None
        self.sniffed: list[tuple[bool, bytes, float, int]] = []  # before the protocol is known
        self.sniffed_up = 0
        self.fins = 0

    def segment(self, seg: Segment, upward: bool, time: float, packet: int) -> bool:
        """Feeds one segment the client (`upward`) or the server sent; True when the
        connection is over."""
        ends = self.ends
        ends.last_time = time
        up, down = self.up, self.down
        if (up is not None and up.skipped) or (down is not None and down.skipped):
            self.flush()  # the sinks hear of counted bytes in capture order
        stream = up if upward else down
        flags = seg.flags
        if stream is None:
            first = (seg.seq + 1) & 0xFFFFFFFF if flags & SYN else seg.seq
            handler = self.handler
            sink = _Sink(self, upward) if handler is None else (
                handler.up if upward else handler.down)
            stream = Reassembler(sink, first)
            self.halves[0 if upward else 1].stream = stream
            if upward:
                self.up = stream
            else:
                self.down = stream
        if seg.payload or seg.missing:
            size = len(seg.payload) + seg.missing
            if upward:
                ends.bytes_up += size
                ends.up_packet = packet
            else:
                ends.bytes_down += size
            seq = (seg.seq + 1) & 0xFFFFFFFF if flags & SYN else seg.seq
            stream.add(seq, seg.payload, time, packet, seg.missing)
        if flags & FIN:
            stream.fin((seg.seq + len(seg.payload) + seg.missing + (1 if flags & SYN else 0))
                       & 0xFFFFFFFF)
            self.fins |= 1 if upward else 2
        return bool(flags & RST) or self.fins == 3

    def flush(self) -> None:
        """Hands both directions' counted bytes to their sinks."""
        up, down = self.up, self.down
        if up is not None and up.skipped:
            up.flush()
        if down is not None and down.skipped:
            down.flush()

    def sniff(self, upward: bool, chunk: bytes, time: float, packet: int) -> None:
        """Holds the first bytes until the protocol can be told from them."""
        self.sniffed.append((upward, chunk, time, packet))
        if upward:
            self.sniffed_up += len(chunk)
        if self.sniffed_up >= _SNIFF_BYTES or not upward:
            self.choose_handler()

    def choose_handler(self) -> None:
        head = b"".join(c for up, c, _, _ in self.sniffed if up)[:_SNIFF_BYTES]
        ctx, ends = self.ctx, self.ends
        if ends.server.endswith(":53"):
            self.handler = DnsTcpHandler(ctx, ends)
        elif looks_like_sip(head):  # before HTTP: `OPTIONS sip:...` is not HTTP's OPTIONS
            self.handler = SipHandler(ctx, ends)
        elif looks_like_request(head):
            self.handler = HttpHandler(ctx, ends)
        elif looks_like_client_hello(head):
            self.handler = TlsHandler(ctx, ends)
        else:
            self.handler = RawHandler(ctx, ends)
        for stream, sink in ((self.up, self.handler.up), (self.down, self.handler.down)):
            if stream is not None:
                stream.sink = sink  # from now on, bytes go straight to the handler
        sniffed, self.sniffed = self.sniffed, []
        for upward, chunk, time, packet in sniffed:
            sink = self.handler.up if upward else self.handler.down
            sink.data(chunk, time, packet)

    def close(self) -> None:
        self.flush()
        for stream in (self.up, self.down):
            if stream is not None:
                stream.close()
        if self.handler is None:
            if not self.sniffed:
                return
            self.choose_handler()
        self.handler.close()
        self._report_gaps()

    def _report_gaps(self) -> None:
        ends = self.ends
        for stream, src, dst, what in ((self.up, ends.client, ends.server, "request"),
                                       (self.down, ends.server, ends.client, "response")):
            if stream is None or not stream.gaps:
                continue
            offset, missing = stream.gaps[0]
            if len(stream.gaps) == 1:
                text = f"{missing} bytes missing at seq offset {offset}"
            else:
                total = sum(m for _, m in stream.gaps)
                text = (f"{len(stream.gaps)} gaps, {total} bytes missing, the first at seq "
                        f"offset {offset}")
            self.ctx.info.warn(f"TCP {src} -> {dst}: {text} (lost or cut by snaplen); the "
                               f"{what} there is incomplete")


class _Sink(ReadsEverything):
    """Where one direction's reassembled bytes go: held while the protocol is unknown,
    then straight to the handler."""

    __slots__ = ("conn", "upward")

    def __init__(self, conn: _TcpConnection, upward: bool) -> None:
        self.conn, self.upward = conn, upward

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        handler = self.conn.handler
        if handler is None:
            self.conn.sniff(self.upward, chunk, time, packet)
        else:
            (handler.up if self.upward else handler.down).data(chunk, time, packet)

    def gap(self, missing: int, offset: int) -> None:
        if self.conn.handler is None:
            self.conn.choose_handler()
        handler = self.conn.handler
        (handler.up if self.upward else handler.down).gap(missing, offset)


class _UdpFlow:
    """A UDP conversation other than DNS: QUIC (listed with its SNI) or unknown."""

    def __init__(self, ctx: CaptureContext, ends: Endpoints, client_key: tuple,
                 server_key: tuple, quic: bool) -> None:
        self.ctx, self.ends = ctx, ends
        self.client_key, self.server_key = client_key, server_key
        self.quic = QuicInitialReader() if quic else None
        self.body = bytearray()
        self.datagrams = [0, 0]
        self.cut = 0  # datagrams up the capture's snaplen cut

    def datagram(self, seg: Segment, time: float, packet: int = 0) -> None:
        ends = self.ends
        ends.last_time = time
        size = len(seg.payload) + seg.missing
        if (seg.src, seg.sport) == self.client_key:
            ends.bytes_up += size
            ends.up_packet = packet
            self.datagrams[0] += 1
            if self.quic is not None and seg.missing:
                self.quic.error = "a QUIC Initial packet was cut by the capture's snaplen"
            elif self.quic is not None:
                self.quic.add(seg.payload)
            elif len(self.body) < RAW_BODY_LIMIT:
                self.body += seg.payload[:RAW_BODY_LIMIT - len(self.body)]
                if seg.missing:  # what follows was not beside what was captured
                    self.cut += 1
                    self.body += b"\n"
        else:
            ends.bytes_down += size
            self.datagrams[1] += 1

    def close(self) -> None:
        e, ctx = self.ends, self.ctx
        notes = [f"{self.datagrams[0]} datagrams up, {self.datagrams[1]} down"]
        host = ctx.name_of(e.server_ip)
        if self.quic is not None:
            hello = self.quic.hello
            if hello is not None and hello.sni:
                host = hello.sni
            elif self.quic.error:
                notes.append(self.quic.error)
            else:
                notes.append("no complete ClientHello in the QUIC Initial packets")
            alpn = ",".join(hello.alpn) if hello else ""
            ctx.out.append(Exchange(
                id=0, time=e.time, client=e.client, server=e.server, host=host,
                transport="quic", readable=False, source=f"{ctx.path}#pkt {e.packet}",
                bytes_up=e.bytes_up, bytes_down=e.bytes_down, server_ip=e.server_ip,
                alpn=alpn, end_time=e.last_time, notes=tuple(notes), frames=e.frames))
            return
        if e.bytes_up > RAW_BODY_LIMIT:
            notes.append(f"only the first {RAW_BODY_LIMIT >> 10} KiB of the upload are kept")
        if self.cut:
            notes.append(f"{self.cut} datagrams up were cut by the capture's snaplen")
        ctx.out.append(Exchange(
            id=0, time=e.time, client=e.client, server=e.server, host=host, transport="udp",
            body=bytes(self.body), source=f"{ctx.path}#pkt {e.packet}", bytes_up=e.bytes_up,
            bytes_down=e.bytes_down, server_ip=e.server_ip, end_time=e.last_time,
            notes=tuple(notes), incomplete=bool(self.cut), frames=e.frames))


class _CaptureReader:
    def __init__(self, path: str, info: InputInfo, keylogs: list[str]) -> None:
        self.ctx = CaptureContext(path, info)
        self.info = info
        self.defrag = Defragmenter()
        self.tcp: dict[tuple, _TcpConnection] = {}
        self.udp: dict[tuple, _UdpFlow] = {}
        self.cut_packets = 0
        self.first_cut = 0
        # unanswered DNS queries, oldest first, by (client, server, DNS id)
        self.dns_pending: dict[tuple[str, str, int], Exchange] = {}
        self.keylog_warned = 0  # how many of the key log's warnings are on the input
        # the app of each flow, (client, server) → App, when the capture records it
        # (PCAPdroid); looked up from the packet that opens the flow
        self.flow_apps: dict[tuple[str, str], App] = {}
        self.pcapng_apps = PcapngApps()
        self.frame: tuple[int, bytes, int, int] = (0, b"", 0, 0)  # (link type, buf, start, end)
        self.tunnels: dict[tuple[str, str], str] = {}  # (ip:port, ip:port) -> tunnel name
        self.sip = SipDatagrams(self.ctx)  # SIP requests over UDP awaiting their answer
        if keylogs:
            self._use_keylog(keylogs)

    def _use_keylog(self, paths: list[str]) -> bool:
        try:
            from auditor.sources.pcap.tls.decrypt import KeyLog
        except ImportError:
            if not self.ctx.missing_decryptor:
                self.ctx.missing_decryptor = True
                self.info.warn(f"{self.ctx.path}: TLS decryption is not available in this "
                               f"installation; TLS connections are listed unread")
            return False
        if self.ctx.keylog is None:
            self.ctx.keylog = KeyLog.from_files(paths)
            self._keylog_warnings()
        return True

    def _keylog_warnings(self) -> None:
        """Bad key log lines, each once, on this input."""
        new = self.ctx.keylog.warnings[self.keylog_warned:]
        self.keylog_warned += len(new)
        for warning in new:
            self.info.warn(f"key log {warning}")

    def _secrets(self, kind: int, data: bytes, origin: str) -> None:
        if kind != _TLS_KEYLOG_SECRETS:
            self.info.warn(f"{origin}: secrets of type {kind:#x} are not supported; ignored")
        elif self._use_keylog([]):
            self.ctx.keylog.add_text(data.decode("utf-8", "replace"), origin)
            self._keylog_warnings()

    def run(self, progress: Callable[[int, int], None] | None) -> Iterator[Exchange]:
        info, out, defrag, tcp = self.info, self.ctx.out, self.defrag, self.tcp
        first_time = None
        time = 0.0
        packet = 0
        for packet, time, linktype, buf, start, end in iter_frames(
                self.ctx.path, info, on_secrets=self._secrets, progress=progress,
                apps=self.pcapng_apps):
            if first_time is None:
                first_time = info.first_time = time
            seg = None
            if linktype == _ETHERNET and end - start >= _FAST_MIN:
                # the fast path: see the module docstring; any doubt goes the general way
                (ethertype, vhl, total, frag, proto, sport, dport, seq, tcp_off,
                 flags) = _eth_ipv4_tcp(buf, start)
                head = 34 + ((tcp_off >> 2) & 0x3C)  # Ethernet, IPv4 and TCP headers
                stop = start + 14 + total
                if (ethertype == 0x0800 and vhl == 0x45 and proto == TCP and tcp_off >= 0x50
                        and not frag & 0x3FFF and start + head <= stop <= end):
                    key = buf[start + 26:start + 38]
                    half = tcp.get(key) if not flags & 7 else None  # no FIN, SYN or RST
                    if half is not None and half.stream is not None:
                        stream = half.stream
                        size = stop - start - head
                        if size == 0:  # a bare ACK
                            half.ends.last_time = time
                            if packet % _SWEEP_EVERY == 0:
                                self._sweep(time)
                            continue
                        if seq == stream.next_seq and size <= stream.skip:
                            stream.skip -= size
                            stream.skipped += size
                            stream.next_seq = (seq + size) & 0xFFFFFFFF
                            stream.skip_time, stream.skip_packet = time, packet
                            ends = half.ends
                            ends.last_time = time
                            if half.upward:
                                ends.bytes_up += size
                                ends.up_packet = packet
                            else:
                                ends.bytes_down += size
                            if packet % _SWEEP_EVERY == 0:
                                self._sweep(time)
                            continue
                    seg = Segment(TCP, buf[start + 26:start + 30], sport, buf[start + 30:start + 34],
                                  dport, buf[start + head:stop], flags, seq, 0)
                    self.frame = (linktype, buf, start, end)
                    self._tcp(seg, time, packet, key)
            if seg is None:
                data = buf[start:end]
                offset, tunnel = link_ip(linktype, data)
                seg = parse_ip(data, offset, defrag, tunnel) if offset >= 0 else None
                if seg is not None:
                    self.frame = (linktype, buf, start, end)
                    if seg.tunnel:
                        self._tunnelled(seg)
                    if seg.missing:
                        self.cut_packets += 1
                        self.first_cut = self.first_cut or packet
                    if seg.proto == TCP:
                        self._tcp(seg, time, packet,
                                  flow_key(seg.src, seg.sport, seg.dst, seg.dport))
                    else:
                        self._udp(seg, time, packet)
            if packet % _SWEEP_EVERY == 0:
                self._sweep(time)
            if out:
                info.packets = packet
                info.exchanges += len(out)
                if self.flow_apps:
                    self._tag_apps()
                yield from self._named(out)
                out.clear()
        info.packets = packet
        info.last_time = time if first_time is not None else None
        for flow in [h.conn for h in tcp.values()] + list(self.udp.values()):
            self._close(flow)
        tcp.clear()
        self.udp.clear()
        self._flush_dns(None)
        self.sip.flush(None)
        self._final_warnings()
        info.exchanges += len(out)
        if self.flow_apps:
            self._tag_apps()
        yield from self._named(out)
        out.clear()

    def _tunnelled(self, seg: Segment) -> None:
        """Remembers which tunnel a conversation came through, by its two inner endpoints
        (either way round), for the exchanges made of it."""
        a, b = format_endpoint(seg.src, seg.sport), format_endpoint(seg.dst, seg.dport)
        if (a, b) not in self.tunnels:
            self.tunnels[(a, b)] = self.tunnels[(b, a)] = seg.tunnel

    def _named(self, out: list[Exchange]) -> list[Exchange]:
        """The exchanges, each naming the tunnel it came through (when any did)."""
        if not self.tunnels:
            return out
        tunnels = self.tunnels
        return [replace(e, tunnel=tunnels[(e.client, e.server)])
                if (e.client, e.server) in tunnels else e for e in out]

    def _final_warnings(self) -> None:
        path, info = self.ctx.path, self.info
        if self.cut_packets:
            info.warn(f"{path}: {self.cut_packets} packets were cut short by the capture's "
                      f"snaplen (the first is packet {self.first_cut}); their missing bytes "
                      f"are reported as gaps")
        if self.defrag.incomplete:
            info.warn(f"{path}: {self.defrag.incomplete} fragmented IP packets never got "
                      f"all their fragments; they were skipped")

    def _tcp(self, seg: Segment, time: float, packet: int, key: bytes) -> None:
        half = self.tcp.get(key)
        conn = half.conn if half is not None else None
        if conn is None:
            conn = self._open_tcp(seg, time, packet)
            if conn is None:
                return
        elif seg.flags & SYN and not seg.flags & ACK and conn.up is not None \
                and (seg.src, seg.sport) == conn.client_key and conn.ends.bytes_up:
            # the client port was reused for a new connection
            self._close(conn)
            if self.flow_apps:
                self._tag_apps()  # the old connection's exchanges keep its app
            conn = self._open_tcp(seg, time, packet)
            if conn is None:
                return
        if conn.segment(seg, key == conn.up_key, time, packet):
            self._close(conn)

    def _open_tcp(self, seg: Segment, time: float, packet: int) -> _TcpConnection | None:
        flags = seg.flags
        if flags & SYN:
            client_is_sender = not flags & ACK
        elif not seg.payload or flags & RST:
            return None  # nothing to learn from a bare ACK/FIN of an unknown connection
        elif looks_like_request(seg.payload) or looks_like_client_hello(seg.payload) or \
                looks_like_sip(seg.payload) and not seg.payload.startswith(b"SIP/2.0 "):
            client_is_sender = True
        elif seg.payload.startswith((b"HTTP/1.", b"SIP/2.0 ")) or \
                looks_like_server_hello(seg.payload):
            client_is_sender = False
        else:
            client_is_sender = seg.sport >= seg.dport  # the lower port is the server's
        ends, client, server = _oriented(seg, client_is_sender, time, packet)
        self._note_app(ends)
        conn = _TcpConnection(self.ctx, ends, client, server)
        self.tcp[conn.up_key], self.tcp[conn.down_key] = conn.halves
        return conn

    def _udp(self, seg: Segment, time: float, packet: int) -> None:
        if seg.sport == 53 or seg.dport == 53:
            self._dns(seg, time, packet)
            return
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        flow = self.udp.get(key)
        if flow is None and looks_like_sip(seg.payload):
            self._sip_datagram(seg, time, packet)
            return
        if flow is None:
            quic = is_quic_initial(seg.payload)
            client_is_sender = quic or not (seg.sport < 1024 <= seg.dport)
            ends, client, server = _oriented(seg, client_is_sender, time, packet)
            self._note_app(ends)
            flow = _UdpFlow(self.ctx, ends, client, server, quic)
            self.udp[key] = self.udp[(seg.dst, seg.dport, seg.src, seg.sport)] = flow
        flow.datagram(seg, time, packet)

    def _sip_datagram(self, seg: Segment, time: float, packet: int) -> None:
        """A SIP message over UDP: a request waits for its final response (sip.py)."""
        if seg.payload.startswith(b"SIP/2.0 "):
            self.sip.response(format_endpoint(seg.src, seg.sport),
                              format_endpoint(seg.dst, seg.dport), seg.payload, time)
            return
        request = parse_request(seg.payload)
        if request is None:
            return
        if seg.missing:
            request.notes.append(f"{seg.missing} bytes of the datagram were cut by the "
                                 f"capture's snaplen; the request is incomplete")
            request.incomplete = True
        request.size += seg.missing
        ends, _, _ = _oriented(seg, True, time, packet)
        self.sip.request(sip_exchange(self.ctx, ends, request, time, packet), seg.payload)

    def _dns(self, seg: Segment, time: float, packet: int) -> None:
        message = parse_dns(seg.payload)
        if message is None:
            return
        self._flush_dns(time - _DNS_WAIT)
        src, dst = format_endpoint(seg.src, seg.sport), format_endpoint(seg.dst, seg.dport)
        if message.is_response:
            self.ctx.learn(message)
            query = self.dns_pending.pop((dst, src, message.id), None)
            if query is not None:
                self.ctx.out.append(dns_answered(query, seg.payload, len(seg.payload), time))
            return
        key = (src, dst, message.id)
        earlier = self.dns_pending.pop(key, None)
        if earlier is not None:  # the same query again: the first one went unanswered
            self.ctx.out.append(earlier)
        ends = Endpoints(src, dst, format_ip(seg.dst), time, packet, time)
        self._note_app(ends)
        self.dns_pending[key] = dns_exchange(self.ctx, ends, message, len(seg.payload), time,
                                             packet)

    def _note_app(self, ends: Endpoints) -> None:
        """Remember the app of a new flow from the packet that opens it, when the capture
        records one (PCAPdroid's pcap trailer or pcapng packet comment); else forget any
        app an earlier flow between the same ends had."""
        linktype, buf, start, end = self.frame
        app = (trailer_app(buf, start, end) if linktype == _ETHERNET else None) \
            or self.pcapng_apps.current()
        key = (ends.client, ends.server)
        if app is not None:
            self.flow_apps[key] = app
        elif self.flow_apps:
            self.flow_apps.pop(key, None)

    def _tag_apps(self) -> None:
        """Give the exchanges waiting in `out` the app of their flow."""
        out, apps = self.ctx.out, self.flow_apps
        for index, exchange in enumerate(out):
            app = apps.get((exchange.client, exchange.server))
            if app is not None and exchange.app is None:
                out[index] = replace(exchange, app=app)

    def _flush_dns(self, asked_before: float | None) -> None:
        """Hand out the queries asked before then (all when None) that got no answer."""
        pending = self.dns_pending
        while pending:
            key = next(iter(pending))
            if asked_before is not None and pending[key].time >= asked_before:
                return
            self.ctx.out.append(pending.pop(key))

    def _close(self, flow: _TcpConnection | _UdpFlow) -> None:
        if isinstance(flow, _TcpConnection):
            table, key, back, entry = self.tcp, flow.up_key, flow.down_key, flow.halves[0]
        else:
            table, entry = self.udp, flow
            key, back = (*flow.client_key, *flow.server_key), (*flow.server_key, *flow.client_key)
        if table.get(key) is not entry:
            return  # already closed
        del table[key]
        table.pop(back, None)
        flow.close()

    def _sweep(self, now: float) -> None:
        self._flush_dns(now - _DNS_WAIT)
        self.sip.sweep(now)
        stale = {id(h.conn): h.conn for h in self.tcp.values()
                 if now - h.ends.last_time > _IDLE_TCP}
        stale.update({id(f): f for f in self.udp.values() if now - f.ends.last_time > _IDLE_UDP})
        for flow in stale.values():
            self._close(flow)


def _oriented(seg: Segment, client_is_sender: bool, time: float,
              packet: int) -> tuple[Endpoints, tuple[bytes, int], tuple[bytes, int]]:
    """The endpoints of a new connection or flow, phone side first, from its first segment."""
    sender, receiver = (seg.src, seg.sport), (seg.dst, seg.dport)
    client, server = (sender, receiver) if client_is_sender else (receiver, sender)
    ends = Endpoints(format_endpoint(*client), format_endpoint(*server), format_ip(server[0]),
                     time, packet, time)
    return ends, client, server

"""Unit tests of the reader's parts: TCP reassembly, HTTP/1 parsing, body decoding, DNS,
TLS/QUIC metadata, IP defragmentation."""

from __future__ import annotations

import gzip
import struct
import zlib

import pytest
from pcap_helpers import FIXTURES

from auditor.sources import bodycodec
from auditor.sources.pcap.dns import parse_dns
from auditor.sources.pcap.http1 import HttpConversation
from auditor.sources.pcap.packets import Defragmenter
from auditor.sources.pcap.tcp import Reassembler
from auditor.sources.pcap.tls.hello import QuicInitialReader, count_records


class Sink:
    """Records what a stream hands it; `budget` bytes after each event are countable."""

    def __init__(self, budget: int = 0) -> None:
        self.events: list = []
        self.budget = budget

    def data(self, chunk: bytes, time: float, packet: int) -> None:
        self.events.append(chunk)

    def gap(self, missing: int, offset: int) -> None:
        self.events.append(("gap", missing, offset))

    def countable(self) -> int:
        return self.budget

    def skipped(self, size: int, time: float, packet: int) -> None:
        self.events.append(("skipped", size, packet))


def stream(first_seq: int = 1000) -> tuple[Reassembler, Sink]:
    sink = Sink()
    return Reassembler(sink, first_seq), sink


def test_countable_bytes_in_order_are_reported_together_before_anything_else() -> None:
    sink = Sink(budget=10)
    r = Reassembler(sink, 1000)
    r.add(1000, b"head", 0, 1)  # read: the budget starts after it
    r.add(1004, b"aaaa", 0, 2)
    r.add(1008, b"bbbb", 0, 3)
    r.add(1012, b"cccc", 0, 4)  # over what is left of the budget: read
    r.add(1020, b"late", 0, 6)  # out of order: first the counted bytes, then it waits
    r.add(1016, b"dddd", 0, 5)
    r.close()
    assert sink.events == [b"head", ("skipped", 8, 3), b"cccc", b"dddd", b"late"]
    assert r.offset == 24 and r.gaps == []


def test_out_of_order_duplicates_and_overlaps_come_out_in_order() -> None:
    r, sink = stream()
    r.add(1010, b"KLMNOPQRST", 0, 2)  # early
    r.add(1000, b"ABCDEFGHIJ", 0, 1)
    r.add(1000, b"ABCDEFGHIJ", 0, 3)  # retransmission
    r.add(1015, b"PQRSTUVWXY", 0, 4)  # overlaps the end
    r.close()
    assert b"".join(e for e in sink.events if isinstance(e, bytes)) == b"ABCDEFGHIJKLMNOPQRSTUVWXY"
    assert r.gaps == []


def test_sequence_numbers_wrap_around() -> None:
    r, sink = stream(0xFFFFFFFA)
    r.add(0x00000000, b"6789", 0, 2)
    r.add(0xFFFFFFFA, b"012345", 0, 1)
    assert sink.events == [b"012345", b"6789"]


def test_a_missing_segment_is_a_gap_never_filled() -> None:
    r, sink = stream()
    r.add(1000, b"AAAA", 0, 1)
    r.add(1008, b"CCCC", 0, 3)
    r.close()
    assert sink.events == [b"AAAA", ("gap", 4, 4), b"CCCC"]
    assert r.gaps == [(4, 4)]


def test_data_lost_before_the_fin_is_a_gap() -> None:
    r, sink = stream()
    r.add(1000, b"AAAA", 0, 1)
    r.fin(1010)
    r.close()
    assert sink.events == [b"AAAA", ("gap", 6, 4)]


def test_a_snaplen_cut_is_a_gap_right_away() -> None:
    r, sink = stream()
    r.add(1000, b"AAAA", 0, 1, cut=96)
    r.add(1100, b"BBBB", 0, 2)
    assert sink.events == [b"AAAA", ("gap", 96, 4), b"BBBB"]


class Conversation:
    def __init__(self) -> None:
        self.requests: list = []
        self.messages: list = []
        self.conv = HttpConversation(self.requests.append,
                                     lambda up, m: self.messages.append(m))


def test_gap_inside_a_content_length_body_keeps_the_framing() -> None:
    c = Conversation()
    c.conv.up.data(b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123", 1.0, 1)
    c.conv.up.gap(3, 45)
    c.conv.up.data(b"789GET /b HTTP/1.1\r\n\r\n", 2.0, 3)
    c.conv.close()
    first, second = c.requests
    assert (first.target, bytes(first.body)) == ("/a", b"0123789")
    assert first.notes == ["gap: 3 bytes of the upload missing at stream offset 45"]
    assert (second.target, second.time, second.packet) == ("/b", 2.0, 3)


def test_after_a_lost_chunk_the_parser_finds_the_next_request() -> None:
    c = Conversation()
    c.conv.up.data(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1.0, 1)
    c.conv.up.gap(100, 60)
    c.conv.up.data(b"garbage\r\nmore\r\nGET /next?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", 2.0, 2)
    c.conv.close()
    assert [(r.target, bytes(r.body), r.complete) for r in c.requests] == [
        ("/a", b"hel\ngarbage\r\nmore\r\n", True), ("/next?x=1", b"", True)]
    # what followed the gap up to the next request is a fragment of the cut one
    assert [r.incomplete for r in c.requests] == [True, False]


def test_responses_are_matched_in_order_and_100_continue_skipped() -> None:
    c = Conversation()
    c.conv.up.data(b"POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 1, 1)
    c.conv.down.data(b"HTTP/1.1 100 Continue\r\n\r\n", 2, 2)
    c.conv.up.data(b"hiGET /b HTTP/1.1\r\n\r\n", 3, 3)
    c.conv.down.data(b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"
                     b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"4\r\nnope\r\n0\r\n\r\n", 4, 4)
    assert [(r.target, bytes(r.body), r.status) for r in c.requests] == [
        ("/a", b"hi", 201), ("/b", b"", 404)]
    assert c.requests[1].bytes_down == len(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: "
                                           b"chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n")


def test_a_response_body_is_counted_without_being_read() -> None:
    c = Conversation()
    c.conv.up.data(b"GET /a HTTP/1.1\r\n\r\n", 1, 1)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    c.conv.down.data(head + b"012", 2, 2)
    assert c.conv.down.countable() == 6  # all but the last byte, which ends the body
    c.conv.down.skipped(6, 3, 3)
    assert c.requests == []
    c.conv.down.data(b"9", 4, 4)
    (request,) = c.requests
    assert (request.status, request.bytes_down, request.end_time) == (200, len(head) + 10, 4)
    assert c.conv.down.countable() == 0  # the next response's head must be read


def test_a_refused_upgrade_goes_on_as_http() -> None:
    c = Conversation()
    c.conv.up.data(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /x HTTP/1.1\r\n\r\n", 1, 1)
    c.conv.down.data(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2, 2)
    assert [(r.target, r.status) for r in c.requests] == [("/ws", 400), ("/x", 200)]
    assert c.messages == []


def test_permessage_deflate_websocket_messages_are_inflated() -> None:
    c = Conversation()
    c.conv.up.data(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
                   b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1, 1)
    c.conv.down.data(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 2, 2)
    packer = zlib.compressobj(wbits=-15)
    packed = (packer.compress(b"imei=867203024182737") + packer.flush(zlib.Z_SYNC_FLUSH))[:-4]
    c.conv.up.data(bytes([0xC1, len(packed)]) + packed, 3, 3)  # FIN, RSV1, text; unmasked
    assert [m.payload for m in c.messages] == [b"imei=867203024182737"]


def test_content_encodings_and_the_bomb_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"imei":"867203024182737"}'
    two_members = gzip.compress(data[:10]) + gzip.compress(data[10:])
    assert bodycodec.decode_body(two_members, "gzip") == (data, "")
    assert bodycodec.decode_body(zlib.compress(data), "deflate") == (data, "")
    raw_deflate = zlib.compressobj(wbits=-15)
    assert bodycodec.decode_body(raw_deflate.compress(data) + raw_deflate.flush(),
                                 "deflate") == (data, "")
    bomb = gzip.compress(b"\0" * (4 << 20))
    body, problem = bodycodec.decode_body(bomb, "gzip")
    assert body == bomb and "beyond the cap" in problem
    assert bodycodec.decode_body(b"not gzip", "gzip")[1].startswith("gzip body could not")
    assert bodycodec.decode_body(data, "compress")[1] == (
        "Content-Encoding 'compress' is not supported; body kept as sent")


def dns_packet(flags: int, question: bytes, answers: bytes = b"", ancount: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 7, flags, 1, ancount, 0, 0) + question + answers


def test_dns_answers_and_a_compression_loop() -> None:
    question = b"\x03api\x07example\x03com\x00\x00\x01\x00\x01"
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 60, 16) + bytes(15) + b"\x01"
    message = parse_dns(dns_packet(0x8180, question, answer, 1))
    assert message is not None
    assert (message.qname, message.is_response, message.addresses) == (
        "api.example.com", True, ["::1"])
    assert parse_dns(dns_packet(0x0100, b"\xc0\x0c\x00\x01\x00\x01")) is None
    assert parse_dns(b"\x00\x01") is None


def test_quic_initial_of_rfc_9001_appendix_a2() -> None:
    packet = bytes.fromhex((FIXTURES / "rfc9001_client_initial.hex").read_text())
    reader = QuicInitialReader()
    reader.add(packet)
    assert reader.hello is not None and reader.error == ""
    assert reader.hello.sni == "example.com"
    assert reader.hello.random.hex().startswith("ebf8fa56f12939b9584a3896472ec40b")
    broken = QuicInitialReader()
    broken.add(packet[:200] + bytes([packet[200] ^ 1]) + packet[201:])
    assert (broken.hello, broken.error) == (None, ("QUIC Initial could not be decrypted "
                                                  "(InvalidTag)"))


def test_tls_records_are_counted_across_chunks() -> None:
    records = b"".join(b"\x17\x03\x03" + struct.pack("!H", n) + bytes(n) for n in (3, 300, 0))
    state = [0, 0, 0, 0]
    for i in range(0, len(records), 7):
        count_records(state, records[i:i + 7])
    assert state[0] == 3


def test_fragments_in_any_order() -> None:
    defrag = Defragmenter()
    key = (b"a", b"b", 17, 1)
    assert defrag.add(key, 16, False, b"C" * 4) is None
    assert defrag.add(key, 0, True, b"A" * 8) is None
    assert defrag.add(key, 8, True, b"B" * 8) == b"A" * 8 + b"B" * 8 + b"C" * 4
    assert defrag.incomplete == 0
    assert defrag.add((b"a", b"b", 17, 2), 8, False, b"x") is None
    assert defrag.incomplete == 1


def test_a_connect_tunnel_is_counted_not_parsed() -> None:
    c = Conversation()
    head = b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"
    c.conv.up.data(head, 1, 1)
    c.conv.down.data(b"HTTP/1.1 200 Connection established\r\n\r\n", 2, 2)
    c.conv.up.data(b"\x16\x03\x01" + bytes(50), 3, 3)
    c.conv.down.data(bytes(70), 4, 4)
    c.conv.close()
    (request,) = c.requests
    assert (request.method, request.status, request.bytes_down) == ("CONNECT", 200, 39 + 70)
    assert request.bytes_up == len(head) + 53
    assert request.notes == ["the connection switched to a tunnel; its bytes are counted"]


def test_ipv6_extension_headers_are_skipped() -> None:
    from auditor.sources.pcap.packets import TCP, parse_ip

    tcp = struct.pack("!HHIIBBHHH", 5555, 80, 7, 0, 0x50, 0x18, 100, 0, 0) + b"GET / HTTP/1.1"
    hop_by_hop = bytes([60, 0]) + bytes(6)  # next: destination options
    destination = bytes([6, 1]) + bytes(14)  # next: TCP; 16 bytes long
    payload = hop_by_hop + destination + tcp
    header = struct.pack("!IHBB", 6 << 28, len(payload), 0, 64) + bytes(15) + b"\x01" \
        + bytes(15) + b"\x02"
    segment = parse_ip(header + payload, 0, Defragmenter())
    assert segment is not None
    assert (segment.proto, segment.sport, segment.dport, segment.seq, segment.payload) == (
        TCP, 5555, 80, 7, b"GET / HTTP/1.1")
    assert segment.dst == bytes(15) + b"\x02"

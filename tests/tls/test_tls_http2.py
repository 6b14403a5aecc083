"""parse_http2: on the nginx/curl HTTP/2 capture, and on hand-built frames for the
framing curl and nginx do not use (padding, priority, CONTINUATION, push)."""

from __future__ import annotations

from hpack import Encoder
from tls_streams import FIXTURES, connections

from auditor.sources.pcap.http2 import CLIENT_PREFACE, parse_http2
from auditor.sources.pcap.tls.decrypt import KeyLog, decrypt_connection


def h2_fixture():
    (conn,) = connections("h2-nginx.pcap")
    keylog = KeyLog.from_files([str(FIXTURES / "h2-nginx.keys")])
    return decrypt_connection(conn.client_stream, conn.server_stream, keylog)


def test_streams_of_the_nginx_capture():
    decrypted = h2_fixture()
    warnings: list[str] = []
    requests = parse_http2(decrypted.client_data, decrypted.server_data, warnings)
    assert warnings == []
    assert [(r.stream_id, r.method, r.path, r.status) for r in requests] == [
        (1, "GET", "/v1/config?android_id=3f8a1c0b7d52e946", 200),
        (3, "POST", "/v1/contacts", 200),
        (5, "GET", "/v1/ping?gaid=5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5", 200),
    ]
    assert {(r.scheme, r.authority) for r in requests} == {("https", "api.account.xiaomi.com")}
    post = requests[1]
    assert post.body == (b'{"contacts": [{"name": "Anna Schmidt", "phone": "+49 151 2345 6789"}]'
                         b', "owner": "+8615627394810"}')
    assert ("content-type", "application/json") in post.headers
    assert all(not name.startswith(":") for r in requests for name, _ in r.headers)
    assert requests[0].body == b""
    assert all(r.bytes_down > 0 for r in requests)


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") \
        + payload


def test_padding_priority_continuation_and_push():
    client_hpack, server_hpack = Encoder(), Encoder()
    block = client_hpack.encode([(":method", "POST"), (":scheme", "https"),
                                 (":authority", "tracking.miui.com"), (":path", "/v2/up"),
                                 ("x-imei", "867203024182737")])
    padded_priority = bytes([3]) + b"\x00\x00\x00\x00\x10" + block[:10] + b"\x00" * 3
    client = CLIENT_PREFACE + frame(4, 0, 0, b"") \
        + frame(1, 0x08 | 0x20, 1, padded_priority) \
        + frame(9, 0x04, 1, block[10:]) \
        + frame(0, 0x08, 1, bytes([4]) + b"imsi=" + b"\x00" * 4) \
        + frame(0, 0x01, 1, b"460013728150946")
    # a second request whose header block reuses the client's dynamic table entries
    client += frame(1, 0x05, 3, client_hpack.encode([
        (":method", "GET"), (":scheme", "https"), (":authority", "tracking.miui.com"),
        (":path", "/v2/ping"), ("x-imei", "867203024182737")]))
    push = server_hpack.encode([(":method", "GET"), (":path", "/pushed"),
                                (":authority", "tracking.miui.com"), (":scheme", "https")])
    server = frame(4, 0, 0, b"") \
        + frame(5, 0x04, 1, b"\x00\x00\x00\x02" + push) \
        + frame(1, 0x04, 1, server_hpack.encode([(":status", "100")])) \
        + frame(1, 0x04, 1, server_hpack.encode([(":status", "204")])) \
        + frame(1, 0x04, 3, server_hpack.encode([(":status", "404")])) \
        + frame(3, 0, 3, b"\x00\x00\x00\x00")
    requests = parse_http2(client, server)
    assert [(r.stream_id, r.method, r.authority, r.path, r.status) for r in requests] == [
        (1, "POST", "tracking.miui.com", "/v2/up", 204),
        (3, "GET", "tracking.miui.com", "/v2/ping", 404),
    ]
    assert requests[0].headers == [("x-imei", "867203024182737")]
    assert requests[1].headers == [("x-imei", "867203024182737")]
    assert requests[0].body == b"imsi=460013728150946"
    assert requests[1].reset and not requests[0].reset


def test_a_cut_connection_keeps_the_complete_requests():
    decrypted = h2_fixture()
    warnings: list[str] = []
    cut = decrypted.client_data[:decrypted.client_data.index(b"Anna") + 4]
    requests = parse_http2(cut, decrypted.server_data, warnings)
    assert [r.stream_id for r in requests] == [1, 3]
    assert requests[1].body == b""
    assert any("ends inside a frame" in w for w in warnings)


def test_a_broken_header_block_is_a_warning_not_a_crash():
    warnings: list[str] = []
    client = CLIENT_PREFACE + frame(1, 0x05, 1, b"\xff\xff\xff\xff\xff")
    assert parse_http2(client, b"", warnings) == []
    assert "bad header block" in warnings[0]

"""mitmproxy flows → Exchanges, on flows built with mitmproxy's own test builders."""

from __future__ import annotations

import gzip

import pytest
from mitmproxy import connection, dns
from mitmproxy.test import tflow, tutils
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from auditor.sources.live import exchanges_from_flow, unreadable_exchange


def _post(content: bytes, **headers: str) -> tflow.http.HTTPFlow:
    request = tutils.treq(method=b"POST", content=content,
                          headers=tutils.http.Headers(host="api.example.com", **headers))
    return tflow.tflow(req=request, resp=True)


def test_plain_http_request_keeps_what_the_phone_sent() -> None:
    flow = _post(b"imei=867203024182737", content_type="application/x-www-form-urlencoded")
    (exchange,) = exchanges_from_flow(flow, source="t#1")
    assert exchange.transport == "http" and not exchange.decrypted
    assert exchange.method == "POST"
    assert exchange.host == "api.example.com"
    assert exchange.url == "http://api.example.com/path"  # as the Host header says
    assert exchange.body == b"imei=867203024182737"
    assert ("content-type", "application/x-www-form-urlencoded") in exchange.headers
    assert exchange.time == flow.request.timestamp_start
    assert exchange.client == "127.0.0.1:22"
    assert exchange.server_ip == "192.168.0.1"
    assert exchange.status == 200 and exchange.bytes_down > 0
    assert exchange.bytes_up > len(exchange.body)
    assert exchange.source == "t#1"


def test_gzip_body_is_given_decoded() -> None:
    body = b'{"phone": "+8615627394810"}'
    flow = _post(gzip.compress(body), content_encoding="gzip")
    (exchange,) = exchanges_from_flow(flow, source="t")
    assert exchange.body == body
    assert exchange.notes == ()
    assert exchange.bytes_up > len(gzip.compress(body))  # counted as sent, not decoded


def test_body_that_lies_about_its_encoding_is_kept_as_sent_with_a_warning() -> None:
    warnings: list[str] = []
    flow = _post(b"imsi=460013728150946", content_encoding="gzip")
    (exchange,) = exchanges_from_flow(flow, source="t#4", warn=warnings.append)
    assert exchange.body == b"imsi=460013728150946"
    assert len(warnings) == 1 and warnings[0].startswith("t#4: body is not valid 'gzip'")
    assert exchange.notes


def test_tls_to_the_client_makes_it_https_and_decrypted() -> None:
    flow = _post(b"x=1")
    flow.client_conn.tls = True
    flow.client_conn.alpn = b"h2"
    flow.request.http_version = "HTTP/2.0"
    (exchange,) = exchanges_from_flow(flow, source="t")
    assert exchange.transport == "https" and exchange.decrypted and exchange.alpn == "h2"


def test_connect_requests_are_not_uploads() -> None:
    flow = tflow.tflow(req=tutils.treq(method=b"CONNECT"))
    assert exchanges_from_flow(flow, source="t") == []


def test_websocket_messages_from_the_client_each_become_one_exchange() -> None:
    flow = tflow.twebsocketflow()
    flow.websocket.messages = [
        WebSocketMessage(Opcode.TEXT, True, b'{"imei": "867203024182737"}', 946681205),
        WebSocketMessage(Opcode.TEXT, False, b"server says hi", 946681206),
        WebSocketMessage(Opcode.BINARY, True, b"\x01\x02", 946681207),
    ]
    request, first, second = exchanges_from_flow(flow, source="f#2")
    assert request.method == "GET"
    assert (first.transport, first.url, first.body) == (
        "ws", "ws://example.com/ws", b'{"imei": "867203024182737"}')
    assert first.time == 946681205 and first.source == "f#2 ws 1"
    assert second.body == b"\x01\x02" and second.source == "f#2 ws 3"


@pytest.mark.parametrize("builder, transport", [(tflow.ttcpflow, "tcp"),
                                                (tflow.tudpflow, "udp")])
def test_raw_messages_from_the_client_only(builder, transport: str) -> None:
    flow = builder()
    (exchange,) = exchanges_from_flow(flow, source="s")
    assert exchange.transport == transport
    assert exchange.body == b"hello" and exchange.time == 946681204.2
    assert exchange.server == "192.168.0.1:22"


def test_tls_wrapped_raw_stream_is_an_encrypted_upload() -> None:
    flow = tflow.ttcpflow()
    flow.client_conn.tls = True
    flow.client_conn.sni = "push.example.cn"
    (exchange,) = exchanges_from_flow(flow, source="s")
    assert exchange.transport == "tls" and exchange.decrypted
    assert exchange.host == "push.example.cn"


def test_dns_query_is_one_exchange_per_name() -> None:
    flow = tflow.tdnsflow(resp=True)
    (exchange,) = exchanges_from_flow(flow, source="d")
    assert exchange.transport == "dns" and exchange.method == "QUERY"
    assert exchange.host == "dns.google"
    assert exchange.url == "dns:dns.google"
    assert exchange.bytes_up == len(flow.request.packed)
    assert exchange.request_line == "DNS query dns.google"


def test_dns_query_with_two_questions() -> None:
    request = tutils.tdnsreq()
    request.questions.append(dns.Question("867203024182737.t.example.com", 1, 1))
    (_, second) = exchanges_from_flow(tflow.tdnsflow(req=request), source="d")
    assert second.host == "867203024182737.t.example.com"


def test_refused_certificate_is_recorded_as_unreadable() -> None:
    client = tflow.tclient_conn()
    client.sni = "api.account.xiaomi.com"
    client.error = "Client TLS handshake failed. The client does not trust the proxy's certificate"
    client.alpn_offers = [b"h2", b"http/1.1"]
    server = connection.Server(address=("203.0.113.9", 443))
    exchange = unreadable_exchange(client, server, source="live#3")
    assert exchange.transport == "tls" and not exchange.readable
    assert exchange.host == "api.account.xiaomi.com"
    assert exchange.notes[0] == ("could not inspect api.account.xiaomi.com: "
                                 "the app refused our certificate (pinning?)")
    assert "does not trust" in exchange.notes[1]
    assert exchange.alpn == "h2,http/1.1"
    assert exchange.server == "203.0.113.9:443"


def test_refused_certificate_without_sni_names_the_server() -> None:
    client = tflow.tclient_conn()
    client.sni = None
    exchange = unreadable_exchange(client, connection.Server(address=("198.51.100.4", 443)),
                                   source="s")
    assert exchange.host == "198.51.100.4"

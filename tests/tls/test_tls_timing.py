"""Decrypted exchanges carry the capture time and packet number of the TCP segment that
carried the first byte of their request — not the TLS connection's start — so the consent
timeline and the evidence (`file#pkt N`) point where a reader would look in Wireshark.
The packet numbers below are those tshark shows for the same requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from tls_streams import FIXTURES

from auditor.model import InputInfo
from auditor.sources.pcap.reader import read_pcap

REDMI = Path(__file__).resolve().parents[2] / "captures" / "redmi-1s-fixed"


def read(path: Path, keys: Path):
    info = InputInfo(path=str(path), kind="pcap")
    return list(read_pcap(str(path), info, keylogs=[str(keys)], progress=None)), info


def packet_of(exchange) -> int:
    return int(exchange.source.rsplit("#pkt ", 1)[1])


def test_recorded_consent_session_is_timed_per_request():
    exchanges, info = read(REDMI / "capture.pcap", REDMI / "keys.log")
    assert info.warnings == []
    config, opt_in, register = [e for e in exchanges if e.transport == "https"]
    assert [(e.method, e.url.rsplit("/", 1)[1]) for e in (config, opt_in, register)] == [
        ("GET", "config?miui=V5.8&lang=zh_CN"), ("POST", "cloud-messaging"),
        ("POST", "register")]
    # the segments where each request's TLS record begins (tshark frames 11, 16, 23)
    assert [packet_of(e) for e in (config, opt_in, register)] == [11, 16, 23]
    assert config.time < opt_in.time < register.time
    assert opt_in.time - config.time == pytest.approx(1.5, abs=0.1)
    assert register.time - opt_in.time == pytest.approx(0.5, abs=0.1)
    assert config.time - info.first_time == pytest.approx(0.003063, abs=1e-6)


def test_http2_streams_are_timed_by_their_headers_frame():
    exchanges, _ = read(FIXTURES / "h2-nginx.pcap", FIXTURES / "h2-nginx.keys")
    assert [e.notes for e in exchanges] == [("HTTP/2 stream 1",), ("HTTP/2 stream 3",),
                                            ("HTTP/2 stream 5",)]
    # tshark: the HEADERS frames of streams 1, 3 and 5 are in frames 10, 19 and 25
    assert [packet_of(e) for e in exchanges] == [10, 19, 25]
    times = [e.time for e in exchanges]
    assert times == sorted(set(times))  # strictly increasing
    assert all(e.alpn == "h2" for e in exchanges)


def test_websocket_upgrade_comes_before_its_messages():
    exchanges, _ = read(FIXTURES / "websocket.pcap", FIXTURES / "websocket.keys")
    assert [(e.transport, e.status, packet_of(e)) for e in exchanges] == [
        ("https", 101, 10), ("wss", None, 15)]
    upgrade, message = exchanges
    assert upgrade.time < message.time
    assert message.bytes_down == 0  # the server answered only after this message


def test_tls12_exchanges_carry_the_negotiated_alpn():
    exchanges, _ = read(FIXTURES / "http1-keepalive.pcap", FIXTURES / "http1-keepalive.keys")
    assert [(e.transport, e.alpn) for e in exchanges] == [("https", "http/1.1")] * 2
    assert exchanges[0].time < exchanges[1].time

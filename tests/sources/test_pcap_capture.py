"""The pcap reader end to end on captures of real traffic (see fixtures/pcap/make_fixtures.py
for how each was recorded or derived)."""

from __future__ import annotations

import json

import pytest
from pcap_helpers import FIXTURES, read, signature

IMEI = "867203024182737"
UPLOAD = json.dumps({"imei": IMEI, "contacts": ["+49 151 2345 6789"]}).encode()
XIAOMI = "http://api.account.xiaomi.com"

#: (transport, method, host, url, status, body) of every exchange in http.pcap, in order
EXPECTED = [
    # status: the answer's RCODE (0, NOERROR)
    ("dns", "QUERY", "cdn.example.net", "dns:cdn.example.net", 0, b""),
    ("dns", "QUERY", "tcp.example.org", "dns:tcp.example.org", 0, b""),
    ("http", "GET", "api.account.xiaomi.com", f"{XIAOMI}/v1/config?imei={IMEI}&lang=en", 200,
     b""),
    ("http", "POST", "api.account.xiaomi.com", f"{XIAOMI}/v1/register", 201,
     b"phone=%2B8615627394810&carrier=CMCC"),
    ("http", "POST", "api.account.xiaomi.com", f"{XIAOMI}/v1/upload/gzip", 201, UPLOAD),
    ("http", "POST", "api.account.xiaomi.com", f"{XIAOMI}/v1/upload/deflate", 201, UPLOAD),
    ("http", "POST", "api.account.xiaomi.com", f"{XIAOMI}/v1/upload/br", 201, UPLOAD),
    ("http", "POST", "api.account.xiaomi.com", f"{XIAOMI}/v1/upload/zstd", 201, UPLOAD),
    ("http", "HEAD", "api.account.xiaomi.com", f"{XIAOMI}/v1/ping", 200, b""),
    ("http", "POST", "api.account.xiaomi.com", f"{XIAOMI}/v1/chunked", 201,
     b"sms=Hallo%20Anna&from=%2B8615627394810&n=" + b"7" * 3000),
    ("http", "GET", "pipe.example.com", "http://pipe.example.com/a", 200, b""),
    ("http", "POST", "pipe.example.com", "http://pipe.example.com/b", 201, b"hello"),
    ("http", "GET", "pipe.example.com", "http://pipe.example.com/c", 200, b""),
    ("http", "POST", "api.account.xiaomi.com", f"{XIAOMI}/v1/big", 201, b"imsi=4600137"),
    ("http", "GET", "proxy.example.com", "http://proxy.example.com/track?aid=5b9e2c71", 200,
     b""),
    # HTTP/1.0 without Host: named by the last DNS answer for 127.0.0.1
    ("http", "GET", "tcp.example.org", "http://tcp.example.org/nohost", 200, b""),
    ("http", "POST", "127.0.0.1", "http://127.0.0.1:38080/curl-form", 201,
     b"mac=64%3A09%3A80%3A3a%3A5c%3A7e"),
    ("http", "GET", "v6.example.com", "http://v6.example.com/v6?x=1", 200, b""),
    # the upgrade first, then the messages it opened, in stream order
    ("http", "GET", "push.example.com", "http://push.example.com/push?device=1", 101, b""),
    ("ws", "", "push.example.com", "ws://push.example.com/push?device=1", None,
     json.dumps({"imei": IMEI}).encode()),
    ("ws", "", "push.example.com", "ws://push.example.com/push?device=1", None,
     b"part-one|" + b"part-two" * 20),
    ("tls", "", "secure.example.com", "", None, b""),
    ("tls", "", "secure.example.com", "", None, b""),
    # SIP over TCP: the request URI as the URL, answered 200 OK
    ("sip", "REGISTER", "ims.example.com", "sip:460013728150946@ims.example.com", 200, b""),
    ("quic", "", "quic.example.com", "", None, b""),
]


def _short(exchanges) -> list[tuple]:
    return [(e.transport, e.method, e.host, e.url, e.status, e.body) for e in exchanges]


@pytest.fixture(scope="module")
def http_capture():
    return read("http.pcap")


def test_every_upload_of_the_recorded_session(http_capture) -> None:
    exchanges, info = http_capture
    assert _short(exchanges) == EXPECTED
    assert (info.packets, info.exchanges, info.warnings) == (222, 25, [])
    assert info.first_time == pytest.approx(1795264101.500954)
    assert info.last_time == pytest.approx(1795264102.23825)


def test_request_details(http_capture) -> None:
    exchanges, _ = http_capture
    config = exchanges[2]
    assert config.client == "127.0.0.1:41796" and config.server == "127.0.0.1:38080"
    assert config.server_ip == "127.0.0.1"
    assert config.source.endswith("http.pcap#pkt 14")
    assert config.headers == (("Accept-Encoding", "identity"),  # in the order sent
                              ("Host", "api.account.xiaomi.com"))
    assert config.bytes_up == len(f"GET /v1/config?imei={IMEI}&lang=en HTTP/1.1\r\n"
                                  "Accept-Encoding: identity\r\n"
                                  "Host: api.account.xiaomi.com\r\n\r\n")
    assert config.time <= config.end_time
    gzip_upload = exchanges[4]
    assert ("Content-Encoding", "gzip") in gzip_upload.headers
    pipelined = exchanges[10:13]
    assert {e.source for e in pipelined} == {pipelined[0].source}  # one packet, three requests
    assert [e.bytes_up for e in pipelined] == [43, 68, 62]
    assert exchanges[17].client.startswith("[::1]:") and exchanges[17].server_ip == "::1"


def test_dns_queries_carry_their_answer(http_capture) -> None:
    udp, tcp = http_capture[0][:2]
    assert (udp.server, udp.source.endswith("#pkt 1"), udp.bytes_up, udp.bytes_down) == \
        ("127.0.0.53:53", True, 33, 79)  # the answer (packet 2) is 79 bytes of UDP payload
    assert (tcp.bytes_up, tcp.bytes_down) == (33 + 2, 79 + 2)  # with the TCP length prefix
    assert udp.status == tcp.status == 0  # NOERROR
    assert udp.time < udp.end_time


def test_tls_quic_and_raw_metadata(http_capture) -> None:
    exchanges, _ = http_capture
    tls13, tls12 = exchanges[21:23]
    assert (tls13.readable, tls13.decrypted, tls13.alpn) == (False, False, "h2,http/1.1")
    assert tls13.notes == ("5 TLS records up, 9 down", "TLS 1.3")
    assert (tls12.alpn, tls12.notes) == ("http/1.1", ("6 TLS records up, 8 down", "TLS 1.2"))
    assert (tls13.bytes_up, tls13.bytes_down) == (741, 2003)
    quic = exchanges[24]
    assert (quic.readable, quic.alpn, quic.bytes_up, quic.bytes_down) == (False, "h3", 2786, 1774)
    assert quic.notes == ("5 datagrams up, 4 down",)
    raw = exchanges[23]
    assert (raw.bytes_up, raw.bytes_down) == (165, 37)


SAME_TRAFFIC = ["http_nano.pcap", "http.pcapng", "vlan.pcap", "fragments.pcap", "reorder.pcap",
                "rawip.pcap", "null.pcap", "bigendian.pcap", "midstream.pcap"]


@pytest.mark.parametrize("name", SAME_TRAFFIC)
def test_the_same_traffic_in_every_framing(name: str, http_capture) -> None:
    """Other file formats, link types, fragments, reordered and retransmitted segments and
    a connection seen mid-stream give exactly the same exchanges."""
    expected, _ = http_capture
    exchanges, info = read(name)
    assert [signature(e) for e in exchanges] == [signature(e) for e in expected]
    assert [e.time for e in exchanges] == pytest.approx([e.time for e in expected], abs=1e-6)
    assert info.warnings == []


def test_lost_segment_is_reported_not_filled() -> None:
    exchanges, info = read("gap.pcap")
    assert info.warnings == [
        ("TCP 127.0.0.1:41796 -> 127.0.0.1:38080: 3010 bytes missing at seq offset 1553 (lost "
        "or cut by snaplen); the request there is incomplete")]
    chunked = next(e for e in exchanges if e.url.endswith("/v1/chunked"))
    assert chunked.notes == ("gap: 3010 bytes of the upload missing at stream offset 1553",
                             "body fragments between gaps kept as captured")
    assert chunked.incomplete
    # the lost bytes are not made up; what came after the gap is kept apart by a line break
    assert chunked.body == b"sms=Hallo%20Anna&from=%2B8615627394810\n0\r\n\r\n"
    assert [e.url for e in exchanges] == [e[3] for e in EXPECTED]  # the rest is intact


def test_snaplen_cut_capture_is_read_as_far_as_it_goes() -> None:
    exchanges, info = read("snaplen.pcap")
    assert info.warnings[-1].endswith("snaplen.pcap: 57 packets were cut short by the "
                                      "capture's snaplen (the first is packet 14); their "
                                      "missing bytes are reported as gaps")
    assert all("lost or cut by snaplen" in w for w in info.warnings[:-1])
    assert len(exchanges) == 17
    # the request line survives the cut; the Host header did not, so DNS names the server
    config = exchanges[2]
    assert (config.method, config.url, config.status) == (
        "GET", f"http://tcp.example.org/v1/config?imei={IMEI}&lang=en", 200)
    assert config.notes == (("gap: 29 bytes of the upload missing at stream offset 84; the "
                            "request headers are cut there"),)
    quic = exchanges[-1]
    assert quic.notes[-1] == "a QUIC Initial packet was cut by the capture's snaplen"


@pytest.mark.parametrize("name", ["cooked_sll.pcap", "cooked_sll2.pcap"])
def test_linux_cooked_captures(name: str) -> None:
    exchanges, info = read(name)
    assert [e.url.rsplit("/", 1)[-1] for e in exchanges] == [
        f"config?imei={IMEI}&lang=en", "register", "gzip", "deflate", "br", "zstd", "ping",
        "chunked"]
    assert exchanges[4].body == UPLOAD
    # tcpdump -i any really missed a segment of the chunked upload (tshark agrees)
    assert len(info.warnings) == 1 and "3015 bytes missing" in info.warnings[0]
    assert exchanges[7].notes


@pytest.mark.parametrize("name", ["two_interfaces.pcapng", "multisection.pcapng"])
def test_several_interfaces_and_sections(name: str, http_capture) -> None:
    expected, _ = http_capture
    cooked, _ = read("cooked_sll2.pcap")
    exchanges, info = read(name)
    assert sorted(signature(e) for e in exchanges) == sorted(
        signature(e) for e in expected + cooked)
    assert info.packets == 222 + 56
    assert sorted(e.time for e in exchanges) == pytest.approx(
        sorted(e.time for e in expected + cooked), abs=1e-6)


def test_tls_without_keys_is_listed() -> None:
    exchanges, info = read("tls.pcap")
    assert [(e.transport, e.host, e.readable, e.decrypted) for e in exchanges] == [
        ("tls", "secure.example.com", False, False)] * 2
    assert info.warnings == []


def test_tls_with_a_key_log_is_read_as_https() -> None:
    pytest.importorskip("auditor.sources.pcap.tls.decrypt")
    exchanges, _ = read("tls.pcap", keylogs=[str(FIXTURES / "tls_keys.log")])
    assert [(e.transport, e.method, e.url, e.status, e.decrypted, e.body) for e in exchanges] == [
        ("https", "POST", "https://secure.example.com/v2/sync", 200, True,
         f'{{"imei":"{IMEI}"}}'.encode())] * 2


def test_decryption_secrets_block_in_pcapng() -> None:
    pytest.importorskip("auditor.sources.pcap.tls.decrypt")
    exchanges, info = read("tls_dsb.pcapng")
    assert [(e.transport, e.url, e.decrypted) for e in exchanges] == [
        ("https", "https://secure.example.com/v2/sync", True)] * 2
    assert info.warnings == []

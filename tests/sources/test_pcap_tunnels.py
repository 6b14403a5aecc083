"""Tunnels (tunnels.py) and SIP (sip.py) in captures made by tests/fixtures/pcap/
make_tunnels.py: SIP recorded on loopback, across a real Linux VXLAN tunnel between network
namespaces and through a PDP context of OsmoGGSN (real GTP-U); the other tunnels wrap the
recorded packets with scapy (the kernel that made them has no GRE/IPIP/SIT/ERSPAN/PPP/MPLS
support, and OsmoGGSN sends no GTP-U extension headers — the script says so)."""

from __future__ import annotations

import pytest
from pcap_helpers import FIXTURES, read, signature

from auditor.engine import analyze_files, build_audit
from auditor.sources.pcap.sip import looks_like_sip, parse_request

IMSI, IMEI, MSISDN = "262017305528061", "353918062719402", "+4915209384712"
OUTER = "10.120.0.7 -> 10.120.5.1"
TUNNELS = {
    "tunnel_gtpu_ext.pcap": f"GTP-U TEID 0x1f2e {OUTER}",
    "tunnel_gre.pcap": f"GRE key 7 {OUTER}",
    "tunnel_erspan2.pcap": f"ERSPAN II session 5 {OUTER}",
    "tunnel_erspan3.pcap": f"ERSPAN III session 6 {OUTER}",
    "tunnel_ipip.pcap": f"IP-in-IP {OUTER}",
    "tunnel_pppoe.pcap": "PPPoE session 0x0042",
    "tunnel_mpls.pcap": "MPLS label 1001/16",
}


@pytest.fixture(scope="module")
def plain():
    return read("sip.pcap")[0]


def test_sip_requests_over_udp_and_tcp(plain) -> None:
    assert [(e.transport, e.method, e.url, e.status, e.client.startswith("[")) for e in plain] \
        == [("sip", "REGISTER", "sip:ims.mnc001.mcc262.3gppnetwork.org", 200, False),
            ("sip", "INVITE", "tel:+4930901820", 200, False),
            ("sip", "MESSAGE", "sip:+4917612345678@ims.mnc001.mcc262.3gppnetwork.org", 200,
             False),
            ("sip", "MESSAGE", "sip:+4917612345678@ims.mnc001.mcc262.3gppnetwork.org", 200,
             True)]
    # over UDP, matched to the final response by Call-ID and CSeq
    assert plain[0].bytes_down > 0
    register, invite, message, _ = plain
    assert register.host == "ims.mnc001.mcc262.3gppnetwork.org"
    assert invite.host == "127.0.0.1"  # a tel: URI names no host
    headers = dict(invite.headers)  # compact names (f, t, m, l, c, i) written out
    assert headers["From"].startswith(f"<sip:{MSISDN}@")
    assert 'urn:gsma:imei:35391806-271940-2' in headers["Contact"]
    assert headers["Content-Type"] == "application/sdp" and invite.body.startswith(b"v=0")
    assert message.body == b"Call me back on 0152 09384712 tonight"
    assert all(not e.tunnel for e in plain)


@pytest.mark.parametrize("name", sorted(TUNNELS))
def test_each_tunnel_gives_the_inner_exchanges_and_names_itself(name, plain) -> None:
    exchanges, info = read(name)
    assert info.warnings == []
    ipv4 = [e for e in plain if not e.client.startswith("[")]
    assert [signature(e) for e in exchanges] == [signature(e) for e in ipv4]
    assert {e.tunnel for e in exchanges} == {TUNNELS[name]}
    assert exchanges[0].request_line.endswith(f" [in {TUNNELS[name]}]")


def test_6in4(plain) -> None:
    exchanges, _ = read("tunnel_6in4.pcap")
    assert [signature(e) for e in exchanges] == [signature(plain[3])]
    assert exchanges[0].tunnel == "6in4 10.120.0.7 -> 10.120.5.1"


def test_a_real_linux_vxlan_tunnel() -> None:
    exchanges, info = read("tunnel_vxlan.pcap")
    assert info.warnings == []
    # ARP frames inside the tunnel are neither read nor listed as UDP conversations
    assert [(e.method, e.status, e.tunnel) for e in exchanges] == [
        ("REGISTER", 200, "VXLAN VNI 42 10.210.0.1 -> 10.210.0.2"),
        ("INVITE", 200, "VXLAN VNI 42 10.210.0.1 -> 10.210.0.2"),
        ("MESSAGE", 200, "VXLAN VNI 42 10.210.0.1 -> 10.210.0.2")]
    assert all(e.client.startswith("192.168.210.1:") for e in exchanges)


def test_real_gtp_u_of_osmo_ggsn() -> None:
    exchanges, info = read("tunnel_gtpu.pcap")
    assert info.warnings == []
    # the handset's address is the one the GGSN gave its PDP context
    assert [(e.method, e.status, e.client.split(":")[0], e.server) for e in exchanges] == [
        ("REGISTER", 200, "172.29.7.1", "198.18.0.10:5060"),
        ("INVITE", 200, "172.29.7.1", "198.18.0.10:5060"),
        ("MESSAGE", 200, "172.29.7.1", "198.18.0.10:5060")]
    assert {e.tunnel for e in exchanges} == {"GTP-U TEID 0x1 10.230.0.1 -> 10.230.0.2"}


@pytest.mark.parametrize("mode", ["pattern", "known"])
def test_imsi_imei_and_number_found_in_sip_inside_gtp_u(mode, tmp_path) -> None:
    device = tmp_path / "device.yaml"
    device.write_text(f"name: t\nregion: DE\nimei: ['{IMEI}']\nimsi: '{IMSI}'\n"
                      f"phone_number: '{MSISDN}'\n")
    audit = build_audit(device=str(device) if mode == "known" else None,
                        pattern_mode=mode == "pattern")
    result = analyze_files([str(FIXTURES / "tunnel_gtpu.pcap")], audit)
    found = {(o.data_type, o.value, o.where, o.key, o.match) for o in result.observations}
    assert {("imsi", IMSI, "header", "from", mode), ("imei", IMEI, "header", "contact", mode),
            ("phone_number", MSISDN, "header", "p-preferred-identity", mode),
            ("phone_number", MSISDN, "header", "p-asserted-identity", mode)} <= found
    assert result.exchange(1).tunnel.startswith("GTP-U")


def test_sip_recognition() -> None:
    assert looks_like_sip(b"REGISTER sip:ims.example SIP/2.0\r\n")
    assert looks_like_sip(b"REGISTER si")  # the first bytes of a stream
    assert looks_like_sip(b"OPTIONS sip:x SIP/2.0")
    assert not looks_like_sip(b"OPTIONS * HTTP/1.1")
    assert not looks_like_sip(b"GET /sip:x HTTP/1.1")
    cut = parse_request(b"REGISTER sip:a SIP/2.0\r\nFrom: <sip:1@a>\r\nContact: <sip:1@")
    assert cut is not None and cut.notes == ["the SIP message ends inside its headers"]
    assert cut.headers == [("From", "<sip:1@a>"), ("Contact", "<sip:1@")]


def test_the_json_report_names_the_tunnel_and_says_what_is_incomplete() -> None:
    from auditor.report.json_report import report_dict

    result = analyze_files([str(FIXTURES / "tunnel_gtpu.pcap")],
                           build_audit(device=None, pattern_mode=True))
    exchanges = report_dict(result)["exchanges"]
    assert {e["tunnel"] for e in exchanges} == {"GTP-U TEID 0x1 10.230.0.1 -> 10.230.0.2"}
    assert not any("incomplete" in e for e in exchanges)
    plain = report_dict(analyze_files([str(FIXTURES / "sip.pcap")],
                                      build_audit(device=None)))["exchanges"]
    assert not any("tunnel" in e for e in plain)


def test_sip_over_udp_waits_for_its_final_response() -> None:
    from auditor.model import InputInfo
    from auditor.sources.pcap.protocols import CaptureContext, Endpoints
    from auditor.sources.pcap.sip import SipDatagrams, sip_exchange

    ctx = CaptureContext("t.pcap", InputInfo(path="t.pcap", kind="pcap"))
    datagrams = SipDatagrams(ctx)
    message = b"MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x1\r\nCSeq: 4 MESSAGE\r\n\r\nhi"
    ends = Endpoints("10.0.0.2:5060", "10.0.0.1:5060", "10.0.0.1", 1.0, 1)
    datagrams.request(sip_exchange(ctx, ends, parse_request(message), 1.0, 1), message)
    # a provisional answer, one of another transaction, then the final one
    datagrams.response("10.0.0.1:5060", "10.0.0.2:5060",
                       b"SIP/2.0 100 Trying\r\nCall-ID: x1\r\nCSeq: 4 MESSAGE\r\n\r\n", 1.1)
    datagrams.response("10.0.0.1:5060", "10.0.0.2:5060",
                       b"SIP/2.0 200 OK\r\nCall-ID: x2\r\nCSeq: 4 MESSAGE\r\n\r\n", 1.2)
    assert ctx.out == []
    datagrams.response("10.0.0.1:5060", "10.0.0.2:5060",
                       b"SIP/2.0 202 Accepted\r\ni: x1\r\nCSeq: 4 MESSAGE\r\n\r\n", 1.3)
    [exchange] = ctx.out
    assert (exchange.status, exchange.end_time, exchange.bytes_down) == (202, 1.3, 52 + 48)
    # unanswered: handed out after SIP's timeout, or at the end of the capture
    datagrams.request(sip_exchange(ctx, ends, parse_request(message), 2.0, 2), message)
    datagrams.sweep(20.0)
    assert len(ctx.out) == 1
    datagrams.sweep(40.0)
    assert len(ctx.out) == 2 and ctx.out[1].status is None


def test_a_sip_stream_claiming_a_huge_body_is_read_to_64_kib() -> None:
    from auditor.model import InputInfo
    from auditor.sources.pcap.protocols import CaptureContext, Endpoints
    from auditor.sources.pcap.sip import SipHandler

    info = InputInfo(path="t.pcap", kind="pcap")
    ctx = CaptureContext("t.pcap", info)
    handler = SipHandler(ctx, Endpoints("10.0.0.2:5000", "10.0.0.1:5060", "10.0.0.1", 1.0, 1))
    handler.up.data(b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 999999999999\r\n\r\n", 1.0, 1)
    for n in range(100):
        handler.up.data(b"x" * 1000, 1.0, n + 2)
    handler.close()
    [exchange] = ctx.out
    assert len(exchange.body) < 64 << 10 and exchange.method == "MESSAGE"
    assert len(handler.up.buf) == 0
    assert info.warnings == [("SIP 10.0.0.2:5000 -> 10.0.0.1:5060: a SIP message over 64 KiB "
                             "(its first 64 KiB were read); the rest of the connection was "
                             "not read")]

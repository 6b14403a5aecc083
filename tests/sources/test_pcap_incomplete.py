"""Nothing that survives is dropped (issue 15 point 3): a request cut by snaplen or a gap
is searched as far as its bytes go, and each observation says it came from an incomplete
request. The capture is the accuracy case recorded by `tcpdump -s 96`
(tests/accuracy/make_cases.py snaplen-96): of each segment only 30 bytes are in the file."""

from __future__ import annotations

import os
from pathlib import Path

from auditor.detect import INCOMPLETE_NOTE
from auditor.engine import analyze_files, build_audit
from auditor.model import InputInfo
from auditor.report.json_report import report_dict
from auditor.sources.pcap.http1 import HttpConversation
from auditor.sources.pcap.reader import read_pcap

CAPTURE = Path(__file__).resolve().parents[1] / "accuracy" / "cases" / "snaplen-96" / \
    "capture.pcap"


def test_requests_cut_by_a_short_snaplen_are_kept_as_far_as_they_go() -> None:
    info = InputInfo(path=str(CAPTURE), kind="pcap", size=os.path.getsize(CAPTURE))
    exchanges = [e for e in read_pcap(str(CAPTURE), info, keylogs=[], progress=None)
                 if e.transport == "http"]
    get, post = exchanges
    # the request line itself is cut: method and target as far as they go
    assert (get.method, get.url, get.incomplete) == (
        "GET", "http://u.cn.example/r?imei=868812035172641&v=", True)
    assert get.notes[0].endswith("the request line is cut there")
    # the head is cut after its first line; the body's first 30 bytes are a fragment
    assert (post.method, post.url, post.body, post.incomplete) == (
        "POST", "http://u.cn.example/bind", b"mobile=%2B8618611730452&nick=l", True)
    assert post.notes[-1] == "body fragments between gaps kept as captured"
    # the warnings stay
    assert any("the request there is incomplete" in w for w in info.warnings)
    assert info.warnings[-1].endswith("their missing bytes are reported as gaps")


def test_observations_say_they_come_from_an_incomplete_request() -> None:
    result = analyze_files([str(CAPTURE)], build_audit(device=None, pattern_mode=True))
    found = {(o.data_type, o.where, o.key): o for o in result.observations}
    assert set(found) == {("imei", "query", "imei"), ("phone_number", "body", "mobile")}
    assert all(o.detail.endswith("; " + INCOMPLETE_NOTE) for o in found.values())
    exchanges = report_dict(result)["exchanges"]
    assert [e.get("incomplete", False) for e in exchanges] == [False, True, True]  # DNS first


def test_a_cut_request_line_without_its_line_end() -> None:
    requests = []
    conv = HttpConversation(requests.append, lambda *_: None)
    conv.up.data(b"GET /r?imei=868812035172641&v=", 1.0, 4)
    conv.up.gap(84, 30)
    conv.up.data(b"POST /next HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", 2.0, 9)
    conv.close()
    assert [(r.method, r.target, r.version, r.incomplete, bytes(r.body)) for r in requests] == [
        ("GET", "/r?imei=868812035172641&v=", "", True, b""),
        ("POST", "/next", "1.1", False, b"ok")]


def test_a_long_upload_cut_in_every_segment_notes_few_gaps() -> None:
    requests = []
    conv = HttpConversation(requests.append, lambda *_: None)
    conv.up.data(b"POST /up HTTP/1.1\r\nContent-Length: 100000\r\n", 1.0, 1)
    conv.up.gap(1000, 44)
    for n in range(50):
        conv.up.data(b"x" * 30, 1.0, n + 2)
        conv.up.gap(1000, 1074 + n * 1030)
    conv.close()
    [request] = requests
    assert len(request.notes) == 6  # the cut, 3 gaps, "47 more", the fragments
    assert request.notes[4] == "47 more gaps in the upload after these"
    assert bytes(request.body) == b"\n".join([b"x" * 30] * 50)


def test_an_unknown_protocol_keeps_what_follows_a_gap() -> None:
    from auditor.sources.pcap.protocols import CaptureContext, Endpoints, RawHandler

    ctx = CaptureContext("t.pcap", InputInfo(path="t.pcap", kind="pcap"))
    ends = Endpoints("10.0.0.2:4000", "10.0.0.1:7000", "10.0.0.1", 1.0, 1, bytes_up=90)
    handler = RawHandler(ctx, ends)
    handler.up.data(b"HELLO imei=86881203", 1.0, 1)
    handler.up.gap(40, 19)
    handler.up.data(b"msisdn=+8618611730452", 1.1, 3)
    handler.close()
    [exchange] = ctx.out
    assert exchange.body == b"HELLO imei=86881203\nmsisdn=+8618611730452"
    assert exchange.incomplete and exchange.notes == (
        "gap: 40 bytes missing at stream offset 19",)

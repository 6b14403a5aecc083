"""Frame numbers a reader opens in Wireshark: each exchange's [first, last] frame, `last`
being the frame where Wireshark's HTTP dissector shows the request, and a display filter
that isolates its connection — checked against tshark on the recorded fixtures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from auditor_paths import FIXED, ROOT, SAMPLE

from auditor.model import InputInfo
from auditor.report.facts import display_filter
from auditor.sources.pcap.reader import read_pcap

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

PCAP = ROOT / "tests" / "fixtures" / "pcap"
TLS = ROOT / "tests" / "fixtures" / "tls"
#: (capture, key log): recorded by tcpdump from real servers and clients (see their READMEs)
RECORDED = [
    (SAMPLE / "capture.pcap", None),
    (FIXED / "capture.pcap", FIXED / "keys.log"),
    (PCAP / "http.pcap", None),
    (PCAP / "http.pcapng", None),
    (PCAP / "reorder.pcap", None),
    (PCAP / "vlan.pcap", None),
    (PCAP / "cooked_sll.pcap", None),
    (PCAP / "fragments.pcap", None),
    (PCAP / "two_interfaces.pcapng", None),
    (PCAP / "tls.pcap", PCAP / "tls_keys.log"),
    (TLS / "http1-keepalive.pcap", TLS / "http1-keepalive.keys"),
    (TLS / "websocket.pcap", TLS / "websocket.keys"),
]


def _exchanges(capture: Path, keylog: Path | None):
    info = InputInfo(path=str(capture), kind="pcap")
    return list(read_pcap(str(capture), info, keylogs=[str(keylog)] if keylog else [],
                          progress=None))


def _tshark(capture: Path, keylog: Path | None, display: str) -> list[int]:
    command = [TSHARK, "-n", "-o", "tcp.reassemble_out_of_order:TRUE"]
    if keylog:
        command += ["-o", f"tls.keylog_file:{keylog}"]
    command += ["-r", str(capture), "-Y", display, "-T", "fields", "-e", "frame.number"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return [int(line) for line in done.stdout.split()]


@pytest.mark.parametrize(("capture", "keylog"), RECORDED,
                         ids=[f"{c.parent.name}/{c.name}" for c, _ in RECORDED])
def test_last_frame_is_where_wireshark_shows_the_request(capture, keylog) -> None:
    exchanges = _exchanges(capture, keylog)
    requests = [e for e in exchanges if e.transport in ("http", "https") and e.method
                and not any("gap" in n or "ended before" in n for n in e.notes)]
    assert all(len(e.frames) == 2 and 1 <= e.frames[0] <= e.frames[1] for e in exchanges)
    # tshark prints a frame once even when it completes several pipelined requests
    assert sorted({e.frames[1] for e in requests}) == _tshark(capture, keylog, "http.request")
    for e in requests:
        assert f"#pkt {e.frames[0]}" in e.source  # first: where its first byte came


def test_http2_requests_point_at_their_headers_frame() -> None:
    capture, keylog = TLS / "h2-nginx.pcap", TLS / "h2-nginx.keys"
    frames = [e.frames for e in _exchanges(capture, keylog)]
    assert [last for _, last in frames] == _tshark(capture, keylog, "http2.headers.method")


def test_websocket_messages_point_at_their_frames() -> None:
    capture, keylog = TLS / "websocket.pcap", TLS / "websocket.keys"
    message = next(e for e in _exchanges(capture, keylog) if e.transport == "wss")
    shown = _tshark(capture, keylog, "websocket && tcp.srcport != 443")
    assert message.frames[0] in shown and message.frames[1] in shown


def test_the_2014_sample_points_at_frame_8_not_the_first_segment() -> None:
    exchanges = _exchanges(SAMPLE / "capture.pcap", None)
    assert [e.frames for e in exchanges] == [(1, 1), (6, 8), (17, 17), (19, 28), (40, 42),
                                             (54, 54), (66, 68)]


@pytest.mark.parametrize(("capture", "keylog"), RECORDED[:2], ids=["2014", "fixed"])
def test_display_filter_isolates_the_connection(capture, keylog) -> None:
    exchanges = _exchanges(capture, keylog)
    everything = set(_tshark(capture, keylog, "frame"))
    for exchange in exchanges:
        shown = set(_tshark(capture, keylog, display_filter(exchange)))
        first, last = exchange.frames
        assert first in shown and last in shown
        same = {f for other in exchanges if other.client == exchange.client
                and other.server == exchange.server for f in other.frames}
        others = {f for other in exchanges for f in other.frames} - same
        assert shown <= everything and not shown & others

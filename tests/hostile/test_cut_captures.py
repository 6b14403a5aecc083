"""Issue 16 point 2: a capture cut at any byte gives a report, never a traceback; cut
inside a packet, the report says so (property test over the recorded fixtures)."""

from __future__ import annotations

import json
import struct

from auditor_paths import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.cli import main

FIXTURES = ROOT / "tests" / "fixtures" / "pcap"
HTTP = (FIXTURES / "http.pcap").read_bytes()  # recorded by tcpdump on loopback
HTTP_NG = (FIXTURES / "http.pcapng").read_bytes()  # the same, converted by editcap


def _pcap_boundaries(data: bytes) -> set[int]:
    """Offsets where a pcap record starts (or the file ends)."""
    out, pos = {24}, 24
    while pos + 16 <= len(data):
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
        out.add(pos)
    return out


def _pcapng_boundaries(data: bytes) -> set[int]:
    out, pos = {0}, 0
    while pos + 12 <= len(data):
        pos += struct.unpack_from("<I", data, pos + 4)[0]
        out.add(pos)
    return out


BOUNDARIES = {"pcap": _pcap_boundaries(HTTP), "pcapng": _pcapng_boundaries(HTTP_NG)}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["pcap", "pcapng"]), fraction=st.floats(0, 1))
def test_a_capture_cut_at_any_byte(tmp_path, capsys, kind: str, fraction: float) -> None:
    data = HTTP if kind == "pcap" else HTTP_NG
    cut = int(fraction * (len(data) - 1))
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(data[:cut])
    out = tmp_path / "report.json"
    out.unlink(missing_ok=True)
    code = main(["analyze", str(path), "--format", "json", "-o", str(out), "--quiet",
                 "--fail-on", "none"])
    err = capsys.readouterr().err
    if code == 2:  # cut inside the file's own header: no capture at all, one line says so
        assert err.count("\n") == 1 and str(path) in err and cut < 64, (cut, err)
        return
    assert code == 0, err
    report = json.loads(out.read_text())
    warnings = report["inputs"][0]["warnings"]
    if cut not in BOUNDARIES[kind]:
        assert any("truncated" in w or "cut short" in w for w in warnings), (cut, warnings)

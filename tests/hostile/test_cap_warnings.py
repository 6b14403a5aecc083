"""Issue 16 I: every cap that cut something is a warning on the input that every report
format shows — a body cut at the size cap, decoding stopped at the depth cap (an IMEI
under 12 base64 layers), an over-long request head. The capture is recorded by tcpdump
(tests/fixtures/hostile/make_hostile.py)."""

from __future__ import annotations

import pytest
from auditor_paths import ROOT

from auditor.cli import main
from auditor.sources.pcap import http1

CAPTURE = ROOT / "tests" / "fixtures" / "hostile" / "hostile_http.pcap"
FORMATS = ["terminal", "markdown", "html", "json", "sarif", "junit"]
CUTS = ["body over 256 KiB; only the first 256 KiB were kept and searched",
        "decoding stopped at the depth cap (5 layers); what lies deeper was not searched",
        "request head over 256 KiB; its first 256 KiB were searched",
        "request line over 256 KiB",
        "br body would decode beyond the cap"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http1, "MAX_BODY", 256 << 10)  # the capture's big body is 300 KB
        out = {}
        for name in FORMATS:
            path = folder / f"report.{name}"
            assert main(["analyze", str(CAPTURE), "--format", name, "-o", str(path),
                         "--quiet", "--fail-on", "none"]) == 0
            out[name] = " ".join(path.read_text().split())  # whatever the line wrapping
    return out


@pytest.mark.parametrize("name", FORMATS)
def test_every_cut_is_shown_by_every_format(reports, name) -> None:
    missing = [cut for cut in CUTS if cut not in reports[name]]
    assert not missing, f"{name} does not show: {missing}"


def test_junit_with_warnings_is_still_valid(reports, tmp_path) -> None:
    from lxml import etree
    schema = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "schemas" / "junit-10.xsd")))
    path = tmp_path / "r.xml"
    assert main(["analyze", str(CAPTURE), "--format", "junit", "-o", str(path), "--quiet",
                 "--fail-on", "none"]) == 0
    assert schema.validate(etree.parse(str(path))), schema.error_log.last_error

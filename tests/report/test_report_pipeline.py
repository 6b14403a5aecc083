"""The bundled 2014 sample through the real pipeline, rendered in every format.

The other report tests use hand-made results; this one guards the seam with the engine.
"""

from __future__ import annotations

import json

import pytest

from auditor import PROJECT_ROOT
from auditor.report import FORMATS, render

CASE = PROJECT_ROOT / "captures" / "redmi-1s-2014"


@pytest.fixture(scope="module")
def sample():
    engine = pytest.importorskip("auditor.engine", reason="engine parts not merged yet")
    if not (CASE / "capture.pcap").exists():
        pytest.skip("the bundled sample is not there")
    audit = engine.build_audit(device=str(CASE / "device.yaml"))
    return engine.analyze_files([str(CASE / "capture.pcap")], audit)


def test_every_format_renders_the_sample_masked(sample) -> None:
    imeis = list(sample.profile.identifiers()["imei"])
    for fmt in FORMATS:
        text = render(sample, fmt)
        assert "api.account.xiaomi.com" in text, fmt
        assert not any(imei in text for imei in imeis), fmt


def test_json_of_the_sample_names_findings_and_destinations(sample) -> None:
    report = json.loads(render(sample, "json"))
    assert report["summary"]["verdict"] == "fail"
    rules = {f["rule"] for f in report["findings"]}
    assert "no-identifiers-before-opt-in" in rules
    hosts = {f["host"]: f["destination"] for f in report["findings"]}
    assert hosts["api.account.xiaomi.com"]["country"] == "CN"


def test_html_of_the_sample_has_its_timeline(sample) -> None:
    html = render(sample, "html")
    assert "<svg" in html and "The IMEI left the phone" in html

"""No profile, no false comfort: a pattern match's confidence decides its finding's severity."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from auditor_paths import FIXED, ROOT, SAMPLE
from judge_builders import exchange, observation

from auditor.cli import main
from auditor.judge import build_findings, evaluate, load_policies
from auditor.judge.confidence import pattern_severity
from auditor.model import Severity

FLOWS = ROOT / "tests" / "fixtures" / "flows"
DECOYS = ROOT / "tests" / "accuracy" / "cases"


def _pattern(data_type: str, confidence: float, **kw):
    return replace(observation(data_type, match="pattern", **kw), confidence=confidence)


@pytest.mark.parametrize(("confidence", "expected"), [
    (0.95, Severity.HIGH), (0.99, Severity.HIGH),  # evidence: one step up
    (0.9, Severity.MEDIUM), (0.8, Severity.MEDIUM),  # likely: as declared
    (0.75, Severity.LOW), (0.7, Severity.LOW),  # a hint: one step down
])
def test_confidence_bands(confidence, expected):
    obs = _pattern("imei", confidence)
    severity, note = pattern_severity(Severity.MEDIUM, "pattern", [obs])
    assert severity == expected
    assert bool(note) == (expected != Severity.MEDIUM)


def test_known_rules_keep_their_severity_and_critical_is_the_ceiling():
    strong = _pattern("imei", 0.95)
    assert pattern_severity(Severity.HIGH, "known", [strong]) == (Severity.HIGH, "")
    assert pattern_severity(Severity.HIGH, "any", [strong]) == (Severity.HIGH, "")
    assert pattern_severity(Severity.CRITICAL, "pattern", [strong])[0] == Severity.CRITICAL
    assert pattern_severity(Severity.INFO, "pattern",
                            [_pattern("imei", 0.5)])[0] \
        == Severity.INFO


def test_the_strongest_observation_of_a_finding_decides():
    policies = load_policies(None)
    upload = exchange(time=1.0, transport="http")
    observations = [_pattern("imei", 0.7, key="n"), _pattern("imsi", 0.95, key="imsi")]
    findings = build_findings(evaluate(policies, upload, observations, None, None), [upload])
    possible = {f.rule: f for f in findings}["possible-identifiers-before-opt-in"]
    assert possible.severity == Severity.HIGH
    assert "confidence 0.95" in possible.severity_note


def _json(capsys, *args) -> tuple[int, dict]:
    code = main(["analyze", *args, "--format", "json", "-q"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("capture", [SAMPLE / "capture.pcap", FLOWS / "handset.mitm",
                                     FLOWS / "handset.har"], ids=lambda p: p.name)
def test_the_2014_uploads_fail_without_a_profile(capsys, capture):
    code, report = _json(capsys, str(capture))
    assert code == 1
    assert report["summary"]["verdict"] == "fail"
    assert "no device profile" in report["summary"]["no_profile"]
    assert any(f["rule"] == "possible-identifiers-before-opt-in" and f["severity"] == "high"
               for f in report["findings"])


def test_the_fixed_firmware_still_passes_without_a_profile(capsys):
    code, report = _json(capsys, str(FIXED / "capture.pcap"), "--keylog",
                         str(FIXED / "keys.log"))
    assert code == 0, report["findings"]


@pytest.mark.parametrize("case", ["decoy-blobs", "decoy-identifiers"])
def test_decoys_stay_quiet_without_a_profile(capsys, case):
    code, report = _json(capsys, str(DECOYS / case / "capture.pcap"))
    assert code == 0
    assert not [f for f in report["findings"] if f["severity"] in ("high", "critical")]


def test_the_report_says_plainly_that_no_profile_was_given(capsys):
    main(["analyze", str(SAMPLE / "capture.pcap"), "-q", "--no-color"])
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "no device profile (--device)" in out
    assert "a PASS is no proof of a clean phone" in out
    main(["analyze", str(SAMPLE / "capture.pcap"), "--device", str(SAMPLE / "device.yaml"),
          "-q"])
    assert "no device profile" not in capsys.readouterr().out
    _, report = _json(capsys, str(SAMPLE / "capture.pcap"), "--device",
                         str(SAMPLE / "device.yaml"))
    assert "no_profile" not in report["summary"]


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_markdown_and_html_say_it_too(capsys, fmt):
    main(["analyze", str(SAMPLE / "capture.pcap"), "-q", "--format", fmt])
    assert "no device profile (--device)" in capsys.readouterr().out

"""Every report format names the app, the SDKs beside the organisation, and the source of
each attribution (capture metadata, tracker list + SHA-256, organisation map, declaration)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from auditor.engine import analyze_files, build_audit
from auditor.report import render

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "captures" / "pcapdroid-apps"
TRACKERS_SHA = "4fe6319f60286db64cf71b93597610a0b676135162b009b2845fe271dff905b7"
DECLARED_SHA = hashlib.sha256((CASE / "declared.yaml").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def result():
    audit = build_audit(device=str(CASE / "device.yaml"),
                        policies=[str(ROOT / "rules"), str(CASE / "policy.yaml")],
                        declared=[str(CASE / "declared.yaml")])
    return analyze_files([str(CASE / "capture.pcap")], audit)


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "html", "json", "sarif", "junit"])
def test_each_format_names_app_sdks_and_sources(result, fmt):
    text = render(result, fmt)
    if fmt in ("json", "sarif"):
        text = json.dumps(json.loads(text), ensure_ascii=False)  # one line per fact
    else:
        text = " ".join(text.split())  # terminal and HTML wrap long lines
    assert "Weather (uid 10123)" in text
    assert "Google Firebase Analytics" in text
    assert TRACKERS_SHA in text
    if fmt != "junit":  # JUnit lists findings per rule; the receiver is in the failure text
        assert DECLARED_SHA in text
    assert "Facebook Ads" in text and "Facebook Share" in text


def test_json_carries_app_per_exchange_and_receiver_per_destination(result):
    report = json.loads(render(result, "json"))
    apps = {(e["host"], e["transport"]): e["app"] for e in report["exchanges"]}
    assert apps[("www.google.com", "http")] == {"uid": 10087, "package": "", "name": "Chrome",
                                                "source": "PCAPdroid pcap trailer"}
    firebase = next(e["destination"] for e in report["exchanges"]
                    if e["host"] == "firebaselogging-pa.googleapis.com")
    assert firebase["organisation"] == "Google"
    assert firebase["trackers"] == ["Google Firebase Analytics"]
    assert firebase["tracker_categories"] == ["Analytics"]
    assert firebase["named_by"] == ["organisation map", "Exodus tracker list"]
    attribution = report["attribution"]
    assert attribution["app_metadata"] == [{"source": "PCAPdroid pcap trailer",
                                            "input": str(CASE / "capture.pcap")}]
    assert attribution["tracker_list"]["sha256"] == TRACKERS_SHA
    assert attribution["declarations"][0]["sha256"] == DECLARED_SHA
    assert {f["app"] for f in report["findings"]} == {"Weather (uid 10123)"}


def test_terminal_groups_uploads_and_findings_by_app(result):
    text = render(result, "terminal")
    assert "Weather (uid 10123): 6 uploads, 13 findings" in text
    assert "Chrome (uid 10087): 2 uploads, 0 findings" in text

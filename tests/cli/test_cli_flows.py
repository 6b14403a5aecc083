"""`auditor analyze` on flow files and HAR saved by a real mitmdump (tests/fixtures/flows)."""

import json

import pytest
from auditor_paths import ROOT

from auditor.cli import main

FLOWS = ROOT / "tests" / "fixtures" / "flows"


def findings(tmp_path, capture):
    out = tmp_path / "r.json"
    main(["analyze", str(capture), "--format", "json", "-o", str(out), "--fail-on", "none",
          "--device", str(ROOT / "tests" / "detect" / "data" / "device.yaml")])
    report = json.loads(out.read_text())
    return report, sorted((f["rule"], f["host"], tuple(f["data_types"])) for f in report["findings"])


@pytest.mark.parametrize("name, kind", [("handset.mitm", "mitm"), ("handset.har", "har")])
def test_flow_file_and_har_are_audited(tmp_path, name, kind):
    report, found = findings(tmp_path, FLOWS / name)
    assert report["inputs"][0]["kind"] == kind
    types = {t for _, _, ts in found for t in ts}
    assert {"imei", "imsi", "phone_number", "iccid"} <= types


def test_flow_file_and_har_of_one_session_agree(tmp_path):
    assert findings(tmp_path, FLOWS / "handset.mitm")[1] == findings(tmp_path, FLOWS / "handset.har")[1]

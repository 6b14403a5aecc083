"""The JSON report of each bundled case is a reviewed golden file (Zeek-style).

A change to what the audit finds or how it is reported shows up here as a diff to review.
After reviewing, refresh with:  AUDITOR_UPDATE_GOLDEN=1 python3 -m pytest tests/golden
"""

import os

import pytest
from auditor_paths import ROOT

from auditor.cli import main

CASES = {
    "redmi-1s-2014": [],
    "redmi-1s-fixed": ["--keylog", "captures/redmi-1s-fixed/keys.log"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_report_matches_the_golden_file(case, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # input paths in the report are as given: keep them relative
    out = tmp_path / "report.json"
    main(["analyze", f"captures/{case}/capture.pcap", "--device", f"captures/{case}/device.yaml",
          *CASES[case], "--format", "json", "--output", str(out)])
    golden = ROOT / "tests" / "golden" / f"{case}.json"
    if os.environ.get("AUDITOR_UPDATE_GOLDEN"):
        golden.write_text(out.read_text())
    assert out.read_text() == golden.read_text()

"""`auditor check` and the pytest plugin on case folders: a new leak must break the build."""

import json
import subprocess
import sys

import pytest
from auditor_paths import ROOT
from lxml import etree

from auditor.cli import main

JUNIT_XSD = ROOT / "tests" / "schemas" / "junit-10.xsd"

#: expect.yaml for the sample minus the IMSI leak: the capture still carries it.
WITHOUT_IMSI = """\
policies: [{rules}]
expect:
  - {{rule: no-identifiers-before-opt-in, host: api.account.xiaomi.com, data: [imei, phone_number]}}
  - {{rule: no-content-before-opt-in, data: [contacts]}}
  - {{rule: no-cleartext-personal-data}}
  - {{rule: no-readable-phone-numbers}}
  - {{rule: unreadable-uploads-before-opt-in}}
"""


def test_bundled_cases_pass():
    assert main(["check", str(ROOT / "captures")]) == 0


def test_expected_findings_pass(sample_case):
    assert main(["check", str(sample_case)]) == 0


def test_a_new_leak_fails_and_says_what_it_is(sample_case, capsys):
    (sample_case / "expect.yaml").write_text(
        "policies: [{}]\nexpect:\n  - {{rule: no-readable-phone-numbers}}\n".format(ROOT / "rules"))
    assert main(["check", str(sample_case)]) == 1
    err = capsys.readouterr().out
    assert "FAIL" in err
    assert "unexpected finding" in err and "no-identifiers-before-opt-in" in err
    assert "api.account.xiaomi.com" in err


def test_a_missing_expected_finding_fails_with_file_and_line(sample_case, capsys):
    (sample_case / "expect.yaml").write_text(
        "policies: [{}]\nallow_unexpected: true\nexpect:\n"
        "  - {{rule: no-identifiers-before-opt-in, data: [iccid]}}\n".format(ROOT / "rules"))
    assert main(["check", str(sample_case)]) == 1
    err = capsys.readouterr().out
    assert "expect.yaml:4: expected at least 1 finding(s) with rule=no-identifiers-before-opt-in" in err


def test_count_is_exact(sample_case):
    (sample_case / "expect.yaml").write_text(
        "policies: [{}]\nallow_unexpected: true\nexpect:\n"
        "  - {{rule: no-identifiers-before-opt-in, count: 2}}\n".format(ROOT / "rules"))
    assert main(["check", str(sample_case)]) == 1


def test_baselined_leak_passes(sample_case, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert main(["analyze", str(sample_case / "capture.pcap"), "--device",
                 str(sample_case / "device.yaml"), "--format", "json", "-o", str(baseline)]) == 1
    (sample_case / "expect.yaml").write_text("policies: [{}]\nexpect: []\n".format(ROOT / "rules"))
    assert main(["check", str(sample_case)]) == 1
    assert main(["check", str(sample_case), "--baseline", str(baseline)]) == 0
    # and analyze honours it the same way
    assert main(["analyze", str(sample_case / "capture.pcap"), "--device",
                 str(sample_case / "device.yaml"), "--format", "json", "-o", "/dev/null",
                 "--baseline", str(baseline)]) == 0


@pytest.mark.parametrize("expires, code", [("2999-12-31", 0), ("2020-01-01", 1)])
def test_suppressed_leak_passes_until_the_suppression_expires(sample_case, tmp_path, expires, code,
                                                             capsys):
    (sample_case / "expect.yaml").write_text("policies: [{}]\nexpect: []\n".format(ROOT / "rules"))
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("suppressions:\n  - rule: '*'\n    host: '*.xiaomi.com'\n"
                      f"    reason: vendor cloud, accepted by DPO\n    expires: {expires}\n")
    assert main(["check", str(sample_case), "--ignore", str(ignore)]) == code
    if code:
        assert "suppression expired on 2020-01-01" in capsys.readouterr().out


def test_bad_expect_file_is_named_with_its_line(sample_case, capsys):
    (sample_case / "expect.yaml").write_text("expect:\n  - {rule: x, colour: red}\n")
    assert main(["check", str(sample_case)]) == 2
    assert "expect.yaml:2: unknown key 'colour'" in capsys.readouterr().out


def test_check_junit_validates_against_the_schema(sample_case, tmp_path):
    out = tmp_path / "check.xml"
    (sample_case / "expect.yaml").write_text(WITHOUT_IMSI.format(rules=ROOT / "rules"))
    main(["check", str(sample_case), "--format", "junit", "-o", str(out)])
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    doc = etree.parse(str(out))
    assert schema.validate(doc), schema.error_log
    assert len(doc.findall(".//testcase")) == 6
    assert doc.findall(".//failure") == []


def test_check_writes_html_reports_and_an_index(tmp_path):
    out = tmp_path / "html"
    main(["check", str(ROOT / "captures"), "--html", str(out)])
    cases = len(list((ROOT / "captures").glob("*/expect.yaml")))
    assert (out / "index.html").read_text().count('<td><a href="') == cases
    assert "api.account.xiaomi.com" in (out / "redmi-1s-2014.html").read_text()


def test_pytest_plugin_collects_case_folders(sample_case):
    (sample_case / "expect.yaml").write_text(
        "policies: [{}]\nexpect:\n  - {{rule: no-readable-phone-numbers}}\n".format(ROOT / "rules"))
    done = subprocess.run([sys.executable, "-m", "pytest", str(sample_case), "-q",
                           "-p", "no:cacheprovider"],
                          capture_output=True, text=True, timeout=120, cwd=sample_case,
                          check=False)
    assert "1 failed" in done.stdout, done.stdout
    assert "unexpected finding" in done.stdout
    assert "findings found:" in done.stdout


def test_sarif_from_analyze_names_the_capture(tmp_path):
    out = tmp_path / "r.sarif"
    main(["analyze", str(ROOT / "captures/redmi-1s-2014/capture.pcap"), "--format", "sarif",
          "-o", str(out), "--device", str(ROOT / "captures/redmi-1s-2014/device.yaml")])
    log = json.loads(out.read_text())
    results = log["runs"][0]["results"]
    assert results and all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                           for r in results)

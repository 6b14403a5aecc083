"""JUnit XML: valid against junit-10.xsd; a testsuite per capture, a testcase per rule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from report_samples import IMEI, sample_result

from auditor.report import render
from auditor.report.junit import JUnitCase, JUnitSuite, junit_xml

XSD_PATH = Path(__file__).resolve().parents[1] / "schemas/junit-10.xsd"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def _parse(text: str) -> etree._Element:
    return etree.fromstring(text.encode("utf-8"))


def test_valid_against_the_xsd(result, empty, schema) -> None:
    for res in (result, empty):
        document = _parse(render(res, "junit"))
        assert schema.validate(document), schema.error_log


def test_xsd_rejects_a_broken_document(schema) -> None:
    broken = _parse('<testsuites><testsuite name="x"><testcase name="y"/></testsuite>'
                    "</testsuites>")  # testsuite lacks tests/failures/errors
    assert not schema.validate(broken)


def test_suite_per_capture_case_per_rule_failure_per_violated_rule(result) -> None:
    root = _parse(render(result, "junit"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["captures/redmi-1s-2014/capture.pcap"]
    cases = suites[0].findall("testcase")
    assert len(cases) == 4 and suites[0].get("tests") == "4"
    failed = {c.get("name").split(":")[0] for c in cases if c.find("failure") is not None}
    assert failed == {"no-content-before-opt-in", "no-identifiers-before-opt-in",
                      "no-pattern-advertising-id"}
    assert suites[0].get("failures") == "3" and root.get("failures") == "3"
    failure = next(c for c in cases if c.get("name").startswith("no-identifiers")).find("failure")
    assert "its IMEI, its IMSI and its phone number to api.account.xiaomi.com" in failure.get("message")
    assert "query imei [query:imei → plain] imei = 86720302*****37" in failure.text
    assert "POST http://api.account.xiaomi.com/pass/v3/register" in failure.text


def test_masked_unless_reveal(result) -> None:
    assert IMEI not in render(result, "junit")
    assert IMEI in render(result, "junit", reveal=True)


def test_control_characters_from_a_capture_stay_valid_xml(result, schema) -> None:
    findings = [replace(f, host="evil\x00\x07host<&>") for f in result.findings]
    document = _parse(render(sample_result(findings=findings), "junit"))
    assert schema.validate(document)
    assert "evil\ufffd\ufffdhost<&>" in etree.tostring(document, encoding="unicode",
                                                       method="text")


def test_generic_writer_for_check(schema) -> None:
    text = junit_xml([JUnitSuite("captures/case-a", [
        JUnitCase("expect no-identifiers-before-opt-in", "case-a", time=0.25),
        JUnitCase("unexpected findings", "case-a", failure="F1 imei to x\nmore", time=1.5,
                  system_out="ran"),
    ], timestamp="2014-08-01T10:00:00", properties={"device": "device.yaml"})])
    document = _parse(text)
    assert schema.validate(document), schema.error_log
    suite = document.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert suite.get("time") == "1.750"
    failure = suite.findall("testcase")[1].find("failure")
    assert failure.get("message") == "F1 imei to x" and failure.text == "F1 imei to x\nmore"
    assert suite.find("properties/property").get("value") == "device.yaml"

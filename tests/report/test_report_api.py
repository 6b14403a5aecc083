"""The package API: formats, output file names, the live line of `auditor proxy`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import pytest
from report_samples import CN, IMEI, LAN, RULES

from auditor.model import Exchange, Observation, Severity
from auditor.report import FORMATS, format_for_path, render
from auditor.report.common import destination_label
from auditor.report.live import upload_line


@pytest.mark.parametrize(("path", "fmt"), [
    ("out/report.json", "json"), ("r.md", "markdown"), ("r.markdown", "markdown"),
    ("r.HTML", "html"), ("r.htm", "html"), ("r.sarif", "sarif"), ("r.sarif.json", "sarif"),
    ("r.xml", "junit"), ("r.junit.xml", "junit"), ("r.txt", "terminal"),
])
def test_format_for_path(path: str, fmt: str) -> None:
    assert format_for_path(path) == fmt


def test_unknown_extension_says_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"report\.pdf: cannot tell.*end it with one of .*for a PDF"):
        format_for_path("report.pdf")


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="choose one of terminal, markdown"):
        render(None, "pdf")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_sample_and_the_empty_result(fmt, result, empty) -> None:
    assert "api.account.xiaomi.com" in render(result, fmt)
    assert render(empty, fmt)


@dataclass
class Hit:
    rule: object
    exchange: Exchange
    observations: tuple[Observation, ...]
    consent: str


def test_live_line() -> None:
    moment = 1406887200.4
    exchange = Exchange(id=2, time=moment, client="", server="42.62.48.210:80",
                        host="api.account.xiaomi.com", transport="http", method="GET",
                        url=f"http://api.account.xiaomi.com/v1/check?imei={IMEI}")
    seen = (Observation(2, "imei", "query", "imei", ("plain",), "known", IMEI),)
    hit = Hit(RULES[1], exchange, seen, "before-opt-in")
    line = upload_line(exchange, seen, [hit], CN).plain
    assert line.startswith(time.strftime("%H:%M:%S", time.localtime(moment)) + "  ")
    assert "api.account.xiaomi.com (CN, AS4808" in line
    assert "GET /v1/check?imei=86720302*****37  IMEI  " in line and IMEI not in line
    assert "no-identifiers-before-opt-in [high]" in line and "before-opt-in" in line
    assert IMEI in upload_line(exchange, seen, [hit], None, reveal=True).plain
    assert Severity.HIGH == RULES[1].severity


def test_the_engine_result_renders(result) -> None:
    engine = pytest.importorskip("auditor.engine", reason="engine parts not merged yet")
    real = engine.AuditResult(
        inputs=result.inputs, exchanges=result.exchanges, observations=result.observations,
        findings=result.findings, opt_in_at=result.opt_in_at,
        opt_in_source=result.opt_in_source, profile=result.profile, policies=result.policies,
        destinations=result.destinations)
    for fmt in FORMATS:
        assert "api.account.xiaomi.com" in render(real, fmt)


def test_network_name_shown_when_the_data_has_no_as_number() -> None:
    nameless = replace(CN, asn=None, as_name="IDC, China Telecommunications Corporation")
    assert destination_label(nameless) == "CN, IDC, China Telecommunications Corporation, Xiaomi"
    assert destination_label(LAN) == "private address"

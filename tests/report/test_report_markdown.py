"""Markdown for pull-request comments: structure, masking, and escaping of captured text."""

from __future__ import annotations

from dataclasses import replace

from report_samples import IMEI, sample_result

from auditor.report import render
from auditor.report.markdown import md, raw_html


def test_verdict_table_and_collapsible_evidence(result) -> None:
    out = render(result, "markdown")
    assert out.startswith("## ❌ handset-auditor: **FAIL**")
    assert "| F2 | critical | no\\-content" not in out  # ids are not over-escaped
    assert "| F2 | critical | no-content-before-opt-in | api.account.xiaomi.com |" in out
    # one collapsible block per upload with evidence (#2, #4, #6), not one per finding, and
    # one for what else was sent
    assert out.count("<details><summary>") == 4 == out.count("</details>")
    assert out.count("<details><summary>#") == 3
    assert "| IMEI (known) | query imei | query:imei → plain | 86720302\\*\\*\\*\\*\\*37 |" in out
    assert "1 encrypted upload to 1 host could not be read" in out
    assert "TCP gap of 1460 bytes" in out
    assert "Opt-in: +41.0 s (2014-08-01T10:00:41.000Z), from policy consent" in out
    assert "geolocation: geoip2fast 1.2.2 (data of 2024-05-07)" in out


def test_values_masked_unless_reveal(result) -> None:
    masked = render(result, "markdown")
    assert IMEI not in masked and "15627394810" not in masked
    revealed = render(result, "markdown", reveal=True)
    assert IMEI in revealed and "personal data unmasked" in revealed


def test_escaping_of_table_breakers_code_spans_html_and_mentions() -> None:
    assert md("a|b") == "a\\|b"
    assert md("`rm -rf`") == "\\`rm -rf\\`"
    assert md("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md("[click](http://x)") == "\\[click\\](http://x)"
    assert md("line1\nline2") == "line1 line2"
    assert md("@octocat") == "&#64;octocat"
    assert raw_html('"><svg onload=x></summary>') == (
        "&quot;&gt;&lt;svg onload=x&gt;&lt;/summary&gt;")


def test_hostile_capture_text_cannot_break_the_table_or_inject_html(result) -> None:
    hostile_host = "evil|host`<b>x</b>\n| F9 | critical |"
    exchanges = list(result.exchanges)
    exchanges[1] = replace(exchanges[1], url="http://h/p?a=|`<script>x</script>")
    findings = [replace(f, host=hostile_host) for f in result.findings]
    out = render(sample_result(findings=findings, exchanges=exchanges), "markdown")
    assert "<script>" not in out and "<b>" not in out
    table_rows = [line for line in out.splitlines() if line.startswith("| F")]
    assert len(table_rows) == 3
    for row in table_rows:  # the host cell did not add columns
        assert row.replace("\\|", "").count("|") == 9


def test_empty_result(empty) -> None:
    out = render(empty, "markdown")
    assert "**PASS**" in out and "no findings" in out and "<details>" not in out

"""The terminal report, rendered by rich at a fixed width without colors."""

from __future__ import annotations

import io
from dataclasses import replace

from report_samples import CONTACT_NAME, IMEI, IMSI, PHONE, sample_result
from rich.console import Console

from auditor.model import Severity
from auditor.report import print_terminal, render


def _terminal(result, **kw) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    print_terminal(result, console, **kw)
    return console.file.getvalue()


def test_verdict_headline_table_and_evidence(result) -> None:
    out = _terminal(result)
    assert "FAIL" in out and "1 critical, 1 high, 1 low" in out
    flat = " ".join(out.replace("│", " ").split())
    assert ("The handset sent a contact's phone number (1 of 1 canary contact) in clear text "
            "to api.account.xiaomi.com (CN, AS4808 China Unicom Beijing Province Network, "
            "Xiaomi) 12.0 s after the capture started, 29.0 s before the user opted in.") in flat
    # most severe first in the table and in the details
    assert out.index("F2 [critical]") < out.index("F1 [high]") < out.index("F3 [low]")
    assert "+0.4 s; 40.6 s before opt-in" in out
    assert "42.62.48.210" in out
    assert "query imei" in out and "query:phone → percent → plain" in out
    assert "IMEI = 86720302*****37" in out
    assert "pattern (confidence 0.70)" in out


def test_identifiers_are_masked_by_default_everywhere(result) -> None:
    out = _terminal(result)
    for secret in (IMEI, IMSI, PHONE, "15627394810", CONTACT_NAME):
        assert secret not in out


def test_reveal_shows_values_and_says_so(result) -> None:
    out = _terminal(result, reveal=True)
    assert IMEI in out and PHONE in out
    assert "personal data unmasked" in out


def test_unreadable_uploads_and_input_warnings_are_listed(result) -> None:
    flat = " ".join(_terminal(result).split())
    assert "1 encrypted upload to 1 host could not be read" in flat
    assert "data.mistat.xiaomi.com" in flat and "1800 bytes up" in flat
    assert "TCP gap of 1460 bytes" in flat


def test_fail_on_decides_the_verdict(result) -> None:
    assert "FAIL" in _terminal(result, fail_on=Severity.CRITICAL).split("\n")[1]
    no_critical = sample_result(findings=[f for f in result.findings
                                          if f.severity < Severity.CRITICAL])
    assert "PASS" in _terminal(no_critical, fail_on=Severity.CRITICAL).split("\n")[1]
    assert "FAIL" in _terminal(no_critical, fail_on=Severity.HIGH).split("\n")[1]


def test_empty_result_passes(empty) -> None:
    out = _terminal(empty)
    assert "PASS" in out and "no findings" in out
    assert "0 uploads to 0 hosts checked" in out


def test_captured_text_is_not_console_markup(result) -> None:
    hostile = sample_result(findings=[replace(result.findings[0],
                                              host="[bold red]evil[/] host")])
    out = _terminal(hostile)
    assert "[bold red]evil[/] host" in out


def test_render_terminal_is_plain_text(result) -> None:
    out = render(result, "terminal")
    assert "\x1b[" not in out
    assert "FAIL" in out


def test_narrow_terminal_keeps_what_tells_findings_apart(result) -> None:
    console = Console(file=io.StringIO(), width=50, color_system=None)
    print_terminal(result, console)
    out = console.file.getvalue()
    assert max(len(line) for line in out.splitlines()) <= 50
    assert "F2" in out and "critical" in out and "86720302*****37" in out
    assert IMEI not in out

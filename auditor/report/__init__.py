"""Reports: one renderer per format, all pure functions of an `AuditResult`.

Values of the device are masked in every format unless `reveal=True`. What the formats
say in common (verdict, headline, times, destinations, sorting) comes from `view`.

Adding to the reports: a count or an exact phrase goes into `facts` (computed once, used by
every format); a rule's result into `outcomes`; a display record or field into `view`
(`ReportView`, `FindingView`, `ExchangeView`, `HostView`), which terminal, Markdown, HTML and
JUnit lay out; JSON fields into `json_report` with their meaning beside them. The HTML is
`templates/report.html.j2` plus one part per section (`_rules`, `_evidence`, `_timeline`,
`_setup`, `_method`, `_style.css`): a new section is a new part and one include line.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from rich.console import Console

from auditor.model import Severity
from auditor.report.terminal import print_view
from auditor.report.view import build_view

if TYPE_CHECKING:
    from auditor.engine import AuditResult

FORMATS = ("terminal", "markdown", "html", "json", "sarif", "junit")

#: Width of the terminal report when it is written to a file.
FILE_WIDTH = 120

_EXTENSIONS = (
    (".sarif.json", "sarif"),
    (".junit.xml", "junit"),
    (".json", "json"),
    (".md", "markdown"),
    (".markdown", "markdown"),
    (".html", "html"),
    (".htm", "html"),
    (".sarif", "sarif"),
    (".xml", "junit"),
    (".txt", "terminal"),
)


def render(result: AuditResult, fmt: str, *, reveal: bool = False,
           fail_on: Severity = Severity.HIGH) -> str:
    """The text of the report in format `fmt` (one of FORMATS); terminal as plain text."""
    if fmt == "terminal":
        buffer = io.StringIO()
        print_terminal(result, Console(file=buffer, width=FILE_WIDTH, color_system=None,
                                       force_terminal=False), reveal=reveal, fail_on=fail_on)
        return buffer.getvalue()
    if fmt == "markdown":
        from auditor.report.markdown import render_markdown

        return render_markdown(build_view(result, reveal=reveal, fail_on=fail_on))
    if fmt == "json":
        from auditor.report.json_report import render_json

        return render_json(result, reveal=reveal, fail_on=fail_on)
    if fmt == "sarif":
        from auditor.report.sarif import render_sarif

        return render_sarif(result, reveal=reveal)
    if fmt == "junit":
        from auditor.report.junit import render_junit

        return render_junit(result, reveal=reveal)
    if fmt == "html":
        from auditor.report.html import render_html

        return render_html(result, reveal=reveal, fail_on=fail_on)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write(result: AuditResult, fmt: str, stream: Any, *, reveal: bool = False,
          fail_on: Severity = Severity.HIGH) -> None:
    """Write the report to a text stream; JSON goes out record by record (large captures)."""
    if fmt == "json":
        from auditor.report.json_report import iter_json

        for piece in iter_json(result, reveal=reveal, fail_on=fail_on):
            stream.write(piece)
        return
    text = render(result, fmt, reveal=reveal, fail_on=fail_on)
    stream.write(text if text.endswith("\n") else text + "\n")


def print_terminal(result: AuditResult, console: Console, *, reveal: bool = False,
                   fail_on: Severity = Severity.HIGH) -> None:
    """Print the terminal report; colors only if `console` has them."""
    print_view(build_view(result, reveal=reveal, fail_on=fail_on), console)


def format_for_path(path: str) -> str:
    """The report format an output file's extension asks for."""
    name = path.lower()
    for extension, fmt in _EXTENSIONS:
        if name.endswith(extension):
            return fmt
    known = ", ".join(extension for extension, _ in _EXTENSIONS)
    pdf = (" (for a PDF, write .html and print it to PDF from a browser)"
           if name.endswith(".pdf") else "")
    raise ValueError(f"{path}: cannot tell the report format from the file name; end it "
                     f"with one of {known}{pdf}")

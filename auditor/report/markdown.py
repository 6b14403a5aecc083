"""Markdown for a pull-request comment: verdict, findings table, collapsible evidence.

Captured text is untrusted: in Markdown context it is HTML-escaped and every character that
could start a code span, emphasis, link, table cell or mention is escaped; inside the raw
HTML of `<summary>` it is HTML-escaped only (Markdown is not processed there, so
backslashes would show). Line breaks become spaces so nothing can end a table row.
"""

from __future__ import annotations

import html
import re

from auditor.report.common import plural
from auditor.report.view import FindingView, ReportView

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]|~])")


def md(text: str) -> str:
    """`text` safe as inline Markdown (also in a table cell)."""
    text = " ".join(str(text).splitlines())
    text = html.escape(text, quote=False)
    text = _MARKDOWN_SPECIALS.sub(r"\\\1", text)
    # An @name in a pull-request comment would notify that user.
    return text.replace("@", "&#64;")


def raw_html(text: str) -> str:
    """`text` safe inside a raw HTML block, where Markdown escapes are not processed."""
    return html.escape(" ".join(str(text).splitlines()), quote=True).replace("@", "&#64;")


def render_markdown(view: ReportView) -> str:
    out: list[str] = []
    counts = ", ".join(f"{n} {name}" for name, n in view.counts.items() if n) or "no findings"
    icon = "❌" if view.verdict == "FAIL" else "✅"
    out.append(f"## {icon} handset-auditor: **{view.verdict}**")
    out.append("")
    out.append(f"Fails on **{view.fail_on}** and above · {counts}")
    out.append("")
    out.append(f"> {md(view.headline)}")
    out.append("")
    out.append(f"Opt-in: {md(view.opt_in)}"
               + (f" · geolocation: {md(view.geo_data)}" if view.geo_data else ""))
    out.append("")
    if view.reveal:
        out += ["**⚠ This report contains personal data unmasked.**", ""]
    if view.findings:
        apps = any(f.app for f in view.findings)  # a column only when the capture names apps
        out.append("| id | severity | rule | host | destination | data | exchanges | consent |"
                   + (" app |" if apps else ""))
        out.append("|---|---|---|---|---|---|---:|---|" + ("---|" if apps else ""))
        for f in view.findings:
            out.append(f"| {f.id} | {f.severity} | {md(f.rule)} | {md(f.host)} | "
                       f"{md(f.destination)} | {md(', '.join(f.data_types))} | {f.exchanges} "
                       f"| {f.consent} |" + (f" {md(f.app)} |" if apps else ""))
        out.append("")
        for f in view.findings:
            out += _evidence(f)
    out += _unreadable(view)
    out += _attribution(view)
    out += _warnings(view)
    if view.suppressed:
        out.append(f"{plural(len(view.suppressed), 'finding')} baselined or suppressed: "
                   + ", ".join(f"{md(f.rule)} @ {md(f.host)}" for f in view.suppressed))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _attribution(view: ReportView) -> list[str]:
    """Findings per app, and where the names of apps, SDKs and organisations came from."""
    out: list[str] = []
    if view.apps:
        out += ["", "### Apps", "", "| app | uploads | findings |", "|---|---:|---:|"]
        out += [f"| {md(app)} | {uploads} | {findings} |" for app, uploads, findings in view.apps]
        out.append("")
    if view.attribution:
        out += ["", "### Attribution sources", ""]
        out += [f"- {md(line)}" for line in view.attribution]
        out.append("")
    return out


def _evidence(f: FindingView) -> list[str]:
    summary = (f"<details><summary>{raw_html(f.id)} {raw_html(f.severity)} — "
               f"{raw_html(f.rule)}: {raw_html(f.title)} ({raw_html(f.host)})</summary>")
    out = [summary, ""]
    server = f" ({md(f.server_ip)})" if f.server_ip else ""
    destination = f" — {md(f.destination)}" if f.destination else ""
    out.append(f"- **host:** {md(f.host)}{server}{destination}")
    when = f"{f.since_start}; {f.opt_in}" if f.since_start else f.opt_in
    out.append(f"- **when:** {md(when)}")
    out.append(f"- **data:** {md(', '.join(f.data_types))}")
    if f.app:
        out.append(f"- **app:** {md(f.app)}")
    if f.receiver:
        out.append(f"- **receiver:** {md(f.receiver)}")
    if f.description:
        out.append(f"- **why it matters:** {md(f.description)}")
    out.append("")
    out.append("| exchange | request | where | key | decoded | value | match |")
    out.append("|---|---|---|---|---|---|---|")
    shown_exchange = None
    for e in f.evidence:
        match = e.match + (", hashed" if e.hashed else "")
        request = md(e.request_line) if e.exchange != shown_exchange else "″"
        shown_exchange = e.exchange
        out.append(f"| #{e.exchange} {md(e.time)} | {request} | {md(e.where)} | "
                   f"{md(e.key)} | {md(e.chain)} | {md(e.data_type)}: {md(e.value)} | "
                   f"{md(match)} |")
    out += ["", "</details>", ""]
    return out


def _unreadable(view: ReportView) -> list[str]:
    if not view.unreadable_count:
        return []
    heading = (f"**{plural(view.unreadable_count, 'encrypted upload')} to "
               f"{plural(len(view.unreadable_hosts), 'host')} could not be read:**")
    out = [heading, ""]
    for h in view.unreadable_hosts:
        where = f" ({md(h.destination)})" if h.destination else ""
        transports = md("/".join(h.unreadable_transports))
        out.append(f"- {md(h.host)}{where}: {h.unreadable} × {transports}, "
                   f"{h.bytes_up} bytes up")
    return out + [""]


def _warnings(view: ReportView) -> list[str]:
    if not view.warnings:
        return []
    out = ["**Input warnings** (skipped or damaged):", ""]
    out += [f"- {md(path)}: {md(warning)}" for path, warning in view.warnings]
    return out + [""]

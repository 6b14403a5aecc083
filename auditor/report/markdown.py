"""Markdown for a pull-request comment: verdict, rule results, findings table, and the
evidence of each upload once, collapsible, which the findings refer to by `#id`.

Captured text is untrusted: in Markdown context it is HTML-escaped and every character that
could start a code span, emphasis, link, table cell or mention is escaped; inside the raw
HTML of `<summary>` it is HTML-escaped only (Markdown is not processed there, so
backslashes would show). Line breaks become spaces so nothing can end a table row.
"""

from __future__ import annotations

import html
import re

from auditor.report.common import plural
from auditor.report.view import ExchangeView, ReportView

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
    icon = {"FAIL": "❌", "INCOMPLETE": "⚠️"}.get(view.verdict, "✅")
    out.append(f"## {icon} handset-auditor: **{view.verdict}**")
    out.append("")
    out.append(f"Fails on **{view.fail_on}** and above · {counts}")
    out.append("")
    out.append(f"> {md(view.headline)}")
    out.append("")
    out.append(f"Opt-in: {md(view.opt_in)}"
               + (f" · geolocation: {md(view.geo_data)}" if view.geo_data else ""))
    out.append("")
    if view.profile_note:
        out += [f"**Note:** {md(view.profile_note)}", ""]
    if view.reveal:
        out += ["**⚠ This report contains personal data unmasked.**", ""]
    if view.totals is not None:
        out += [f"Checked: {md(view.totals.sentence)}.", ""]
    if view.findings:
        apps = any(f.app for f in view.findings)  # a column only when the capture names apps
        out.append("| id | severity | rule | host | destination | sent | uploads | consent |"
                   + (" app |" if apps else ""))
        out.append("|---|---|---|---|---|---|---|---|" + ("---|" if apps else ""))
        for f in view.findings:
            uploads = ", ".join(f"#{i}" for i in f.exchange_ids)
            out.append(f"| {f.id} | {f.severity} | {md(f.rule)} | {md(f.host)} | "
                       f"{md(f.destination)} | {md(f.subject or ', '.join(f.data_types))} | "
                       f"{uploads} | {f.consent} |" + (f" {md(f.app)} |" if apps else ""))
        out.append("")
        # who got it: the organisation, SDKs and the source that named them
        out += [f"- {f.id} receiver: {md(f.receiver)}" for f in view.findings if f.receiver]
        if any(f.receiver for f in view.findings):
            out.append("")
    out += _rules(view)
    for x in view.exchanges:
        out += _evidence(x)
    out += _others(view)
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


def _rules(view: ReportView) -> list[str]:
    """The rules that did not fail, each with what its result means."""
    others = [r for r in view.rules if r.status != "failed"]
    if not others:
        return []
    out = ["Other rules:", ""]
    for r in others:
        if r.twin:  # "covered by <twin>: why" reads as one phrase
            status, _, why = r.text.partition(": ")
            out.append(f"- {md(r.id)}: **{md(status)}** — {md(why)}")
        else:
            out.append(f"- {md(r.id)}: **{r.status}** — {md(r.text)}")
    return out + [""]


def _evidence(x: ExchangeView) -> list[str]:
    """One upload's evidence: request, where to find it in the capture, each value."""
    refers = f" — evidence for {', '.join(x.findings)}" if x.findings else ""
    summary = (f"<details><summary>#{x.id} {raw_html(x.time)} {raw_html(x.request_line)}"
               f"{raw_html(refers)}</summary>")
    out = [summary, ""]
    where = f"{md(x.transport)}, {x.bytes_up} bytes up to {md(x.server or 'unknown')}"
    if x.destination:
        where += f" ({md(x.destination)})"
    if x.frames:
        where += f"; {md(x.frames)} of {md(x.source.split('#')[0])}"
    out.append(f"- {where}")
    if x.display_filter:
        out.append(f"- Wireshark filter: `{x.display_filter}`")
    out += ["", "| data | where | decoded | value | context | result |",
            "|---|---|---|---|---|---|"]
    for o in x.observations:
        match = o.match + (", hashed" if o.hashed else "")
        context = "".join(s.text for s in o.context)
        if o.broke:
            result = "breaks " + ", ".join(o.broke)
        else:
            result = "breaks no rule" + "".join(f"; {r}: {w}" for r, w in o.not_broken)
        out.append(f"| {md(o.data_type)} ({md(match)}) | {md(o.where)} {md(o.key)} | "
                   f"{md(o.chain)} | {md(o.value)} | {md(context)} | {md(result)} |")
    out += ["", "</details>", ""]
    return out


def _others(view: ReportView) -> list[str]:
    """What else was sent: exchanges with no value of the device and nothing a rule sees."""
    if not view.others:
        return []
    count = plural(len(view.others) + view.others_left_out, "exchange")
    out = [f"<details><summary>Also sent: {count} with no value of the device</summary>", ""]
    out += [f"- #{o.id} {md(o.time)} {md(o.request_line)} ({o.bytes_up} bytes up"
            f"{'; ' + md(o.frames) if o.frames else ''})" for o in view.others]
    if view.others_left_out:
        out.append(f"- … and {view.others_left_out} more (all in the JSON report)")
    return out + ["", "</details>", ""]


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
                   f"{h.unreadable_bytes} bytes up")
    return out + [""]


def _warnings(view: ReportView) -> list[str]:
    if not view.warnings:
        return []
    out = ["**Input warnings** (skipped or damaged):", ""]
    out += [f"- {md(path)}: {md(warning)}" for path, warning in view.warnings]
    return out + [""]

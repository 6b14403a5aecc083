"""The terminal report (rich): verdict panel, findings table, each finding in brief, the
other rules' results, the evidence of each upload once, what was not read.

Everything captured is printed as `rich.text.Text`, never as console markup, so a `[bold]`
in a URL is shown as sent.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditor.report.common import plural
from auditor.report.view import ExchangeView, FindingView, ReportView

#: From this width on, the findings table shows every column.
_WIDE = 90

SEVERITY_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def print_view(view: ReportView, console: Console) -> None:
    """Print the whole report to `console`."""
    console.print(_verdict_panel(view))
    if view.reveal:
        console.print(Text("This report contains personal data unmasked (--reveal).",
                           style="bold red"))
    if view.findings:
        console.print(_findings_table(view, console.width))
        for finding in view.findings:
            _print_finding(finding, console)
    _print_rules(view, console)
    if view.exchanges:
        console.print()
        console.print(Text("Evidence (each upload once)", style="bold"))
        for exchange in view.exchanges:
            _print_exchange(exchange, console)
    _print_others(view, console)
    _print_unreadable(view, console)
    _print_attribution(view, console)
    _print_warnings(view, console)
    if view.suppressed:
        console.print(Text(f"{plural(len(view.suppressed), 'finding')} baselined or suppressed: "
                           + ", ".join(f"{f.rule} @ {f.host}" for f in view.suppressed),
                           style="dim"))


def _verdict_panel(view: ReportView) -> Panel:
    failed = view.verdict == "FAIL"
    head = Text()
    head.append(view.verdict, style="bold white on red" if failed else
                "bold black on yellow" if view.verdict == "INCOMPLETE" else "bold white on green")
    head.append(f"  (fails on {view.fail_on} and above)   ")
    counts = [(name, n) for name, n in view.counts.items() if n]
    if counts:
        for i, (name, n) in enumerate(counts):
            head.append(f"{n} {name}", style=SEVERITY_STYLES[name])
            head.append(", " if i < len(counts) - 1 else "")
    else:
        head.append("no findings")
    context = Text(f"opt-in: {view.opt_in}" + (f" · geolocation: {view.geo_data}"
                                                if view.geo_data else ""), style="dim")
    lines = [head, Text(view.headline)]
    if view.profile_note:
        lines.append(Text(view.profile_note, style="yellow"))
    if view.totals is not None and view.findings:
        lines.append(Text(f"checked: {view.totals.sentence}", style="dim"))
    return Panel(Group(*lines, context), title="handset-auditor",
                 title_align="left", border_style="red" if failed else
                 "yellow" if view.verdict == "INCOMPLETE" else "green")


def _findings_table(view: ReportView, width: int) -> Table:
    """One row per finding; on narrow terminals only what tells findings apart."""
    table = Table(title="Findings", title_justify="left", expand=True, box=box.SIMPLE_HEAD,
                  pad_edge=False)
    wide = width >= _WIDE
    columns = [("id", 0), ("severity", 0), ("rule", 3), ("host", 3)]
    if wide:
        columns += [("country", 0), ("data", 3), ("#", 0), ("opt-in", 0)]
    apps = wide and any(f.app for f in view.findings)  # only when the capture names apps
    if apps:
        columns.append(("app", 2))
    for name, ratio in columns:
        table.add_column(name, ratio=ratio or None, overflow="fold", no_wrap=not ratio)
    # rule ids are copied into expect.yaml and suppressions: never cut or folded
    rule_column = table.columns[2]
    rule_column.ratio, rule_column.no_wrap = None, True
    rule_column.min_width = max((len(f.rule) for f in view.findings), default=4)
    for f in view.findings:
        cells = [Text(f.id), Text(f.severity, style=SEVERITY_STYLES[f.severity]), Text(f.rule),
                 Text(f.host)]
        if wide:
            cells += [Text(f.country), Text(", ".join(f.data_types)), Text(str(f.exchanges)),
                      Text(f.consent.removesuffix("-opt-in"))]
        if apps:
            cells.append(Text(f.app))
        table.add_row(*cells)
    return table


def _print_attribution(view: ReportView, console: Console) -> None:
    """Uploads and findings per app (when the capture names apps), and where every name
    of an app, SDK, organisation or declaration came from."""
    if view.apps:
        console.print()
        console.print(Text("Apps (as the capture names them)", style="bold"))
        for app, uploads, findings in view.apps:
            console.print(f"  {app}: {plural(uploads, 'upload')}, "
                          f"{plural(findings, 'finding')}")
    if view.attribution:
        console.print()
        console.print(Text("Attribution sources", style="bold"))
        for line in view.attribution:
            console.print(Text("  " + line, style="dim"))


def _print_finding(f: FindingView, console: Console) -> None:
    console.print()
    title = Text()
    title.append(f"{f.id} ", style="bold")
    title.append(f"[{f.severity}] ", style=SEVERITY_STYLES[f.severity])
    title.append(f"{f.rule}: {f.title}", style="bold")
    console.print(title)
    lines = [
        ("sent", f.subject or ", ".join(f.data_types)),
        ("to", f.host + (f" at {f.server_ip}" if f.server_ip else "")
         + (f" — {f.destination}" if f.destination else "")
         + (f"; {f.party} party" if f.party else "")),
        ("when", f"{f.since_start}; {f.opt_in}" if f.since_start else f.opt_in),
        ("evidence", f"{plural(f.exchanges, 'upload')} ({f.consent}): "
         + ", ".join(f"#{i}" for i in f.exchange_ids)),
    ]
    if f.finding.severity_note:
        lines.append(("severity", f.finding.severity_note))
    lines += [(label, value) for label, value in (("app", f.app), ("receiver", f.receiver))
              if value]
    for label, value in lines:
        console.print(Text.assemble(("  " + f"{label}:".ljust(11), "dim"), value))


def _print_rules(view: ReportView, console: Console) -> None:
    """Rules that did not fail: passed, covered by their known-value twin, or nothing to
    judge — never all called "passed"."""
    others = [r for r in view.rules if r.status != "failed"]
    if not others:
        return
    console.print()
    console.print(Text("Other rules", style="bold"))
    for rule in others:
        style = {"passed": "green", "covered": "cyan"}.get(rule.status, "dim")
        console.print(Text.assemble("  ", (rule.status, style), f"  {rule.id}: ",
                                    (rule.text, "dim")))


def _print_exchange(x: ExchangeView, console: Console) -> None:
    console.print()
    head = Text.assemble(("▸ ", "dim"), (f"#{x.id} ", "bold"), (f"{x.time} ", "dim"),
                         x.request_line)
    if x.findings:
        head.append(f"  → {', '.join(x.findings)}", style="dim")
    console.print(head)
    where = f"{x.transport}, {x.bytes_up} bytes up to {x.server or 'unknown'}"
    if x.frames:
        where += f"; {x.frames} of {x.source.split('#')[0]}"
    console.print(Text.assemble(("    ", ""), (where, "dim")))
    if x.display_filter:
        console.print(Text.assemble(("    filter: ", "dim"), x.display_filter))
    for o in x.observations:
        key = f" {o.key}" if o.key else ""
        console.print(Text.assemble(("    ", ""), (f"{o.data_type} = ", "dim"), (o.value, "bold"),
                                    ("   ", ""), (o.match + (", hashed" if o.hashed else ""),
                                                  "dim")))
        console.print(Text.assemble(("      where: ", "dim"), o.where + key,
                                    ("   decoded: ", "dim"), o.chain or "plain"))
        context = "".join(s.text for s in o.context)
        if context:
            console.print(Text.assemble(("      context: ", "dim"), context))
        if o.broke:
            console.print(Text.assemble(("      breaks: ", "dim"), (", ".join(o.broke), "red")))
        else:
            reasons = "; ".join(f"{rule}: {why}" for rule, why in o.not_broken)
            console.print(Text.assemble(("      breaks no rule", "green"),
                                        (f" — {reasons}" if reasons else "", "dim")))


def _print_others(view: ReportView, console: Console) -> None:
    """What else was sent: exchanges with no value of the device and nothing a rule sees."""
    if not view.others:
        return
    console.print()
    console.print(Text("Also sent (no value of the device, nothing a rule looks at)",
                       style="bold"))
    for o in view.others:
        frames = f"  {o.frames}" if o.frames else ""
        console.print(Text.assemble(("  ", ""), (f"#{o.id} {o.time} ", "dim"), o.request_line,
                                    (f"  {o.bytes_up} bytes up{frames}", "dim")))
    if view.others_left_out:
        console.print(Text(f"  … and {view.others_left_out} more (all in the JSON report)",
                           style="dim"))


def _print_unreadable(view: ReportView, console: Console) -> None:
    if not view.unreadable_count:
        return
    console.print()
    console.print(Text(f"{plural(view.unreadable_count, 'encrypted upload')} to "
                       f"{plural(len(view.unreadable_hosts), 'host')} could not be read:",
                       style="bold"))
    for h in view.unreadable_hosts:
        where = f" ({h.destination})" if h.destination else ""
        transports = "/".join(h.unreadable_transports)
        console.print(Text(f"  {h.host}{where}: {h.unreadable} × {transports}, "
                           f"{h.unreadable_bytes} bytes up"))


def _print_warnings(view: ReportView, console: Console) -> None:
    if not view.warnings:
        return
    console.print()
    console.print(Text("Input warnings (skipped or damaged):", style="bold yellow"))
    for path, warning in view.warnings:
        console.print(Text(f"  {path}: {warning}"))

"""`auditor diff BEFORE AFTER`: what a firmware or app update changed.

Each side is a JSON report (`auditor-report/1`), a capture (with `--device-a/-b`,
`--keylog-a/-b`), or a case folder (its device.yaml, key logs and expect.yaml policies).
Two comparisons come out of the two reports:

- rules: findings keyed by (rule, receiving host, data type) — fixed (only before), still
  (both), new (only after);
- data: what reached whom, keyed by (receiving host, data type), with how it was written,
  over which transport and before or after the opt-in — "phone number: plain → sha256".

Exit 1 when a new rule key is at or above --fail-on: a regression gate between builds.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from auditor.model import InputError, Severity

SCHEMA = "auditor-diff/1"


@dataclass
class RuleChange:
    """One (rule, host, data type) and whether it was fixed, is still there, or is new."""

    status: str  # fixed | still | new
    rule: str
    host: str
    data_type: str
    severity: str  # the after side's, or the before side's when fixed
    title: str
    before: list[str] = field(default_factory=list)  # encodings of the data, before
    after: list[str] = field(default_factory=list)


@dataclass
class FlowChange:
    """One (host, data type): how the data reached that host before and after."""

    status: str  # gone (no longer sent) | still | new
    host: str
    data_type: str
    organisation: str
    country: str
    before: dict[str, list[str]] = field(default_factory=dict)  # encoding, transport, consent
    after: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        """What differs between the sides, as "encoding: plain → sha256"."""
        return [f"{what}: {', '.join(self.before.get(what, [])) or '—'} → "
                f"{', '.join(self.after.get(what, [])) or '—'}"
                for what in ("encoding", "transport", "consent")
                if self.before.get(what) != self.after.get(what)]


@dataclass
class Diff:
    before: str
    after: str
    rules: list[RuleChange]
    flows: list[FlowChange]
    fail_on: Severity | None

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rules)

    @property
    def regressions(self) -> list[RuleChange]:
        """New rule keys at or above --fail-on."""
        if self.fail_on is None:
            return []
        return [r for r in self.rules
                if r.status == "new" and Severity.parse(r.severity) >= self.fail_on]


def _label(data_type: str) -> str:
    from auditor.report.common import data_label  # imported when used: `auditor` starts fast

    return data_label(data_type)


def _encoding(encodings: list[str]) -> str:
    from auditor.study.rows import encoding_label

    return encoding_label(encodings)


# -- the two sides ------------------------------------------------------------------------


def load_side(path: str, *, device: str | None, keylogs: list[str],
              policies: list[str] | None, opt_in_at: str | None) -> dict[str, Any]:
    """A report dict for `path`: read when it is a JSON report, else made from the capture
    or case folder with the same engine and report code as `auditor analyze`."""
    item = Path(path)
    report = _read_report(item) if item.is_file() else None
    if report is not None:
        return report
    from auditor.engine import analyze_files, build_audit
    from auditor.report.json_report import report_dict

    captures = [path]
    if item.is_dir():
        from auditor.check import EXPECT_FILE, load_case
        from auditor.study.corpus import load_corpus

        if (item / EXPECT_FILE).is_file():
            case = load_case(item / EXPECT_FILE)
            captures, keylogs = case.captures, keylogs or case.keylogs
            device = device or case.device
            policies = policies or case.policies
            opt_in_at = opt_in_at or case.opt_in_at
        else:
            jobs = load_corpus(path, policies=policies, device=device).jobs
            captures = [j.path for j in jobs]
            keylogs = keylogs or list(jobs[0].keylogs)
            device = device or jobs[0].device
    elif not item.exists():
        raise InputError(f"{path}: no such report, capture or case folder")
    audit = build_audit(device=device, policies=policies, opt_in_at=opt_in_at)
    return report_dict(analyze_files(captures, audit, keylogs=keylogs))


def _read_report(path: Path) -> dict[str, Any] | None:
    """The report in a JSON file; None when the file is a capture (a HAR is JSON too)."""
    try:
        with open(path, "rb") as f:
            if not f.read(64).lstrip().startswith(b"{"):
                return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON: {e}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a report") from None
    if isinstance(data, dict) and "log" in data and "schema" not in data:
        return None  # HAR
    if not isinstance(data, dict) or data.get("schema") != "auditor-report/1":
        schema = data.get("schema") if isinstance(data, dict) else None
        raise InputError(f"{path}: JSON, but not an auditor report (schema {schema!r}); "
                         f"give a report written by `auditor analyze --format json`")
    try:  # what `compare` reads of it, so that a damaged report is one line, not a traceback
        _rule_keys(data)
        _flow_keys(data)
    except (TypeError, KeyError, AttributeError, ValueError) as e:
        raise InputError(f"{path}: an auditor report whose findings or observations are "
                         f"damaged ({type(e).__name__}: {str(e)[:80]}); write it again with "
                         f"`auditor analyze --format json`") from None
    return data


# -- comparing ----------------------------------------------------------------------------


def compare(before: dict[str, Any], after: dict[str, Any], *, names: tuple[str, str],
            fail_on: Severity | None) -> Diff:
    rules_a, rules_b = _rule_keys(before), _rule_keys(after)
    flows_a, flows_b = _flow_keys(before), _flow_keys(after)
    rules = []
    for key in sorted(rules_a.keys() | rules_b.keys()):
        a, b = rules_a.get(key), rules_b.get(key)
        status = "still" if a and b else "new" if b else "fixed"
        shown = b or a
        rules.append(RuleChange(status=status, rule=key[0], host=key[1], data_type=key[2],
                                severity=shown["severity"], title=shown["title"],
                                before=sorted(a["encodings"]) if a else [],
                                after=sorted(b["encodings"]) if b else []))
    flows = []
    for key in sorted(flows_a.keys() | flows_b.keys()):
        a, b = flows_a.get(key), flows_b.get(key)
        status = "still" if a and b else "new" if b else "gone"
        shown = b or a
        flows.append(FlowChange(status=status, host=key[0], data_type=key[1],
                                organisation=shown["organisation"], country=shown["country"],
                                before=_sorted_sets(a), after=_sorted_sets(b)))
    order = {"new": 0, "still": 1, "fixed": 2, "gone": 2}
    rules.sort(key=lambda r: (order[r.status], -Severity.parse(r.severity), r.rule, r.host,
                              r.data_type))
    flows.sort(key=lambda f: (order[f.status], f.host, f.data_type))
    return Diff(before=names[0], after=names[1], rules=rules, flows=flows, fail_on=fail_on)


def _observations_by_exchange(report: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for obs in report.get("observations", []):
        found.setdefault(obs["exchange"], []).append(obs)
    return found


def _rule_keys(report: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    by_exchange = _observations_by_exchange(report)
    keys: dict[tuple[str, str, str], dict[str, Any]] = {}
    for finding in report.get("findings", []):
        for data_type in finding["data_types"]:
            entry = keys.setdefault((finding["rule"], finding["host"], data_type),
                                    {"severity": finding["severity"], "title": finding["title"],
                                     "encodings": set()})
            for exchange in finding["exchanges"]:
                entry["encodings"].update(_encoding(o["encodings"])
                                          for o in by_exchange.get(exchange, [])
                                          if o["data_type"] == data_type)
    return keys


def _flow_keys(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    exchanges = {e["id"]: e for e in report.get("exchanges", [])}
    opt_in = (report.get("consent") or {}).get("opt_in_at")
    keys: dict[tuple[str, str], dict[str, Any]] = {}
    for obs in report.get("observations", []):
        exchange = exchanges.get(obs["exchange"], {})
        destination = exchange.get("destination") or {}
        entry = keys.setdefault((exchange.get("host", ""), obs["data_type"]), {
            "organisation": destination.get("organisation", ""),
            "country": destination.get("country", ""),
            "encoding": set(), "transport": set(), "consent": set()})
        entry["encoding"].add(_encoding(obs["encodings"]))
        entry["transport"].add(exchange.get("transport", ""))
        # the report's times are ISO 8601 UTC with milliseconds, so they sort as text
        before_opt_in = opt_in is None or exchange.get("time", "") < opt_in
        entry["consent"].add("before-opt-in" if before_opt_in else "after-opt-in")
    return keys


def _sorted_sets(entry: dict[str, Any] | None) -> dict[str, list[str]]:
    if entry is None:
        return {}
    return {k: sorted(entry[k]) for k in ("encoding", "transport", "consent")}


# -- rendering ----------------------------------------------------------------------------

_WORDS = {"new": "NEW", "still": "still", "fixed": "fixed", "gone": "gone"}


def _rule_line(r: RuleChange) -> str:
    encodings = ""
    if r.before != r.after and r.before and r.after:
        encodings = f" ({', '.join(r.before)} → {', '.join(r.after)})"
    elif r.after or r.before:
        encodings = f" ({', '.join(r.after or r.before)})"
    return f"{r.rule} [{r.severity}] to {r.host}: {_label(r.data_type)}{encodings}"


def _flow_line(f: FlowChange) -> str:
    where = f" ({', '.join(x for x in (f.organisation, f.country) if x)})" \
        if f.organisation or f.country else ""
    head = f"{_label(f.data_type)} to {f.host}{where}"
    if f.status == "still":
        return f"{head}: {'; '.join(f.changed) or 'unchanged'}"
    side = f.after or f.before
    return f"{head}: {', '.join(v for vs in side.values() for v in vs)}"


def headline(diff: Diff) -> str:
    return (f"{diff.count('fixed')} fixed, {diff.count('still')} still there, "
            f"{diff.count('new')} new (rule, receiver, data type)"
            + (f"; {len(diff.regressions)} new at or above {diff.fail_on}"
               if diff.fail_on is not None else ""))


def render_text(diff: Diff) -> str:
    lines = [f"auditor diff {diff.before} → {diff.after}", headline(diff), "", "Rules:"]
    lines += [f"  {_WORDS[r.status]:5}  {_rule_line(r)}" for r in diff.rules] or ["  none"]
    lines += ["", "Data sent (receiving host, data type):"]
    lines += [f"  {_WORDS[f.status]:5}  {_flow_line(f)}" for f in diff.flows] or ["  none"]
    return "\n".join(lines) + "\n"


def render_markdown(diff: Diff) -> str:
    lines = [f"## auditor diff `{diff.before}` → `{diff.after}`", "", headline(diff) + ".", "",
             "| | rule | severity | receiver | data | encoding before → after |",
             "|---|---|---|---|---|---|"]
    for r in diff.rules:
        lines.append(f"| {_WORDS[r.status]} | `{r.rule}` | {r.severity} | {_md(r.host)} | "
                     f"{_label(r.data_type)} | {', '.join(r.before) or '—'} → "
                     f"{', '.join(r.after) or '—'} |")
    lines += ["", "| | data | receiver | what changed |", "|---|---|---|---|"]
    for f in diff.flows:
        lines.append(f"| {_WORDS[f.status]} | {_label(f.data_type)} | {_md(f.host)} | "
                     f"{_md(_flow_line(f).split(': ', 1)[1])} |")
    return "\n".join(lines) + "\n"


def render_json(diff: Diff) -> str:
    data = {"schema": SCHEMA, "before": diff.before, "after": diff.after,
            "fail_on": str(diff.fail_on) if diff.fail_on is not None else None,
            "counts": {s: diff.count(s) for s in ("fixed", "still", "new")},
            "regressions": len(diff.regressions),
            "rules": [asdict(r) for r in diff.rules],
            "flows": [{**asdict(f), "changed": f.changed} for f in diff.flows]}
    return json.dumps(data, indent=2) + "\n"


def render_html(diff: Diff) -> str:
    from auditor.study.overview import _ENVIRONMENT

    return _ENVIRONMENT.get_template("diff.html.j2").render(
        diff=diff, headline=headline(diff), words=_WORDS, data_label=_label)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


_RENDERERS = {"terminal": render_text, "markdown": render_markdown, "json": render_json,
              "html": render_html}


# -- the command --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("before", metavar="BEFORE", help="report (.json), capture, or case folder")
    parser.add_argument("after", metavar="AFTER", help="report (.json), capture, or case folder")
    for side in ("a", "b"):
        which = "BEFORE" if side == "a" else "AFTER"
        parser.add_argument(f"--device-{side}", metavar="device.yaml",
                            help=f"device profile for {which} when it is a capture")
        parser.add_argument(f"--keylog-{side}", action="append", default=[], metavar="FILE",
                            help=f"TLS key log for {which} when it is a capture; repeatable")
        parser.add_argument(f"--opt-in-at-{side}", metavar="TIME",
                            help=f"when the user opted in, for {which} when it is a capture")
    parser.add_argument("--policy", action="append", metavar="FILE|DIR",
                        help="policies for captures (default: the bundled rules/)")
    parser.add_argument("--format", default="terminal", choices=tuple(_RENDERERS),
                        help="output format (default: terminal)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--fail-on", default="high", choices=[str(s) for s in Severity] + ["none"],
                        help="exit 1 when something new breaks a rule at or above this "
                             "(default: high)")


def run(args: argparse.Namespace) -> int:
    sides = []
    for side, path in (("a", args.before), ("b", args.after)):
        sides.append(load_side(path, device=getattr(args, f"device_{side}"),
                               keylogs=getattr(args, f"keylog_{side}"), policies=args.policy,
                               opt_in_at=getattr(args, f"opt_in_at_{side}")))
    fail_on = None if args.fail_on == "none" else Severity.parse(args.fail_on)
    diff = compare(*sides, names=(args.before, args.after), fail_on=fail_on)
    text = _RENDERERS[args.format](diff)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise InputError(f"{args.output}: cannot write: {e.strerror}") from None
    elif args.format == "terminal":
        _print_terminal(diff)
    else:
        sys.stdout.write(text)
    return 1 if diff.regressions else 0


def _print_terminal(diff: Diff) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    styles = {"new": "bold red", "still": "yellow", "fixed": "green", "gone": "green"}
    console.print(f"[bold]auditor diff[/] {escape(diff.before)} → {escape(diff.after)}",
                  soft_wrap=True)
    console.print(headline(diff), soft_wrap=True)
    for title, changes, line in (("[bold]Rules[/]", diff.rules, _rule_line),
                                 ("[bold]Data sent[/] (receiving host, data type)", diff.flows,
                                  _flow_line)):
        console.print("\n" + title)
        for change in changes:
            console.print(f"  [{styles[change.status]}]{_WORDS[change.status]:5}[/]  "
                          f"{escape(line(change))}", soft_wrap=True)
        if not changes:
            console.print("  none")

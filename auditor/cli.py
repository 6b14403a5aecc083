"""The `auditor` command: a thin shell over the engine."""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum
from pathlib import Path

from auditor import __version__
from auditor.model import InputError, Severity
from auditor.options import add_audit_options

EPILOG = """\
exit codes:
  0  nothing at or above --fail-on (check: every case passed)
  1  findings at or above --fail-on, a failed expectation, or an expired suppression
  2  bad usage or bad input (the message names the file, the line or packet, what is wrong)
"""


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(with_proxy_options=bool(argv) and argv[0] == "proxy")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        return int(args.func(args))
    except InputError as e:
        print(f"auditor: error: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`): nothing more to say
        return ExitCode.OK


def build_parser(*, with_proxy_options: bool = True) -> argparse.ArgumentParser:
    """The whole command line. mitmproxy is imported only when `proxy` is asked for."""
    parser = argparse.ArgumentParser(
        prog="auditor",
        description="Find the personal data a phone uploads, judge it against policies, "
                    "and report it with the evidence.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    analyze = commands.add_parser(
        "analyze", help="audit saved captures (pcap, pcapng, mitmproxy flows, HAR)",
        description="Audit saved captures: pcap/pcapng (with TLS key logs), mitmproxy flow "
                    "files and HAR. The kind of each file is told from its bytes.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    analyze.add_argument("captures", nargs="+", metavar="CAPTURE", help="capture files")
    add_audit_options(analyze)
    analyze.add_argument("--keylog", action="append", default=[], metavar="FILE",
                         help="NSS key log (SSLKEYLOGFILE) to decrypt TLS; repeatable")
    analyze.add_argument("--format", default="terminal", choices=_formats(),
                         help="report format (default: terminal)")
    analyze.add_argument("--output", "-o", metavar="FILE",
                         help="write the report here instead of standard output")
    _add_gate_options(analyze)
    analyze.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    analyze.set_defaults(func=cmd_analyze)

    live = commands.add_parser(
        "proxy", help="audit a phone live: run mitmproxy with the auditor addon",
        description="Run mitmproxy with the auditor addon. Point the phone's Wi-Fi proxy "
                    "here; each personal datum it uploads is shown as it happens; Ctrl-C "
                    "writes the report.",
        epilog="exit codes:\n  0  stopped by Ctrl-C or SIGTERM; the report and flow file "
               "are written\n  2  bad options or input, or the proxy could not start\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    if with_proxy_options:
        from auditor import proxy

        proxy.add_arguments(live)
        live.set_defaults(func=proxy.run)

    check = commands.add_parser(
        "check", help="CI: hold every case folder to its expect.yaml",
        description="Run every case folder (capture, device.yaml, expect.yaml) under DIR and "
                    "fail on a failed expectation or an unexpected finding.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("dir", nargs="?", default="captures",
                       help="folder of case folders, or one case (default: captures/)")
    check.add_argument("--format", default="terminal",
                       choices=("terminal", "junit", "markdown", "json"),
                       help="summary format (default: terminal)")
    check.add_argument("--output", "-o", metavar="FILE", help="write the summary here")
    check.add_argument("--html", metavar="DIR",
                       help="also write one HTML report per case and an index.html to DIR")
    _add_gate_options(check, fail_on=False)
    check.add_argument("--reveal", action="store_true",
                       help="show identifiers unmasked in reports")
    check.set_defaults(func=cmd_check)

    rules = commands.add_parser("rules", help="list, show or validate policies",
                                description="List, show or validate policy files.")
    rules_commands = rules.add_subparsers(title="rules commands", metavar="ACTION")
    rules_list = rules_commands.add_parser("list", help="the rules of the policies in force")
    rules_list.add_argument("--policy", action="append", metavar="FILE|DIR")
    rules_list.set_defaults(func=cmd_rules_list)
    rules_show = rules_commands.add_parser("show", help="one rule in full")
    rules_show.add_argument("rule_id", metavar="ID")
    rules_show.add_argument("--policy", action="append", metavar="FILE|DIR")
    rules_show.set_defaults(func=cmd_rules_show)
    rules_validate = rules_commands.add_parser("validate",
                                               help="check policy files; file:line errors")
    rules_validate.add_argument("files", nargs="+", metavar="FILE")
    rules_validate.set_defaults(func=cmd_rules_validate)
    return parser


def _formats() -> tuple[str, ...]:
    return ("terminal", "markdown", "html", "json", "sarif", "junit")


def _add_gate_options(parser: argparse.ArgumentParser, *, fail_on: bool = True) -> None:
    if fail_on:
        parser.add_argument("--fail-on", default="high",
                            choices=[str(s) for s in Severity] + ["none"],
                            help="exit 1 when a finding is at or above this (default: high)")
    parser.add_argument("--baseline", metavar="report.json",
                        help="an earlier JSON report: findings already in it do not fail the run")
    parser.add_argument("--ignore", metavar="FILE",
                        help="suppression file (default: .auditor-ignore.yaml when present)")


# -- analyze ------------------------------------------------------------------------------


def cmd_analyze(args: argparse.Namespace) -> int:
    from auditor.engine import analyze_files, build_audit
    from auditor.suppress import apply_gates

    audit = build_audit(device=args.device, policies=args.policy, opt_in_at=args.opt_in_at,
                        geoip=args.geoip, pattern_mode=not args.no_patterns)
    baseline, suppressions = _load_gates(args, Path.cwd())
    with _progress(enabled=not args.quiet) as progress:
        result = analyze_files(args.captures, audit, keylogs=args.keylog, progress=progress)
    gate = apply_gates(result.findings, baseline=baseline, suppressions=suppressions)
    result.findings = gate.active
    result.suppressed = [f for f, _ in gate.suppressed]
    fail_on = None if args.fail_on == "none" else Severity.parse(args.fail_on)
    _write_report(result, args.format, args.output, reveal=args.reveal,
                  fail_on=fail_on or Severity.HIGH)  # none: report as by default, exit 0
    for s in gate.expired:
        print(f"auditor: {s.origin}: suppression expired on {s.expires} ({s.reason}); "
              f"review it or renew it", file=sys.stderr)
    failing = fail_on is not None and any(f.severity >= fail_on for f in gate.active)
    return ExitCode.FINDINGS if failing or gate.expired else ExitCode.OK


def _load_gates(args: argparse.Namespace, folder: Path):
    from auditor.suppress import default_ignore_file, load_baseline, load_suppressions

    baseline = load_baseline(args.baseline) if args.baseline else None
    ignore = args.ignore or default_ignore_file(folder)
    return baseline, (load_suppressions(ignore) if ignore else [])


def _write_report(result, fmt: str, output: str | None, *, reveal: bool,
                  fail_on: Severity) -> None:
    from auditor import report

    if fmt == "terminal" and not output:
        from rich.console import Console

        report.print_terminal(result, Console(), reveal=reveal, fail_on=fail_on)
        return
    if not output:
        report.write(result, fmt, sys.stdout, reveal=reveal, fail_on=fail_on)
        return
    try:
        with open(output, "w", encoding="utf-8") as stream:
            report.write(result, fmt, stream, reveal=reveal, fail_on=fail_on)
    except OSError as e:
        raise InputError(f"{output}: cannot write the report: {e.strerror}") from None


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot write the report: {e.strerror}") from None


class _progress:
    """A progress bar on stderr while captures are read, only when stderr is a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        self._task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress("reading", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                             TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._bar.__enter__()
        self._task = self._bar.add_task("read", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


# -- check --------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from auditor.check import discover_cases, load_case, run_case

    expect_files = discover_cases(args.dir)
    if not expect_files:
        raise InputError(f"{args.dir}: no case folders (no expect.yaml below it)")
    baseline, suppressions = _load_gates(args, Path(args.dir))
    outcomes = []
    for expect_file in expect_files:
        try:
            case = load_case(expect_file)
        except InputError as e:
            from auditor.check import Case, CaseResult

            case = Case(name=Path(expect_file).parent.name, folder=Path(expect_file).parent,
                        expect_file=Path(expect_file), captures=[], keylogs=[], device=None,
                        policies=None, opt_in_at=None, expectations=[])
            outcomes.append(CaseResult(case=case, error=str(e)))
            continue
        outcomes.append(run_case(case, baseline=baseline, suppressions=suppressions))
    _print_check_lines(outcomes)
    if args.html:
        _write_case_reports(outcomes, Path(args.html), reveal=args.reveal)
    if args.format != "terminal" or args.output:
        text = _check_summary(outcomes, args.format, reveal=args.reveal)
        if args.output:
            _write_text(args.output, text)
        else:
            sys.stdout.write(text)
    if any(o.error for o in outcomes):
        return ExitCode.BAD_INPUT
    return ExitCode.OK if all(o.passed for o in outcomes) else ExitCode.FINDINGS


def _print_check_lines(outcomes) -> None:
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    for o in outcomes:
        findings = len(o.result.findings) if o.result else 0
        verdict = "[green]PASS[/]" if o.passed else "[red]FAIL[/]"
        console.print(f"{verdict} {o.case.folder}  ({findings} findings, "
                      f"{len(o.case.expectations)} expectations)", soft_wrap=True)
        for line in o.problems():
            console.print(f"     {line}", markup=False, soft_wrap=True)
    passed = sum(o.passed for o in outcomes)
    console.print(f"{passed} passed, {len(outcomes) - passed} failed")


def _check_summary(outcomes, fmt: str, *, reveal: bool) -> str:
    import json

    from auditor.report.junit import JUnitCase, JUnitSuite, junit_xml

    if fmt == "junit":
        suites = []
        for o in outcomes:
            cases = [JUnitCase(name=e.describe(), classname=o.case.name,
                               failure=next((p for p in o.problems() if f":{e.line}:" in p), None))
                     for e in o.case.expectations]
            unexpected = "\n".join(p for p in o.problems() if p.startswith("unexpected"))
            cases.append(JUnitCase(name="no unexpected findings", classname=o.case.name,
                                   failure=unexpected or None))
            if o.error:
                cases.append(JUnitCase(name="case runs", classname=o.case.name, failure=o.error))
            suites.append(JUnitSuite(name=str(o.case.folder), cases=cases))
        return junit_xml(suites)
    rows = [{"case": str(o.case.folder), "passed": o.passed, "problems": o.problems(),
             "findings": len(o.result.findings) if o.result else 0} for o in outcomes]
    if fmt == "json":
        return json.dumps({"schema": "auditor-check/1", "cases": rows}, indent=2) + "\n"
    lines = ["| case | verdict | findings | problems |", "|---|---|---|---|"]
    for row in rows:
        problems = "<br>".join(p.replace("|", "\\|") for p in row["problems"]) or "—"
        lines.append(f"| `{row['case']}` | {'✅ pass' if row['passed'] else '❌ fail'} | "
                     f"{row['findings']} | {problems} |")
    return "\n".join(lines) + "\n"


def _write_case_reports(outcomes, folder: Path, *, reveal: bool) -> None:
    import time

    from auditor import __version__, report
    from auditor.model import Severity
    from auditor.report.common import verdict
    from auditor.report.facts import counts_of
    from auditor.report.html import render_index

    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for o in outcomes:
        row = {"name": o.case.name, "report": "", "passed": o.passed, "verdict": "",
               "findings": 0, "checked": "", "problems": o.problems()}
        if o.result is not None:
            row["report"] = f"{o.case.name}.html"
            _write_text(str(folder / row["report"]), report.render(o.result, "html",
                                                                   reveal=reveal))
            row.update(verdict=verdict(o.result.findings, Severity.HIGH),
                       findings=len(o.result.findings),
                       checked=counts_of(o.result).sentence)
        cases.append(row)
    index = render_index(cases, tool={"name": "handset-auditor", "version": __version__},
                         generated_at=time.time())
    _write_text(str(folder / "index.html"), index)


# -- rules --------------------------------------------------------------------------------


def cmd_rules_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from auditor.judge import load_policies

    policies = load_policies(args.policy)
    table = Table("id", "severity", "title", "file")
    for rule in policies.rules:
        table.add_row(rule.id, str(rule.severity), rule.title, f"{rule.policy_file}:{rule.line}")
    Console().print(table)
    return ExitCode.OK


def cmd_rules_show(args: argparse.Namespace) -> int:
    from auditor.judge import load_policies

    policies = load_policies(args.policy)
    rule = next((r for r in policies.rules if r.id == args.rule_id), None)
    if rule is None:
        known = ", ".join(r.id for r in policies.rules)
        raise InputError(f"no rule '{args.rule_id}' in the policies in force (known: {known})")
    print(f"{rule.id}  [{rule.severity}]  {rule.title}")
    print(f"  from {rule.policy_file}:{rule.line}")
    print(f"  data: {', '.join(sorted(rule.data))}")
    print(f"  consent: {rule.consent}  transport: {rule.transport}  encoding: {rule.encoding}  "
          f"match: {rule.match}")
    if rule.description:
        print(f"\n  {rule.description.strip()}")
    for ref in rule.references:
        print(f"  see {ref}")
    return ExitCode.OK


def cmd_rules_validate(args: argparse.Namespace) -> int:
    from auditor.judge import validate_files

    errors = validate_files(args.files)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        return ExitCode.BAD_INPUT
    print(f"{len(args.files)} file(s) valid")
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())

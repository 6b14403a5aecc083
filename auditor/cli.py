"""The `auditor` command: a thin shell over the engine."""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum
from pathlib import Path

from auditor import __version__
from auditor.model import InputError, Severity
from auditor.options import add_audit_options
from auditor.output import add_output_options, console, note

EPILOG = """\
exit codes:
  0  nothing at or above --fail-on (check: every case passed)
  1  findings at or above --fail-on, a failed expectation, an expired suppression, or
     (--strict) a stale suppression or baseline entry
  2  bad usage or bad input (the message names the file, the line or packet, what is wrong)
  3  incomplete: uploads were seen but not analysed (live proxy), and nothing failed;
     the report's verdict is INCOMPLETE and it names them
"""


CHECK_EPILOG = """\
exit codes:
  0  every case passed
  1  a failed expectation, an unexpected finding, an expired suppression, or (--strict)
     a stale suppression or baseline entry
  2  bad usage or bad input: an unreadable case, an expect.yaml naming a rule no policy
     defines (the message names the file, the line, what is wrong)
"""


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2
    INCOMPLETE = 3  # uploads seen but not analysed (live), verdict INCOMPLETE


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(with_proxy_options=bool(argv) and argv[0] == "proxy")
    args = _parse(parser, argv)
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


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse; a mistyped option is reported with the usage of the subcommand it was given
    to (argparse alone would print the top level's)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        own = getattr(args, "parser", None) or parser
        own.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


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
    add_output_options(analyze, quiet_help="only the report and errors: no progress bar, "
                                           "no note of what was written")
    _add_jobs_option(analyze)
    analyze.set_defaults(func=cmd_analyze, parser=analyze)

    live = commands.add_parser(
        "proxy", help="audit a phone live: run mitmproxy with the auditor addon",
        description="Run mitmproxy with the auditor addon. Point the phone's Wi-Fi proxy "
                    "here; each personal datum it uploads is shown as it happens; Ctrl-C "
                    "writes the report.",
        epilog="exit codes:\n  0  stopped by Ctrl-C or SIGTERM; the report and flow file "
               "are written\n  2  bad options or input, or the proxy could not start\n"
               "  3  stopped, but uploads were not analysed (the analysis process could "
               "not be kept\n     running): the report says INCOMPLETE and names them\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    if with_proxy_options:
        from auditor import proxy

        proxy.add_arguments(live)
        live.set_defaults(func=proxy.run, parser=live)

    check = commands.add_parser(
        "check", help="CI: hold every case folder to its expect.yaml",
        description="Run every case folder (capture, device.yaml, expect.yaml) under DIR and "
                    "fail on a failed expectation or an unexpected finding.",
        epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    add_output_options(check, quiet_help="print only the cases that fail, and errors")
    _add_jobs_option(check, what="case folders analysed at once")
    check.set_defaults(func=cmd_check, parser=check)

    from auditor.study import command as study_command

    study = commands.add_parser(
        "study", help="audit many captures on Dask: reports, tables, overview",
        description=study_command.DESCRIPTION, epilog=study_command.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    study_command.add_arguments(study)
    study.set_defaults(func=study_command.run)

    from auditor.study import diff as diff_command

    diff = commands.add_parser(
        "diff", help="before/after: what was fixed, what is still there, what is new",
        description=diff_command.__doc__.split("\n\n", 1)[1],
        epilog="exit codes:\n  0  nothing new at or above --fail-on\n  1  something new "
               "breaks a rule at or above --fail-on\n  2  bad usage or input\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    diff_command.add_arguments(diff)
    diff.set_defaults(func=diff_command.run)

    trackers = commands.add_parser(
        "trackers", help="the Exodus tracker list: refresh it, or ask what it says of a host",
        description="The Exodus Privacy tracker list (ODbL 1.0) that names the SDKs behind "
                    "hosts. A snapshot is bundled; `refresh` downloads the current one.")
    trackers_commands = trackers.add_subparsers(title="trackers commands", metavar="ACTION")
    refresh = trackers_commands.add_parser(
        "refresh", help="download the current list, check it, and save it unchanged")
    refresh.add_argument("--output", "-o", metavar="FILE",
                         help="where to save it (default: ~/.local/share/handset-auditor/"
                              "exodus-trackers.json); use it with --trackers FILE")
    refresh.add_argument("--url", help="the API address (default: Exodus Privacy's)")
    refresh.set_defaults(func=cmd_trackers_refresh)
    show = trackers_commands.add_parser("show", help="the organisation and SDKs behind hosts")
    show.add_argument("hosts", nargs="+", metavar="HOST", help="host names, e.g. app-measurement.com")
    show.add_argument("--trackers", metavar="FILE", help="a refreshed list instead of the "
                                                         "bundled one")
    show.set_defaults(func=cmd_trackers_show)

    rules = commands.add_parser("rules", help="list, show or validate policies",
                                description="List, show or validate policy files.")
    rules.set_defaults(parser=rules)
    rules_commands = rules.add_subparsers(title="rules commands", metavar="ACTION")
    policy_help = "policy file or folder; repeatable (default: the bundled rules/)"
    rules_list = rules_commands.add_parser(
        "list", help="the rules of the policies in force",
        description="One line per rule: id, severity, where it is defined, title. Ids are "
                    "never cut, on a narrow terminal or in a pipe.")
    rules_list.add_argument("--policy", action="append", metavar="FILE|DIR", help=policy_help)
    add_output_options(rules_list, quiet_help="only the rule ids, one a line")
    rules_list.set_defaults(func=cmd_rules_list, parser=rules_list)
    rules_show = rules_commands.add_parser("show", help="one rule in full",
                                           description="Everything one rule says.")
    rules_show.add_argument("rule_id", metavar="ID", help="the rule's id (see `rules list`)")
    rules_show.add_argument("--policy", action="append", metavar="FILE|DIR", help=policy_help)
    rules_show.set_defaults(func=cmd_rules_show, parser=rules_show)
    rules_validate = rules_commands.add_parser(
        "validate", help="check policy files; file:line errors",
        description="Check policy files, organisation maps and key-hints files (each told "
                    "from its content); every mistake as file:line: what is wrong.")
    rules_validate.add_argument("files", nargs="+", metavar="FILE|DIR",
                                help="files, or folders of them (such as rules/)")
    add_output_options(rules_validate, quiet_help="only the errors")
    rules_validate.set_defaults(func=cmd_rules_validate, parser=rules_validate)
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
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a suppression or baseline entry is stale (names a "
                             "rule no policy defines, or matched no finding)")


# -- trackers -----------------------------------------------------------------------------


def cmd_trackers_refresh(args: argparse.Namespace) -> int:
    from auditor.judge.trackers import EXODUS_URL, default_refresh_path, refresh

    output = args.output or str(default_refresh_path())
    trackers = refresh(output, args.url or EXODUS_URL)
    signed = sum(1 for t in trackers.trackers if t.alternatives)
    print(f"{output}: {len(trackers.trackers)} trackers ({signed} with host signatures), "
          f"SHA-256 {trackers.sha256}\nuse it with: auditor analyze ... --trackers {output}\n"
          f"The list is Exodus Privacy's, under the Open Database License 1.0.")
    return ExitCode.OK


def cmd_trackers_show(args: argparse.Namespace) -> int:
    from auditor.judge.destination import DestinationResolver
    from auditor.judge.trackers import load_trackers
    from auditor.report.attribution import receiver_label

    resolver = DestinationResolver(trackers=load_trackers(args.trackers))
    for host in args.hosts:
        destination = resolver.resolve(host, "")
        label = receiver_label(destination) or "not named by the organisation map or the list"
        print(f"{host}: {label}")
        if destination.tracker_note:
            print(f"  note: {destination.tracker_note}")
    print(f"({resolver.trackers.description})")
    return ExitCode.OK


# -- analyze ------------------------------------------------------------------------------


def cmd_analyze(args: argparse.Namespace) -> int:
    from auditor.engine import analyze_files, build_audit
    from auditor.jobs import workers_for
    from auditor.suppress import apply_gates

    captures = _distinct_captures(args.captures)
    audit = build_audit(device=args.device, policies=args.policy, opt_in_at=args.opt_in_at,
                        geoip=args.geoip, pattern_mode=not args.no_patterns,
                        declared=args.declared, trackers=args.trackers)
    baseline, suppressions = _load_gates(args, Path.cwd())
    with workers_for(audit, args.jobs, captures) as workers, \
            _progress(enabled=not args.quiet) as progress:
        result = analyze_files(captures, audit, keylogs=args.keylog, progress=progress,
                               workers=workers)
    gate = apply_gates(result.findings, baseline=baseline, suppressions=suppressions)
    result.findings = gate.active
    result.suppressed = [f for f, _ in gate.suppressed]
    fail_on = None if args.fail_on == "none" else Severity.parse(args.fail_on)
    _write_report(result, args.format, args.output, reveal=args.reveal,
                  fail_on=fail_on or Severity.HIGH,  # none: report as by default, exit 0
                  out=console(args))
    if args.output:
        note(args, f"wrote the {args.format} report to {args.output}: "
                   f"{_verdict_summary(result.findings, fail_on)}")
    for s in gate.expired:
        print(f"auditor: {s.origin}: suppression expired on {s.expires} ({s.reason}); "
              f"review it or renew it", file=sys.stderr)
    stale = _stale(args, baseline, suppressions, [gate], [r.id for r in result.policies.rules])
    for line in stale:
        print(f"auditor: {line}", file=sys.stderr)
    failing = fail_on is not None and any(f.severity >= fail_on for f in gate.active)
    strict = args.strict and stale
    return ExitCode.FINDINGS if failing or gate.expired or strict else ExitCode.OK


def _stale(args, baseline, suppressions, gates, rule_ids: list[str]) -> list[str]:
    """Stale suppressions and baseline entries, one line each (see suppress.stale_entries)."""
    from auditor.suppress import stale_entries

    lines = stale_entries(suppressions, baseline, gates, rule_ids)
    if lines and not args.strict:
        lines[-1] += " (--strict fails the run on stale entries)"
    return lines


def _distinct_captures(paths: list[str]) -> list[str]:
    """The captures in the order given, each file once (a warning names the repeats)."""
    import os

    from auditor.output import warn

    seen: dict[object, str] = {}
    kept = []
    for path in paths:
        try:
            stat = os.stat(0 if path == "-" else path)
            key: object = (stat.st_dev, stat.st_ino)
        except OSError:
            key = path  # the reader reports a missing file properly
        if key in seen:
            same = "" if seen[key] == path else f" (the same file as {seen[key]})"
            warn(f"{path} given twice{same}; it is analysed once")
            continue
        seen[key] = path
        kept.append(path)
    return kept


def _verdict_summary(findings, fail_on: Severity | None) -> str:
    """`FAIL (fails on high and above): 1 critical, 3 high` — as the report's headline."""
    from auditor.report.common import counts_by_severity, verdict

    counts = ", ".join(f"{n} {name}" for name, n in counts_by_severity(findings).items() if n)
    gate = (f"{verdict(findings, fail_on)} (fails on {fail_on} and above)" if fail_on
            else "PASS (--fail-on none)")
    return f"{gate}, {counts or 'no findings'}"


def _add_jobs_option(parser: argparse.ArgumentParser,
                     what: str = "processes that decode and search uploads") -> None:
    from auditor.jobs import default_jobs, jobs_argument

    parser.add_argument("--jobs", "-j", type=jobs_argument, default=default_jobs(),
                        metavar="N",
                        help=f"{what} (default: the cores of this machine); the report is "
                             f"the same for any N")


def _load_gates(args: argparse.Namespace, folder: Path):
    from auditor.suppress import default_ignore_file, load_baseline, load_suppressions

    baseline = load_baseline(args.baseline) if args.baseline else None
    ignore = args.ignore or default_ignore_file(folder)
    return baseline, (load_suppressions(ignore) if ignore else [])


def _write_report(result, fmt: str, output: str | None, *, reveal: bool,
                  fail_on: Severity, out=None) -> None:
    from auditor import report

    if fmt == "terminal" and not output:
        from rich.console import Console

        report.print_terminal(result, out or Console(), reveal=reveal, fail_on=fail_on)
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
    import functools

    from auditor.check import CaseResult, discover_cases, load_case, run_case
    from auditor.jobs import in_processes

    expect_files = discover_cases(args.dir)
    if not expect_files:
        raise InputError(f"{args.dir}: no case folders (no expect.yaml below it)")
    baseline, suppressions = _load_gates(args, Path(args.dir))
    outcomes = []
    for expect_file in expect_files:
        try:
            case = load_case(expect_file)
        except InputError as e:
            from auditor.check import Case

            case = Case(name=Path(expect_file).parent.name, folder=Path(expect_file).parent,
                        expect_file=Path(expect_file), captures=[], keylogs=[], device=None,
                        policies=None, opt_in_at=None, expectations=[])
            outcomes.append(CaseResult(case=case, error=str(e)))
            continue
        outcomes.append(case)  # run below, all cases at once
    run = functools.partial(run_case, baseline=baseline, suppressions=suppressions)
    cases = [o for o in outcomes if not isinstance(o, CaseResult)]
    done = iter(in_processes(run, cases, args.jobs))
    outcomes = [o if isinstance(o, CaseResult) else next(done) for o in outcomes]
    # the case lines are the result, on stdout, unless a summary format takes stdout
    summary_to_stdout = args.format != "terminal" and not args.output
    out = console(args, stderr=summary_to_stdout)
    _print_check_lines(outcomes, out, quiet=args.quiet)
    ran = [o for o in outcomes if o.gate is not None]
    rule_ids = sorted({r.id for o in ran for r in o.result.policies.rules})
    stale = _stale(args, baseline, suppressions, [o.gate for o in ran], rule_ids) if ran else []
    for line in stale:
        out.print(line, markup=False, soft_wrap=True)
    if args.html:
        _write_case_reports(outcomes, Path(args.html), reveal=args.reveal)
        note(args, f"wrote one HTML report per case and index.html to {args.html}")
    if args.format != "terminal" or args.output:
        text = _check_summary(outcomes, args.format, reveal=args.reveal)
        if args.output:
            _write_text(args.output, text)
            passed = sum(o.passed for o in outcomes)
            note(args, f"wrote the {args.format} summary to {args.output}: {passed} passed, "
                       f"{len(outcomes) - passed} failed")
        else:
            sys.stdout.write(text)
    if any(o.error for o in outcomes):
        return ExitCode.BAD_INPUT
    if args.strict and stale:
        return ExitCode.FINDINGS
    return ExitCode.OK if all(o.passed for o in outcomes) else ExitCode.FINDINGS


def _print_check_lines(outcomes, out, *, quiet: bool = False) -> None:
    for o in outcomes:
        if quiet and o.passed:
            continue
        findings = len(o.result.findings) if o.result else 0
        verdict = "[green]PASS[/]" if o.passed else "[red]FAIL[/]"
        out.print(f"{verdict} {o.case.folder}  ({findings} findings, "
                  f"{len(o.case.expectations)} expectations)", soft_wrap=True)
        for line in o.problems():
            out.print(f"     {line}", markup=False, soft_wrap=True)
    passed = sum(o.passed for o in outcomes)
    if not quiet or passed < len(outcomes):
        out.print(f"{passed} passed, {len(outcomes) - passed} failed")


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
    from rich.table import Table

    from auditor.judge import load_policies

    policies = load_policies(args.policy)
    if args.quiet:
        for rule in policies.rules:
            print(rule.id)
        return ExitCode.OK
    out = console(args)
    if not out.is_terminal:  # a pipe or a file: one whole line per rule, as grep expects
        width = max((len(r.id) for r in policies.rules), default=2)
        for rule in policies.rules:
            print(f"{rule.id:<{width}}  {rule.severity!s:<8}  "
                  f"{rule.policy_file}:{rule.line}  {rule.title}")
        return ExitCode.OK
    table = Table("id", "severity", "title", "file")
    table.columns[0].no_wrap = True  # ids are copied into expect.yaml: never cut
    table.columns[0].min_width = max((len(r.id) for r in policies.rules), default=2)
    table.columns[3].overflow = "fold"
    for rule in policies.rules:
        table.add_row(rule.id, str(rule.severity), rule.title, f"{rule.policy_file}:{rule.line}")
    out.print(table)
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
    for block, conditions in (("to", rule.to), ("from", rule.sender)):
        shown = _conditions_text(conditions)
        if shown:
            print(f"  {block}: {shown}")
    if rule.description:
        print(f"\n  {rule.description.strip()}")
    for ref in rule.references:
        print(f"  see {ref}")
    return ExitCode.OK


def _conditions_text(conditions) -> str:
    """A rule's `to:` or `from:` block as written (`countries: CN, not_hosts: *.mi.com`)."""
    import dataclasses

    parts = []
    for f in dataclasses.fields(conditions):
        value = getattr(conditions, f.name)
        if value in (None, (), frozenset()):
            continue
        if f.name == "third_party_of":
            parts.append("a third party (not the declaring app's own: "
                         f"{', '.join(value) or 'none named'})")
            continue
        shown = ", ".join(sorted(value)) if isinstance(value, frozenset) else \
            ", ".join(value) if isinstance(value, tuple) else str(value)
        parts.append(f"{f.name}: {shown}")
    return "; ".join(parts)


def cmd_rules_validate(args: argparse.Namespace) -> int:
    from auditor.judge.validate import validate

    checked = validate(args.files)
    for error in checked.errors:
        print(error, file=sys.stderr)
    if checked.errors:
        return ExitCode.BAD_INPUT
    if not args.quiet:
        print(f"{checked.summary()}: valid")
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())

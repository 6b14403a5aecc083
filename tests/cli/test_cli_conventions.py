"""Conventions of the tools users know (ruff, semgrep, tshark, mitmproxy): stdout for
results, stderr for diagnostics, colour switches, --quiet, 80 columns, help texts."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import datetime

import pytest
from auditor_paths import ROOT, SAMPLE
from scapy.utils import rdpcap

from auditor.cli import build_parser

CAPTURE = str(SAMPLE / "capture.pcap")
CASES = len(list((ROOT / "captures").glob("*/expect.yaml")))  # every bundled case passes
DEVICE = str(SAMPLE / "device.yaml")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(*args, env=None, cwd=ROOT) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "auditor.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120, check=False)


def test_check_results_are_on_stdout():
    done = run("check", "captures")
    assert done.returncode == 0
    assert "PASS captures/redmi-1s-2014" in done.stdout
    assert f"{CASES} passed, 0 failed" in done.stdout
    assert done.stderr == ""


def test_a_summary_on_stdout_moves_the_case_lines_to_stderr():
    done = run("check", "captures", "--format", "json")
    assert done.stdout.startswith("{")
    assert f"{CASES} passed, 0 failed" in done.stderr


def test_output_file_is_announced_on_stderr_with_the_verdict(tmp_path):
    out = tmp_path / "r.json"
    done = run("analyze", CAPTURE, "--device", DEVICE, "--format", "json", "-o", str(out))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (f"auditor: wrote the json report to {out}: FAIL (fails on high and "
                           f"above), 1 critical, 3 high, 1 low\n")
    quiet = run("analyze", CAPTURE, "--device", DEVICE, "--format", "json", "-o", str(out), "-q")
    assert quiet.stderr == "" and quiet.returncode == 1


def test_check_quiet_prints_only_failures():
    assert run("check", "captures", "-q").stdout == ""


@pytest.mark.parametrize(("args", "env", "coloured"), [
    ([], {}, False),  # a pipe: no colour
    (["--color=always"], {}, True),
    (["--color=always"], {"NO_COLOR": "1"}, True),  # an explicit option wins
    (["--color", "never"], {"FORCE_COLOR": "1"}, False),
    (["--no-color"], {"FORCE_COLOR": "1"}, False),
    ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
])
def test_colour_switches(args, env, coloured):
    done = run("analyze", CAPTURE, "--device", DEVICE, *args, env=env)
    assert bool(ANSI.search(done.stdout)) == coloured
    check = run("check", "captures", *args, env=env)
    assert bool(ANSI.search(check.stdout)) == coloured


def _ids(text: str) -> set[str]:
    return set(re.findall(r"\b(?:no|possible|unreadable)-[a-z-]+\b", text))


def test_rule_ids_are_never_cut_at_80_columns():
    whole = {"possible-cleartext-personal-data", "possible-identifiers-before-opt-in",
             "possible-readable-phone-numbers", "unreadable-uploads-before-opt-in"}
    for env in ({}, {"COLUMNS": "80"}):
        done = run("analyze", CAPTURE, env=env)
        table = done.stdout.split("Findings", 1)[1].split("\nF1 [", 1)[0]
        assert _ids(table) == whole, table
    forced = run("analyze", CAPTURE, "--color=always", env={"COLUMNS": "80"})
    assert whole <= _ids(ANSI.sub("", forced.stdout))


def test_rules_list_piped_prints_one_whole_line_per_rule():
    done = run("rules", "list")
    lines = done.stdout.splitlines()
    assert len(lines) == 9
    assert all(line.split()[0] in _ids(line) for line in lines)
    assert lines[0].split()[:3] == ["no-identifiers-before-opt-in", "high",
                                    "rules/baseline.yaml:11"]
    assert run("rules", "list", "-q").stdout.split() == [line.split()[0] for line in lines]
    terminal = run("rules", "list", "--color=always", env={"COLUMNS": "80"})
    assert "possible-identifiers-before-opt-in" in ANSI.sub("", terminal.stdout)


def test_the_same_file_twice_is_analysed_once():
    other = "captures/../captures/redmi-1s-2014/capture.pcap"
    done = run("analyze", "captures/redmi-1s-2014/capture.pcap", other, "--format", "json")
    assert len(json.loads(done.stdout)["inputs"]) == 1
    assert done.stderr == (f"auditor: warning: {other} given twice (the same file as "
                           f"captures/redmi-1s-2014/capture.pcap); it is analysed once\n")


def test_opt_in_at_relative_and_frame():

    def consent(*spec):
        done = run("analyze", CAPTURE, "--device", DEVICE, "--format", "json", "--opt-in-at",
                   *spec)
        assert done.returncode in (0, 1), done.stderr
        return json.loads(done.stdout)

    report = consent("frame:40")
    frame_time = float(rdpcap(CAPTURE)[39].time)  # scapy's reading of packet 40
    stamp = datetime.fromisoformat(report["consent"]["opt_in_at"]).timestamp()
    assert abs(stamp - frame_time) < 0.001
    start = min(datetime.fromisoformat(e["time"]).timestamp()
                for e in consent("+0")["exchanges"])
    later = consent("+1.5")
    assert abs(datetime.fromisoformat(later["consent"]["opt_in_at"]).timestamp()
               - (start + 1.5)) < 0.001
    assert later["consent"]["source"] == "--opt-in-at"


@pytest.mark.parametrize(("spec", "message"), [
    ("2014-08-01T10:00:03", ("--opt-in-at: '2014-08-01T10:00:03' has no time zone, so whose "
                            "clock it is cannot be known; write it as 2014-08-01T10:00:03Z")),
    ("frame:0", "frame:N takes a packet number from 1"),
    ("frame:9999", "captures/redmi-1s-2014/capture.pcap has only 76 packets"),
    ("+soon", "'+soon' is not +SECONDS"),
])
def test_opt_in_at_mistakes_say_how_to_write_it(spec, message):
    done = run("analyze", "captures/redmi-1s-2014/capture.pcap", "--opt-in-at", spec)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_a_mistyped_option_prints_the_subcommands_usage():
    done = run("analyze", CAPTURE, "--devcie", DEVICE)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: auditor analyze ")
    assert "auditor analyze: error: unrecognized arguments: --devcie" in done.stderr
    listed = run("rules", "list", "--polcy", "x")
    assert listed.stderr.startswith("usage: auditor rules list ")


def test_check_help_does_not_mention_fail_on():
    assert "--fail-on" not in run("check", "--help").stdout


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_option_of_every_subcommand_has_help():
    for name, sub in _subparsers(build_parser(with_proxy_options=True)):
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"auditor {name}: {action.option_strings or action.dest}"


def test_rules_validate_tells_policies_from_the_organisation_map_and_key_hints():
    folder = run("rules", "validate", "rules/")
    assert folder.returncode == 0, folder.stderr
    assert re.fullmatch(r"2 policy files \(9 rules\), 1 organisation map \(\d+ organisations\), "
                        r"1 key-hints file: valid\n", folder.stdout)
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "rules").glob("*.yaml"))
    named = run("rules", "validate", *files)
    assert named.returncode == 0, named.stderr
    assert named.stdout == folder.stdout


def test_rules_validate_checks_an_organisation_map_as_one(tmp_path):
    bad = tmp_path / "orgs.yaml"
    bad.write_text("kind: organisations\norganisations:\n  - name: X\n    domainz: [x.com]\n")
    done = run("rules", "validate", str(bad))
    assert done.returncode == 2
    assert f"{bad}:4: unknown key 'domainz'" in done.stderr


def test_rules_show_prints_the_to_and_from_conditions():
    shown = run("rules", "show", "--policy", "rules/examples/eu-only.yaml",
                "no-identifiers-outside-eu")
    assert shown.returncode == 0
    assert "  to: not_countries: AT, BE," in shown.stdout
    shown = run("rules", "show", "--policy", "captures/pcapdroid-apps/policy.yaml",
                "browser-sends-ad-id")
    assert "  from: apps: com.android.chrome, Chrome" in shown.stdout

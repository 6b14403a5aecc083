"""The CI gate never passes on a mistake: misspelt rules, stale suppressions and baseline
entries, fingerprints on every unexpected finding, and an honest headline with a baseline."""

from __future__ import annotations

import json
import re

import pytest
from auditor_paths import ROOT

from auditor.cli import main

RULES = ROOT / "rules"


def _analyze(case, *extra) -> list[str]:
    return ["analyze", str(case / "capture.pcap"), "--device", str(case / "device.yaml"),
            "-q", *extra]


def test_a_misspelt_rule_in_expect_yaml_is_bad_input(sample_case, capsys):
    (sample_case / "expect.yaml").write_text(
        f"policies: [{RULES}]\nallow_unexpected: true\nexpect:\n"
        "  - {rule: no-identifers-before-opt-in, count: 0}\n")
    assert main(["check", str(sample_case)]) == 2
    out = capsys.readouterr().out
    assert (f"{sample_case / 'expect.yaml'}:4: no policy defines rule "
            "'no-identifers-before-opt-in' (did you mean 'no-identifiers-before-opt-in'?)") in out


def test_a_glob_naming_no_rule_is_bad_input_but_one_naming_rules_is_fine(sample_case, capsys):
    (sample_case / "expect.yaml").write_text(
        f"policies: [{RULES}]\nallow_unexpected: true\nexpect:\n"
        "  - {rule: 'possible-*', count: 0}\n  - {rule: 'posible-*', count: 0}\n")
    assert main(["check", str(sample_case)]) == 2
    out = capsys.readouterr().out
    assert "expect.yaml:5: no policy defines rule 'posible-*'" in out
    assert "expect.yaml:4" not in out


def test_every_unexpected_finding_prints_the_fingerprint_a_suppression_needs(sample_case, capsys,
                                                                              tmp_path):
    (sample_case / "expect.yaml").write_text(f"policies: [{RULES}]\nexpect: []\n")
    assert main(["check", str(sample_case)]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if "unexpected finding" in line]
    assert len(lines) == 5
    fingerprints = [re.search(r"fingerprint ([0-9a-f]{16})$", line).group(1) for line in lines]
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("suppressions:\n" + "".join(
        f"  - fingerprint: {fp}\n    reason: reviewed\n" for fp in fingerprints))
    assert main(["check", str(sample_case), "--ignore", str(ignore), "--strict"]) == 0


@pytest.mark.parametrize("command", ["check", "analyze"])
def test_stale_suppressions_are_listed_and_strict_fails(sample_case, tmp_path, capsys, command):
    (sample_case / "expect.yaml").write_text(f"policies: [{RULES}]\nexpect: []\n")
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(
        "suppressions:\n"
        "  - {rule: '*', host: '*.xiaomi.com', reason: vendor cloud}\n"
        "  - {rule: no-identifers-before-opt-in, reason: typo}\n"
        "  - {rule: unreadable-uploads-before-opt-in, host: '*.googleapis.com', reason: gone}\n")
    args = ["check", str(sample_case)] if command == "check" else _analyze(sample_case)
    assert main([*args, "--ignore", str(ignore)]) == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert (f"{ignore}:3: stale suppression: no policy defines rule "
            "'no-identifers-before-opt-in' (did you mean 'no-identifiers-before-opt-in'?)") in text
    assert f"{ignore}:4: stale suppression: rule unreadable-uploads-before-opt-in host " \
           "*.googleapis.com matched no finding" in text
    assert f"{ignore}:2" not in text
    assert main([*args, "--ignore", str(ignore), "--strict"]) == 1


def test_stale_baseline_entries_are_listed(sample_case, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    assert main(_analyze(sample_case, "--format", "json", "-o", str(baseline))) == 1
    report = json.loads(baseline.read_text())
    report["findings"].append({**report["findings"][0], "fingerprint": "0123456789abcdef",
                               "host": "gone.example"})
    baseline.write_text(json.dumps(report))
    capsys.readouterr()
    assert main(_analyze(sample_case, "--baseline", str(baseline))) == 0
    err = capsys.readouterr().err
    assert (f"{baseline}: stale baseline entry: fingerprint 0123456789abcdef "
            f"({report['findings'][0]['rule']} @ gone.example) matched no finding") in err
    assert main(_analyze(sample_case, "--baseline", str(baseline), "--strict")) == 1


def test_with_a_baseline_the_headline_says_how_many_were_suppressed(sample_case, tmp_path,
                                                                    capsys):
    baseline = tmp_path / "baseline.json"
    main(_analyze(sample_case, "--format", "json", "-o", str(baseline)))
    capsys.readouterr()
    assert main(_analyze(sample_case, "--baseline", str(baseline), "--format", "json")) == 0
    headline = json.loads(capsys.readouterr().out)["summary"]["headline"]
    assert headline.startswith("No new finding: 5 findings baselined or suppressed, none other")
    assert "No upload broke the policies" not in headline

"""`auditor analyze` as a user runs it: the sample, exit codes, and bad input."""

import json
import subprocess
import sys

import pytest
from auditor_paths import ROOT, SAMPLE

from auditor.cli import main

CAPTURE = str(SAMPLE / "capture.pcap")
DEVICE = str(SAMPLE / "device.yaml")


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "auditor.cli", *args], check=False, capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=120)


def test_sample_report_shows_the_2014_findings_with_evidence():
    done = run("analyze", CAPTURE, "--device", DEVICE)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "FAIL" in out
    for text in ("no-identifiers-before-opt-in", "no-content-before-opt-in",
                 "api.account.xiaomi.com", "42.62.94.174", "form:imei", "query:sender",
                 "86720302*****37"):
        assert text in out
    assert "867203024182737" not in out  # masked unless --reveal
    assert "Traceback" not in done.stderr


def test_json_report_follows_the_design_contract(tmp_path):
    out = tmp_path / "r.json"
    assert main(["analyze", CAPTURE, "--device", DEVICE, "--format", "json", "-o", str(out)]) == 1
    report = json.loads(out.read_text())
    assert report["schema"] == "auditor-report/1"
    assert {"schema", "tool", "inputs", "consent", "exchanges", "observations", "findings",
            "summary"} <= set(report)
    assert report["inputs"][0]["kind"] == "pcap"
    leaked = {(o["data_type"], o["where"], o["key"]) for o in report["observations"]}
    assert ("imei", "body", "imei") in leaked
    assert ("imsi", "body", "imsi") in leaked
    assert ("phone_number", "body", "phone") in leaked
    assert ("contacts", "query", "sender") in leaked
    rules = {f["rule"] for f in report["findings"]}
    assert "no-identifiers-before-opt-in" in rules
    assert all(f["consent"] == "before-opt-in" for f in report["findings"])


def test_reveal_shows_values(tmp_path):
    done = run("analyze", CAPTURE, "--device", DEVICE, "--reveal", "--format", "markdown")
    assert "867203024182737" in done.stdout


@pytest.mark.parametrize("fail_on, code", [("critical", 1), ("none", 0)])
def test_fail_on_sets_the_exit_code(fail_on, code):
    assert main(["analyze", CAPTURE, "--device", DEVICE, "--format", "json", "-o", "/dev/null",
                 "--fail-on", fail_on]) == code


def test_opt_in_before_everything_turns_before_opt_in_findings_off(tmp_path):
    out = tmp_path / "r.json"
    main(["analyze", CAPTURE, "--device", DEVICE, "--format", "json", "-o", str(out),
          "--opt-in-at", "0"])
    report = json.loads(out.read_text())
    rules = {f["rule"] for f in report["findings"]}
    assert "no-identifiers-before-opt-in" not in rules
    assert "no-cleartext-personal-data" in rules


def _bad_inputs(tmp):
    truncated = tmp / "truncated.pcap"
    truncated.write_bytes((SAMPLE / "capture.pcap").read_bytes()[:1000])
    (tmp / "empty.pcap").write_bytes(b"")
    (tmp / "text.pcap").write_text("hello, this is not a capture\n")
    (tmp / "bad.yaml").write_text("imei: [1, 2\nname: x\n")
    (tmp / "imei.yaml").write_text("name: x\nimei: 0123\n")
    return truncated


@pytest.mark.parametrize("args, message", [
    (["analyze", "{tmp}/missing.pcap"], "missing.pcap: no such file"),
    (["analyze", "{tmp}/empty.pcap"], "empty.pcap: the file is empty"),
    (["analyze", "{tmp}/text.pcap"], "text.pcap: not a capture"),
    (["analyze", CAPTURE, "--device", "{tmp}/bad.yaml"], "bad.yaml:"),
    (["analyze", CAPTURE, "--device", "{tmp}/imei.yaml"], "imei.yaml:2: imei '0123'"),
    (["analyze", CAPTURE, "--device", "{tmp}/nope.yaml"], "nope.yaml"),
    (["analyze", CAPTURE, "--policy", "{tmp}/bad.yaml"], "bad.yaml:"),
    (["analyze", CAPTURE, "--opt-in-at", "yesterday"], "--opt-in-at: 'yesterday' is not a time"),
    (["analyze", CAPTURE, "--keylog", "{tmp}/nokeys.log"], "nokeys.log"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    _bad_inputs(tmp_path)
    done = run(*[a.format(tmp=tmp_path) for a in args])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    assert done.stderr.startswith("auditor: error: ")


def test_truncated_capture_is_analysed_as_far_as_it_goes(tmp_path):
    truncated = _bad_inputs(tmp_path)
    out = tmp_path / "r.json"
    done = run("analyze", str(truncated), "--device", DEVICE, "--format", "json",
               "-o", str(out))
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(out.read_text())
    warnings = report["inputs"][0]["warnings"]
    assert any("truncated" in w for w in warnings), warnings
    assert report["inputs"][0]["exchanges"] >= 1


def test_help_documents_exit_codes():
    done = run("analyze", "--help")
    assert "exit codes" in done.stdout and "--fail-on" in done.stdout

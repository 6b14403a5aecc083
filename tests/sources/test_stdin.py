"""Captures from a pipe: `auditor analyze -` and /dev/stdin, read once without seeking."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from auditor_paths import ROOT, SAMPLE

CAPTURE = SAMPLE / "capture.pcap"
PCAPNG = ROOT / "tests" / "fixtures" / "pcap" / "http.pcapng"
AUDITOR = [sys.executable, "-m", "auditor.cli"]


def _shell(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT,
                          capture_output=True, timeout=120, check=False)


def _report(done: subprocess.CompletedProcess) -> dict:
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return json.loads(done.stdout)


def _auditor(args: str) -> str:
    return " ".join(AUDITOR) + " " + args


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
@pytest.mark.parametrize("capture", [CAPTURE, PCAPNG], ids=["pcap", "pcapng"])
def test_a_capture_through_cat(name, capture):
    done = _shell(f"cat {capture} | {_auditor(f'analyze {name} --format json --fail-on none')}")
    assert done.returncode == 0, done.stderr.decode()
    report = _report(done)
    [info] = report["inputs"]
    assert info["path"] == "<stdin>"
    assert info["kind"] == capture.suffix.lstrip(".")
    data = capture.read_bytes()
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["size"] == len(data)
    file_report = _report(_shell(_auditor(f"analyze {capture} --format json --fail-on none")))
    assert [f["rule"] for f in report["findings"]] == [f["rule"] for f in file_report["findings"]]


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_tcpdump_writing_to_the_pipe():
    done = _shell(f"tcpdump -r {CAPTURE} -w - 2>/dev/null | "
                  f"{_auditor('analyze - --format json --device ' + str(SAMPLE / 'device.yaml'))}")
    assert done.returncode == 1  # the 2014 leaks fail the run, as from the file
    report = _report(done)
    assert report["inputs"][0]["path"] == "<stdin>"
    assert {f["rule"] for f in report["findings"]} >= {"no-identifiers-before-opt-in",
                                                       "no-content-before-opt-in"}
    written = _shell(f"tcpdump -r {CAPTURE} -w - 2>/dev/null").stdout
    assert report["inputs"][0]["sha256"] == hashlib.sha256(written).hexdigest()


def test_a_truncated_pipe_is_analysed_as_far_as_it_goes():
    done = _shell(f"head -c 9000 {CAPTURE} | {_auditor('analyze - --format json')}")
    report = _report(done)
    assert any("truncated mid-packet" in w for w in report["inputs"][0]["warnings"])
    assert report["exchanges"]


@pytest.mark.parametrize(("feed", "message"), [
    ("printf ''", "<stdin>: nothing was read (an empty pipe)"),
    ("printf 'B\\n'", ("<stdin>: from a pipe only pcap and pcapng are read (the first "
                       "bytes are 42 0a)")),
])
def test_a_pipe_that_is_no_capture_is_one_line_and_exit_2(feed, message):
    done = _shell(f"{feed} | {_auditor('analyze -')}")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"auditor: error: {message}; " + (
        "expected a pcap or pcapng, e.g. `tcpdump -r x.pcap -w - | auditor analyze -`"
        if "empty" in message else "give a flow file or HAR by its path")


def test_stdin_given_twice_is_read_once_with_a_warning():
    done = _shell(f"cat {CAPTURE} | {_auditor('analyze - /dev/stdin --format json')}")
    assert len(_report(done)["inputs"]) == 1
    assert "given twice" in done.stderr.decode()

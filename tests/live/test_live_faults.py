"""The real `auditor proxy` against what goes wrong: analysis processes killed under load,
a decompression bomb, an upstream that cannot be reached; and the live report held against
the offline analysis of the same session's `--save` file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
from harness import (
    HANDSET_UPLOADS,
    REPO,
    Origin,
    Upload,
    free_port,
    send_uploads,
    start_auditor_proxy,
    stop,
)

RULE = "no-identifiers-before-opt-in"


def _proxy(tmp: Path, port: int) -> subprocess.Popen:
    return start_auditor_proxy(tmp, port, "--save", str(tmp / "flows.mitm"),
                               "--set", "ssl_insecure=true")


def _analysis_pid(proxy: subprocess.Popen, *, not_this: int = 0, timeout: float = 60) -> int:
    """The pid of the proxy's analysis process (a spawned child), once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == not_this:
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == proxy.pid and b"spawn_main" in cmdline:
                return int(entry.name)
        time.sleep(0.02)
    raise TimeoutError("no analysis process")


def _printed(tmp: Path) -> int:
    """How many upload lines the analysis has printed so far."""
    return (tmp / "proxy.err").read_bytes().count(b"POST /v1/activate?n=")


def _output(tmp: Path) -> str:
    return (tmp / "proxy.err").read_text() + (tmp / "proxy.out").read_text()


def _analyze(tmp: Path, flows: Path) -> dict:
    out = tmp / "offline.json"
    cli = "import sys; from auditor.cli import main; sys.exit(main())"
    run = subprocess.run([sys.executable, "-c", cli, "analyze", str(flows),
                          "--device", str(tmp / "device.yaml"), "--policy",
                          str(tmp / "policy.yaml"), "--format", "json", "-o", str(out), "-q"],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert run.returncode == 1, run.stderr  # findings
    return json.loads(out.read_text())


def _seen(report: dict) -> tuple[list, list]:
    """What must be the same live and offline: each upload's host, server addresses and
    destination, and each finding (ids and times aside)."""
    exchanges = sorted((e["transport"], e["method"], e["url"], e["host"], e["server"],
                        e["server_ip"], json.dumps(e["destination"], sort_keys=True))
                       for e in report["exchanges"])
    findings = sorted((f["rule"], f["severity"], f["host"], tuple(f["data_types"]),
                       len(f["exchanges"]), f["consent"], f["fingerprint"],
                       json.dumps(f["destination"], sort_keys=True))
                      for f in report["findings"])
    return exchanges, findings


def test_the_live_report_equals_the_analysis_of_the_saved_flows(tmp_path: Path) -> None:
    port = free_port()
    dead = free_port()  # nothing listens there: the proxy never connects upstream
    with Origin() as plain, Origin(tls_dir=tmp_path / "origin") as tls:
        process = _proxy(tmp_path, port)
        try:
            ca_file = str(tmp_path / "conf" / "mitmproxy-ca-cert.pem")
            send_uploads(HANDSET_UPLOADS, plain, proxy_port=port)
            send_uploads(HANDSET_UPLOADS, tls, proxy_port=port, ca_file=ca_file)
            unreachable = Origin()
            unreachable.port = dead
            unreachable.tls_dir = None
            assert send_uploads(HANDSET_UPLOADS[:1], unreachable, proxy_port=port) == [502]
        finally:
            code = stop(process)
    assert code == 0, _output(tmp_path)
    live = json.loads((tmp_path / "report.json").read_text())
    offline = _analyze(tmp_path, tmp_path / "flows.mitm")
    assert _seen(live) == _seen(offline)
    by_url = {e["url"]: e for e in live["exchanges"]}
    sent = by_url[f"http://{plain.authority}/v1/activate"]
    assert (sent["server"], sent["server_ip"]) == (plain.authority, "127.0.0.1")
    assert sent["destination"]["scope"] == "loopback"
    assert by_url[f"https://{tls.authority}/v1/activate"]["server_ip"] == "127.0.0.1"
    lost = by_url[f"http://127.0.0.1:{dead}/v1/activate"]
    assert lost["server_ip"] == "" and lost["status"] is None  # mitmproxy answered 502
    assert any(f"POST http://127.0.0.1:{dead}/v1/activate: no connection to the server was "
               "made" in w for w in live["inputs"][0]["warnings"])
    assert {f["rule"] for f in live["findings"]} == {RULE}


@pytest.mark.parametrize("kills", [1, 4])
def test_killed_analysis_processes_lose_no_upload(kills: int, tmp_path: Path) -> None:
    """Uploads keep coming while the analysis process is killed (SIGKILL, as the OOM killer
    does) `kills` times: the report holds every one of them. (The benchmark does 3,000.)"""
    count = 400
    uploads = [Upload("POST", f"/v1/activate?n={n}", b"imei=867203024182737&n=%d" % n)
               for n in range(count)]
    port = free_port()
    with Origin() as origin:
        process = _proxy(tmp_path, port)
        statuses: list[int] = []
        sender = threading.Thread(target=lambda: statuses.extend(
            send_uploads(uploads, origin, proxy_port=port)))
        try:
            sender.start()
            pid, printed = 0, 0
            deadline = time.monotonic() + 90
            for kill in range(kills):
                # spread over the uploads, each once the last new process has got going
                while (len(origin.received) < count * (kill + 1) // (kills + 1)
                       or _printed(tmp_path) <= printed):
                    assert time.monotonic() < deadline, _output(tmp_path)
                    time.sleep(0.01)
                printed = _printed(tmp_path)
                pid = _analysis_pid(process, not_this=pid)
                os.kill(pid, signal.SIGKILL)
            sender.join(120)
        finally:
            code = stop(process)
    output = _output(tmp_path)
    assert code == 0, output
    assert statuses == [200] * count
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["exchanges"]) == count
    assert report["summary"]["verdict"] == "fail"
    (finding,) = report["findings"]
    assert len(finding["exchanges"]) == count
    restarts = [w for w in report["inputs"][0]["warnings"] if "a new one was started" in w]
    assert len(restarts) == kills
    # each upload's line was printed once, whatever the number of processes
    assert sum(f"POST /v1/activate?n={n}  IMEI " in output for n in range(count)) == count
    assert sum(line.count("POST /v1/activate?n=") for line in output.splitlines()) == count


def test_when_no_analysis_can_run_the_report_says_incomplete_and_the_proxy_exits_3(
        tmp_path: Path) -> None:
    """The device profile breaks after the start, then the analysis process is killed: no
    new one can start. The report names every upload it lacks and never says PASS."""
    port = free_port()
    with Origin() as origin:
        process = _proxy(tmp_path, port)
        try:
            send_uploads(HANDSET_UPLOADS[:2], origin, proxy_port=port)
            (tmp_path / "device.yaml").write_text("imei: [")
            os.kill(_analysis_pid(process), signal.SIGKILL)
            send_uploads(HANDSET_UPLOADS[2:], origin, proxy_port=port)
        finally:
            code = stop(process)
    output = _output(tmp_path)
    assert code == 3, output
    assert "Traceback" not in output
    assert "the analysis process cannot start: " in output
    assert "INCOMPLETE" in output  # the summary's verdict
    report = json.loads((tmp_path / "report.json").read_text())
    summary = report["summary"]
    assert summary["verdict"] == "incomplete" and report["findings"] == []
    missing = " ".join(summary["not_analysed"])
    assert all(u.path.split("?")[0] in missing for u in HANDSET_UPLOADS[2:]), missing
    assert len(summary["not_analysed"]) >= len(HANDSET_UPLOADS) - 2


def _gzip_bomb(size: int = 2_000_000) -> bytes:
    """About `size` bytes of gzip that would decode to about a thousand times as much:
    gzip members of 200 MiB of zeros each, one after the other (as `cat` makes them)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = packer.compress(bytes(200 << 20)) + packer.flush()
    return member * (size // len(member))


def test_a_gzip_bomb_is_decoded_by_the_analysis_not_the_proxy(tmp_path: Path) -> None:
    """A 2 MB gzip POST (about 2 GB decoded) goes through unchanged, the proxy process never
    holds more than a fraction of it, other requests are answered, and Ctrl-C right after
    it ends the proxy cleanly (no asyncio traceback) with the bomb named in the report."""
    bomb = _gzip_bomb()
    port = free_port()
    with Origin() as origin:
        process = _proxy(tmp_path, port)
        try:
            statuses = send_uploads([Upload("POST", "/bomb", bomb,
                                            (("Content-Encoding", "gzip"),))], origin,
                                    proxy_port=port)
            statuses += send_uploads(HANDSET_UPLOADS, origin, proxy_port=port)
            peak = int(Path(f"/proc/{process.pid}/status").read_text()
                       .split("VmHWM:")[1].split()[0]) << 10
        finally:
            code = stop(process)
    output = _output(tmp_path)
    assert code == 0, output
    assert "Traceback" not in output and "CancelledError" not in output
    assert statuses == [200] * (1 + len(HANDSET_UPLOADS))
    assert origin.received[0].body == bomb
    assert peak < 400 << 20, f"the proxy process reached {peak >> 20} MiB"
    report = json.loads((tmp_path / "report.json").read_text())
    assert any("live#1: gzip body would decode beyond the cap" in w
               for w in report["inputs"][0]["warnings"])
    assert report["summary"]["verdict"] == "fail"


@pytest.mark.parametrize("args, text", [
    (["--help"], "3  incomplete: uploads were seen but not analysed (live proxy)"),
    (["proxy", "--help"], "3  stopped, but uploads were not analysed"),
])
def test_exit_code_3_is_documented_in_the_help(args: list[str], text: str) -> None:
    cli = "import sys; from auditor.cli import main; sys.exit(main())"
    run = subprocess.run([sys.executable, "-c", cli, *args], check=True, cwd=REPO,
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="100"))
    assert text in run.stdout

"""`auditor study` on real parts: a real `dask scheduler` and two `dask worker` processes
on loopback, a corpus recorded from real sockets by tcpdump (make_corpus.py), and the
same study on a local cluster and through `auditor analyze`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from auditor_paths import ROOT

from auditor.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import make_corpus

APPS = 30
pytestmark = pytest.mark.skipif(shutil.which("tcpdump") is None or os.geteuid() != 0,
                                reason="recording the corpus needs tcpdump and root")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    make_corpus(folder, apps=APPS, requests=2, big_app=150)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers, as a lab would start them (own folder, own processes)."""
    folder = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    address = f"tcp://127.0.0.1:{_free_port()}"
    dask = shutil.which("dask") or str(Path(sys.executable).with_name("dask"))
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
         "--no-dashboard"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = {name: subprocess.Popen(  # no nanny: the pid is the worker itself, to kill
        [dask, "worker", address, "--name", name, "--nthreads", "1", "--no-dashboard",
         "--host", "127.0.0.1", "--no-nanny"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in ("w1", "w2")}
    from dask.distributed import Client

    try:
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in [*workers.values(), scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*workers.values(), scheduler]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _study(corpus: Path, output: Path, *extra: str) -> int:
    return main(["study", str(corpus), "--output", str(output), "--quiet", *extra])


def _index(output: Path) -> dict:
    return json.loads((output / "study.json").read_text())


def _same_outputs(a: Path, b: Path) -> None:
    for name in ("observations.csv", "findings.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name
    rows_a = [{k: c[k] for k in ("capture", "status", "error", "key", "report", "findings")}
              for c in _index(a)["captures"]]
    rows_b = [{k: c[k] for k in ("capture", "status", "error", "key", "report", "findings")}
              for c in _index(b)["captures"]]
    assert rows_a == rows_b
    for report in (a / "reports").iterdir():
        assert report.read_bytes() == (b / "reports" / report.name).read_bytes(), report.name


def test_cluster_study_equals_local_cluster_and_analyze(corpus, cluster, tmp_path):
    address, _ = cluster
    on_cluster, local = tmp_path / "cluster", tmp_path / "local"
    assert _study(corpus, on_cluster, "--scheduler", address) == 2  # broken/ could not be read
    assert _study(corpus, local, "--workers", "2") == 2
    _same_outputs(on_cluster, local)

    captures = _index(on_cluster)["captures"]
    assert len(captures) == APPS + 2
    failed = [c for c in captures if c["status"] == "failed"]
    assert [Path(c["capture"]).parent.name for c in failed] == ["broken"]
    assert "not a capture this tool reads" in failed[0]["error"]
    for capture in captures:
        if capture["status"] != "analysed":
            continue
        case = Path(capture["capture"]).parent
        alone = tmp_path / "alone.json"
        assert main(["analyze", str(case / "capture.pcap"), "--device", str(case / "device.yaml"),
                     "--keylog", str(case / "keys.log"), "--format", "json", "--output",
                     str(alone), "--fail-on", "none", "--quiet"]) == 0
        assert alone.read_bytes() == (on_cluster / capture["report"]).read_bytes(), case.name
    # the tables say what the reports say, and the TLS uploads were read with the key log
    findings = (on_cluster / "findings.csv").read_text()
    assert "graph.facebook.com,Meta" in findings and "sha256" in findings
    assert (on_cluster / "observations.parquet").stat().st_size > 0
    html = (on_cluster / "overview.html").read_text()
    assert "Xiaomi" in html and "Adjust" in html and "<script" not in html


def test_rerun_does_no_work_and_a_changed_policy_rejudges(corpus, cluster, tmp_path):
    address, _ = cluster
    output = tmp_path / "study"
    _study(corpus, output, "--scheduler", address)
    cache = output / "cache"
    stored = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    _study(corpus, output, "--scheduler", address)
    captures = _index(output)["captures"]
    assert all(c["cached"] for c in captures)
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stored

    policy = tmp_path / "policy.yaml"
    policy.write_text((ROOT / "rules" / "baseline.yaml").read_text())
    app = corpus / "app-001"
    (app / "study.yaml").write_text((app / "study.yaml").read_text()
                                    + f"policies: [{policy}]\n")
    try:
        _study(corpus, output, "--scheduler", address)
    finally:
        (app / "study.yaml").write_text((app / "study.yaml").read_text().split("policies")[0])
    again = {Path(c["capture"]).parent.name: c["cached"] for c in _index(output)["captures"]}
    assert again.pop("app-001") is False
    assert all(again.values())


def test_a_killed_workers_task_is_retried(corpus, cluster, tmp_path):
    from dask.distributed import Client

    address, workers = cluster
    output = tmp_path / "study"
    codes = []
    runner = threading.Thread(target=lambda: codes.append(
        _study(corpus, output, "--scheduler", address)))
    killed = []
    with Client(address, timeout="10s") as client:
        names = {addr: w["name"] for addr, w in client.scheduler_info()["workers"].items()}
        runner.start()
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for addr, keys in client.processing().items():
                if keys and names.get(addr) == "w1":
                    os.kill(workers["w1"].pid, signal.SIGKILL)
                    killed.extend(keys)
                    break
            time.sleep(0.02)
        runner.join(120)
    assert killed, "worker w1 never ran a task"
    assert codes == [2]  # only broken/ failed: every task of the dead worker ran again
    captures = _index(output)["captures"]
    assert [Path(c["capture"]).parent.name for c in captures if c["status"] == "failed"] \
        == ["broken"]


def test_bad_input_is_a_clear_error(tmp_path, capsys, monkeypatch):
    assert _study(tmp_path / "missing", tmp_path / "out") == 2
    assert "missing: no such folder or manifest" in capsys.readouterr().err
    manifest = tmp_path / "corpus.csv"
    manifest.write_text(f"capture,app\n{ROOT}/captures/redmi-1s-2014/capture.pcap,a\n"
                        "nowhere.pcap,b\n")
    assert _study(manifest, tmp_path / "out") == 2
    assert f"{manifest}:3: capture nowhere.pcap not found" in capsys.readouterr().err
    manifest.write_text(f"capture,app\n{ROOT}/captures/redmi-1s-2014/capture.pcap\n")
    assert _study(manifest, tmp_path / "out") == 2
    assert f"{manifest}:2: 1 cells, but the header has 2 columns" in capsys.readouterr().err
    manifest = tmp_path / "corpus.yaml"  # YAML manifests pass the checks every YAML file does
    manifest.write_text("captures:\n  - capture: a.pcap\n    app: \0x\n")
    assert _study(manifest, tmp_path / "out") == 2
    assert f"{manifest}:3: a NUL byte is not allowed in YAML" in capsys.readouterr().err
    assert _study(ROOT / "captures", tmp_path / "out", "--scheduler",
                  f"tcp://127.0.0.1:{_free_port()}") == 2
    err = capsys.readouterr().err
    assert "cannot reach a Dask scheduler there" in err and "Traceback" not in err
    dead = f"tcp://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dead)  # used when --scheduler is not given
    assert _study(ROOT / "captures", tmp_path / "out") == 2
    assert f"DASK_SCHEDULER_ADDRESS={dead}: cannot reach" in capsys.readouterr().err

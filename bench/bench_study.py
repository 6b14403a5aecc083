"""Throughput of `auditor study` with 1 and 2 local workers, and what a big study would take.

    python3 bench/bench_study.py [--apps 300] [--big 4] [--work /tmp/study-bench]

1. Records a corpus of `--apps` captures from real sockets (tests/study/make_corpus.py,
   needs root and tcpdump; kept in --work and reused) and runs `auditor study` on it with
   `--workers 1` and `--workers 2`, each into a fresh output folder, then once more on the
   2-worker output (everything from the cache). Wall time is the whole command as a user
   runs it, cluster start included.
2. Writes `--big` synthetic 50 MB captures (bench/make_capture.py) and studies them with
   one worker: the per-capture cost of a 50 MB capture, from each task's own time.
3. Prints, on paper, what 10,000 captures of 50 MB take on N cores of a Dask cluster:
   10,000 x (cost of one 50 MB capture) / N, from the median CPU time of a task (cores
   of one's own) and from its wall time here (cores as shared as this machine's), assuming
   the workers read captures as fast as this machine does; Dask's own cost per task is
   milliseconds, the cluster's start seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def study(corpus: Path, out: Path, workers: int, *extra: str) -> tuple[float, dict]:
    """(wall seconds, study.json) of one `auditor study` run."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "auditor.cli", "study", str(corpus), "-o", str(out),
                    "--workers", str(workers), "--quiet", "--fail-on", "none", *extra],
                   env=ENV, check=False)
    wall = time.monotonic() - start
    return wall, json.loads((out / "study.json").read_text())


def cluster_start(workers: int) -> float:
    """Seconds to start (and stop) a local cluster of `workers`, in a child like a study."""
    code = ("import time; t = time.monotonic(); from auditor.study.run import connect, close; "
            f"c = connect(workers={workers}); c.wait_for_workers({workers}); close(c); "
            "print(time.monotonic() - t)")
    run = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                         check=True)
    return float(run.stdout.split()[-1])


def line(label: str, wall: float, index: dict, start: float = 0.0) -> str:
    captures = index["totals"]["captures"]
    megabytes = index["totals"]["bytes"] / 1e6
    text = (f"{label:<28} {captures:>5} captures {megabytes:8.1f} MB {wall:7.1f} s "
            f"{captures / wall * 60:8.0f} captures/min {megabytes / wall:7.2f} MB/s")
    if start:
        busy = wall - start
        text += (f"  | without the {start:.1f} s cluster start: "
                 f"{captures / busy * 60:.0f} captures/min {megabytes / busy:.2f} MB/s")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=300)
    parser.add_argument("--big", type=int, default=4, help="synthetic 50 MB captures")
    parser.add_argument("--work", type=Path, default=Path("/tmp/study-bench"))
    options = parser.parse_args()
    corpus = options.work / f"corpus-{options.apps}"
    if not corpus.is_dir():
        subprocess.run([sys.executable, str(ROOT / "tests/study/make_corpus.py"), str(corpus),
                        "--apps", str(options.apps), "--requests", "3"], check=True)
        shutil.rmtree(corpus / "broken")  # throughput of captures that can be audited
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} (1/5/15 min) on {os.cpu_count()} cores")
    runs = {}
    for workers in (1, 2):
        out = options.work / f"out-{workers}"
        shutil.rmtree(out, ignore_errors=True)
        start = cluster_start(workers)
        runs[workers] = study(corpus, out, workers)
        print(line(f"recorded, {workers} worker(s)", *runs[workers], start), flush=True)
    print(line("recorded, 2 workers, cached", *study(corpus, options.work / "out-2", 2)))
    done = [c for c in runs[1][1]["captures"] if c["status"] == "analysed"]
    size = statistics.mean(c["bytes"] for c in done) / 1e3
    print(f"per recorded capture ({size:.1f} kB), 1 worker: median "
          f"{statistics.median(c['seconds'] for c in done) * 1000:.0f} ms wall, "
          f"{statistics.median(c['cpu_seconds'] for c in done) * 1000:.0f} ms CPU", flush=True)

    big = options.work / "big"
    big.mkdir(parents=True, exist_ok=True)
    for number in range(options.big):
        case = big / f"big-{number}"
        case.mkdir(exist_ok=True)
        shutil.copy(ROOT / "captures/redmi-1s-2014/device.yaml", case / "device.yaml")
        if not (case / "capture.pcap").is_file():
            subprocess.run([sys.executable, str(ROOT / "bench/make_capture.py"), "--size-mb",
                            "50", str(case / "capture.pcap")], check=True,
                           stdout=subprocess.DEVNULL)
    out = options.work / "out-big"
    shutil.rmtree(out, ignore_errors=True)
    wall, index = study(big, out, 1)
    print(line("synthetic 50 MB, 1 worker", wall, index))
    done = [c for c in index["captures"] if c["status"] == "analysed"]
    wall = statistics.median(c["seconds"] for c in done)
    cpu = statistics.median(c["cpu_seconds"] for c in done)
    print(f"per 50 MB capture: median {wall:.1f} s wall ({50 / wall:.1f} MB/s), "
          f"{cpu:.1f} s CPU ({50 / cpu:.1f} MB/s per core)")
    print("on paper, 10,000 captures of 50 MB (500 GB), one worker per core:")
    print("  cores   dedicated cores (CPU cost)   cores as loaded as this machine (wall)")
    for cores in (2, 16, 64, 256):
        print(f"  {cores:>5}   {_hours(10_000 * cpu / cores):>26}   "
              f"{_hours(10_000 * wall / cores):>38}")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


if __name__ == "__main__":
    main()

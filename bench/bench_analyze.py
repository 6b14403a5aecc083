"""Throughput and peak memory of `auditor analyze --jobs 1` and `--jobs 2` (or of the pcap
reader alone) against the tshark pipeline `tshark -r F -Y http.request -T fields -e
http.host -e http.request.uri -e http.file_data`, measured on the same file in one run.

    python3 bench/make_capture.py --size-mb 100 /tmp/c100.pcap
    python3 bench/bench_analyze.py /tmp/c100.pcap --device captures/redmi-1s-2014/device.yaml

Each tool runs as its own child process; its wall time comes from a monotonic clock, its
CPU time and peak RSS from `os.wait4`. With workers, the peak RSS is that of the largest
process (the main one or a worker: `ru_maxrss` of a process and its waited-for children
is the largest of them), so it is the "per process" figure. `--repeat N` runs every
command N times, interleaved, and keeps each one's fastest run (the machine is shared:
the fastest run is the one least disturbed). The load average is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TSHARK = ["tshark", "-r", "{file}", "-Y", "http.request", "-T", "fields", "-e", "http.host",
          "-e", "http.request.uri", "-e", "http.file_data"]


def measure(command: list[str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of one child process and
    the processes it waited for."""
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.returncode not in (0, 1):  # 1: analyze found something at --fail-on
        raise SystemExit(f"{command[0]} failed ({child.returncode}): {stderr.strip()[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, child.returncode


def run_reader(path: str) -> None:
    """The pcap reader alone: every exchange produced and dropped."""
    from auditor.model import InputInfo
    from auditor.sources.pcap.reader import read_pcap

    info = InputInfo(path=path, kind="pcap", size=os.path.getsize(path))
    for _ in read_pcap(path, info, keylogs=[], progress=None):
        pass
    print(f"{info.packets} packets, {info.exchanges} exchanges", file=sys.stderr)


def analyze_command(path: str, device: str | None, jobs: int) -> list[str]:
    cli = shutil.which("auditor")
    command = [cli] if cli else [sys.executable, "-c",
                                 "import sys; from auditor.cli import main; sys.exit(main())"]
    command += ["analyze", path, "--format", "json", "--output", os.devnull, "--quiet",
                "--jobs", str(jobs)]
    return command + (["--device", device] if device else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--device", help="device.yaml for `auditor analyze`")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], metavar="N",
                        help="the --jobs values to measure side by side (default: 1 2)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each command; the fastest is kept (default: 1)")
    parser.add_argument("--reader-only", action="store_true",
                        help="measure the pcap reader instead of the whole `auditor analyze`")
    parser.add_argument("--run-reader", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_reader:
        run_reader(args.capture)
        return
    size_mb = os.path.getsize(args.capture) / 1e6
    if args.reader_only:
        ours = [("pcap reader alone", [sys.executable, __file__, "--run-reader", args.capture])]
    else:
        ours = [(f"analyze --jobs {n}", analyze_command(args.capture, args.device, n))
                for n in args.jobs]
    commands = ours + [("tshark pipeline", [a.format(file=args.capture) for a in TSHARK])]
    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(max(1, args.repeat)):
        for name, command in commands:
            seconds, cpu, rss, _ = measure(command)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, cpu, rss)
    load = os.getloadavg()
    print(f"{args.capture}: {size_mb:.1f} MB, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, fastest of {max(1, args.repeat)}")
    print(f"{'':20} {'wall s':>8} {'CPU s':>8} {'MB/s':>8} {'peak RSS MB':>12} {'x tshark':>9}")
    tshark = best["tshark pipeline"][0]
    for name, (seconds, cpu, rss) in best.items():
        print(f"{name:20} {seconds:8.2f} {cpu:8.2f} {size_mb / seconds:8.1f} {rss:12.0f} "
              f"{tshark / seconds:9.2f}")


if __name__ == "__main__":
    main()

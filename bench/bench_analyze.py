"""Throughput and peak memory of `auditor analyze` (and of the pcap reader alone) against
the tshark pipeline `tshark -r F -Y http.request -T fields -e http.host -e
http.request.uri -e http.file_data`, measured on the same file in one run.

    python3 bench/make_capture.py --size-mb 300 /tmp/big.pcap
    python3 bench/bench_analyze.py /tmp/big.pcap --device captures/redmi-1s-2014/device.yaml

Each tool runs as its own child process; its wall time comes from a monotonic clock
and its peak RSS from `os.wait4`, so one measurement cannot leak into another.
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


def measure(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one child process."""
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.returncode not in (0, 1):  # 1: analyze found something at --fail-on
        raise SystemExit(f"{command[0]} failed ({child.returncode}): {stderr.strip()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024, child.returncode


def run_reader(path: str) -> None:
    """The pcap reader alone: every exchange produced and dropped."""
    from auditor.model import InputInfo
    from auditor.sources.pcap.reader import read_pcap

    info = InputInfo(path=path, kind="pcap", size=os.path.getsize(path))
    for _ in read_pcap(path, info, keylogs=[], progress=None):
        pass
    print(f"{info.packets} packets, {info.exchanges} exchanges", file=sys.stderr)


def analyze_command(path: str, device: str | None) -> list[str]:
    cli = shutil.which("auditor")
    command = [cli] if cli else [sys.executable, "-c",
                                 "import sys; from auditor.cli import main; sys.exit(main())"]
    command += ["analyze", path, "--format", "json", "--output", os.devnull]
    return command + (["--device", device] if device else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--device", help="device.yaml for `auditor analyze`")
    parser.add_argument("--reader-only", action="store_true",
                        help="measure the pcap reader instead of the whole `auditor analyze`")
    parser.add_argument("--run-reader", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_reader:
        run_reader(args.capture)
        return
    size_mb = os.path.getsize(args.capture) / 1e6
    ours = ([sys.executable, __file__, "--run-reader", args.capture] if args.reader_only
            else analyze_command(args.capture, args.device))
    label = "pcap reader alone" if args.reader_only else "auditor analyze"
    rows = []
    for name, command in ((label, ours),
                          ("tshark pipeline", [a.format(file=args.capture) for a in TSHARK])):
        seconds, rss, _ = measure(command)
        rows.append((name, seconds, size_mb / seconds, rss))
    print(f"{args.capture}: {size_mb:.1f} MB, {os.cpu_count()} CPUs")
    print(f"{'':20} {'wall s':>8} {'MB/s':>8} {'peak RSS MB':>12}")
    for name, seconds, rate, rss in rows:
        print(f"{name:20} {seconds:8.2f} {rate:8.1f} {rss:12.0f}")
    print(f"throughput ratio ({label} / tshark): {rows[0][2] / rows[1][2]:.1f}x")


if __name__ == "__main__":
    main()

"""CPU time of decoding, detecting and judging every exchange of a capture in one mode —
to compare two checkouts of the detectors on the same file:

    python3 bench/make_capture.py --size-mb 40 /tmp/b40.pcap
    python3 bench/bench_pattern_cost.py /tmp/b40.pcap                 # this checkout
    PYTHONPATH=/path/to/other python3 /path/to/other/bench/bench_pattern_cost.py /tmp/b40.pcap

The capture is read first (not timed); then `Audit.add` runs over its exchanges, timed
with `time.process_time` so other processes on the machine count less than in wall time.
With `--reader-only`, the pcap reader itself is timed the same way instead (to see what
a change to the packet path costs on plain Ethernet/IPv4/TCP captures).
"""

from __future__ import annotations

import argparse
import os
import time

from auditor.engine import build_audit
from auditor.model import InputInfo
from auditor.sources import open_capture
from auditor.sources.pcap import read_pcap


def time_reader(path: str, repeat: int) -> None:
    times = []
    for _ in range(repeat):
        info = InputInfo(path=path, kind="pcap", size=os.path.getsize(path))
        start = time.process_time()
        count = sum(1 for _ in read_pcap(path, info, keylogs=[], progress=None))
        times.append(time.process_time() - start)
    print(f"{info.packets} packets, {count} exchanges, pcap reader: "
          f"{', '.join(f'{t:.3f}' for t in times)} s CPU")


def time_audit(path: str, device: str | None, repeat: int) -> None:
    _, exchanges = open_capture(path, keylogs=[], progress=None)
    exchanges = list(exchanges)
    times = []
    for _ in range(repeat):
        audit = build_audit(device=device, pattern_mode=device is None)
        start = time.process_time()
        for exchange in exchanges:
            audit.add(exchange)
        times.append(time.process_time() - start)
    mode = "known" if device else "pattern"
    print(f"{len(exchanges)} exchanges, {mode} mode: "
          f"{', '.join(f'{t:.2f}' for t in times)} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture")
    parser.add_argument("--device", help="device.yaml: known mode (patterns off)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reader-only", action="store_true", help="time the pcap reader")
    args = parser.parse_args()
    if args.reader_only:
        time_reader(args.capture, args.repeat)
    else:
        time_audit(args.capture, args.device, args.repeat)


if __name__ == "__main__":
    main()

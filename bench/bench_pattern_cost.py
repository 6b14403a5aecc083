"""CPU time of decoding, detecting and judging every exchange of a capture in one mode —
to compare two checkouts of the detectors on the same file:

    python3 bench/make_capture.py --size-mb 40 /tmp/b40.pcap
    python3 bench/bench_pattern_cost.py /tmp/b40.pcap                 # this checkout
    PYTHONPATH=/path/to/other python3 /path/to/other/bench/bench_pattern_cost.py /tmp/b40.pcap

The capture is read first (not timed); then `Audit.add` runs over its exchanges, timed
with `time.process_time` so other processes on the machine count less than in wall time.
"""

from __future__ import annotations

import argparse
import time

from auditor.engine import build_audit
from auditor.sources import open_capture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture")
    parser.add_argument("--device", help="device.yaml: known mode (patterns off)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _, exchanges = open_capture(args.capture, keylogs=[], progress=None)
    exchanges = list(exchanges)
    times = []
    for _ in range(args.repeat):
        audit = build_audit(device=args.device, pattern_mode=args.device is None)
        start = time.process_time()
        for exchange in exchanges:
            audit.add(exchange)
        times.append(time.process_time() - start)
    mode = "known" if args.device else "pattern"
    print(f"{len(exchanges)} exchanges, {mode} mode: "
          f"{', '.join(f'{t:.2f}' for t in times)} s CPU")


if __name__ == "__main__":
    main()

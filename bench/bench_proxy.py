"""Added latency and throughput of `auditor proxy` vs plain `mitmdump` vs direct.

    python3 bench/bench_proxy.py [--requests 500] [--sizes 1024,10240]

A plain-HTTP origin on 127.0.0.1, one keep-alive client connection, uploads carrying an
IMEI padded to each size (so the auditor has real work to do); the same client and origin
directly, through `mitmdump -q`, and through `auditor proxy` with a device profile and a
policy. Prints p50/p99 latency per request and requests per second. Target (issue 3.7):
p50 of `auditor proxy` under 1 ms above plain mitmdump for uploads up to 10 KB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "live"))

from harness import (
    DEVICE_YAML,
    POLICY_YAML,
    Origin,
    auditor_proxy_command,
    free_port,
    mitmdump_command,
    start,
    stop,
)

WARMUP = 50


def upload_body(size: int) -> bytes:
    """Telemetry-like JSON of about `size` bytes: identifiers, then a batch of events."""
    head = b'{"imei": "867203024182737", "imsi": "460013728150946", "events": ['
    event = b'{"name": "AppOpen", "pkg": "com.miui.home", "ts": 1406887203},'
    events = event * max(1, (size - len(head)) // len(event))
    return head + events.rstrip(b",") + b"]}"


def measure(origin: Origin, proxy_port: int | None, body: bytes, count: int) -> list[float]:
    """Seconds per request over one keep-alive connection (after a warm-up)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port or origin.port, timeout=30)
    conn.connect()
    # http.client writes head and body separately: without this, Nagle's algorithm and
    # delayed ACKs add 40 ms to every request and hide everything else
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    target = f"http://{origin.authority}/v1/stats" if proxy_port else "/v1/stats"
    headers = {"Content-Type": "application/json"}
    times = []
    try:
        for n in range(WARMUP + count):
            started = time.perf_counter()
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if n >= WARMUP:
                times.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
    finally:
        conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--sizes", default="1024,10240")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp_name, Origin() as origin:
        tmp = Path(tmp_name)
        (tmp / "device.yaml").write_text(DEVICE_YAML)
        (tmp / "policy.yaml").write_text(POLICY_YAML)
        setups: dict[str, list[str] | None] = {
            "direct": None,
            "mitmdump": [*mitmdump_command(), "-q", "--set", f"confdir={tmp / 'conf'}"],
            "auditor proxy": [*auditor_proxy_command(), "--confdir", str(tmp / "conf"),
                              "--device", str(tmp / "device.yaml"),
                              "--policy", str(tmp / "policy.yaml"),
                              "--report", str(tmp / "report.json")],
        }
        results: dict[tuple[str, int], list[float]] = {}
        drained = ""
        for name, command in setups.items():
            port = None
            process = None
            if command is not None:
                port = free_port()
                process = start([*command, "--listen-host", "127.0.0.1",
                                 "--listen-port", str(port)], port, tmp, name.replace(" ", "-"))
            try:
                for size in sizes:
                    results[name, size] = measure(origin, port, upload_body(size), args.requests)
            finally:
                if process is not None:
                    stopping = time.perf_counter()
                    stop(process)
                    if name == "auditor proxy":
                        drained = _drained(tmp / "report.json", time.perf_counter() - stopping,
                                           (WARMUP + args.requests) * len(sizes))

    print(f"{args.requests} POSTs per row, one keep-alive connection, loopback, "
          f"Python {sys.version.split()[0]}")
    print(f"{'setup':<15}{'size':>8}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}"
          f"{'p50 added vs mitmdump':>24}")
    for size in sizes:
        base = statistics.median(results["mitmdump", size])
        for name in setups:
            times = sorted(results[name, size])
            p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
            added = f"{(p50 - base) * 1000:+.3f} ms" if name == "auditor proxy" else ""
            print(f"{name:<15}{size:>8}{p50 * 1000:>10.3f}{p99 * 1000:>10.3f}"
                  f"{len(times) / sum(times):>10.0f}{added:>24}")
    print(drained)


def _drained(report: Path, seconds: float, sent: int) -> str:
    """The analysis runs behind the traffic; stopping waits for it to catch up."""
    if not report.exists():
        return "auditor proxy wrote no report"
    exchanges = len(json.loads(report.read_text())["exchanges"])
    return (f"auditor proxy: stopped {seconds:.1f} s after the signal; its report holds "
            f"{exchanges} of the {sent} uploads sent")


if __name__ == "__main__":
    main()

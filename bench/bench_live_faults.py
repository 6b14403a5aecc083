"""The live proxy under hostile input and faults (issue 16, J and D).

    python3 bench/bench_live_faults.py bomb [--bombs 3] [--seconds 10]
    python3 bench/bench_live_faults.py kills [--uploads 3000] [--kills 1 4]

`bomb`: one keep-alive client sends small unrelated requests through `auditor proxy` all
the time; first alone (baseline), then while 2 MB gzip bombs (about 2 GB decoded each) go
through on another connection. Prints the unrelated requests' p50/p99 latency in both
phases, the added p99, and the peak memory of the proxy process and of its analysis process.
Target: under 100 ms added at p99.

`kills`: uploads carrying an IMEI go through `auditor proxy` while its analysis process is
killed (SIGKILL) N times, evenly spread; prints how many uploads the report holds, its
verdict, and the time from the last upload to the report.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "live"))

from harness import Origin, Upload, free_port, send_uploads, start_auditor_proxy, stop


def gzip_bomb(size: int = 2_000_000) -> bytes:
    """About `size` bytes of gzip members of 200 MiB of zeros each (ratio about 1000)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = packer.compress(bytes(200 << 20)) + packer.flush()
    return member * (size // len(member))


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return found


def peak_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


class Prober(threading.Thread):
    """Small unrelated requests, one after the other, each timed."""

    def __init__(self, origin: Origin, port: int) -> None:
        super().__init__(daemon=True)
        self.origin, self.port = origin, port
        self.samples: list[tuple[float, float]] = []  # (start, seconds)
        self.stop = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not self.stop.is_set():
            started = time.perf_counter()
            conn.request("GET", f"http://{self.origin.authority}/v1/weather?city=Berlin")
            conn.getresponse().read()
            self.samples.append((started, time.perf_counter() - started))
            time.sleep(0.005)

    def between(self, start: float, end: float) -> list[float]:
        return [s for t, s in self.samples if start <= t < end]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 \
        else (values[0] if values else float("nan"))


def bench_bomb(bombs: int, seconds: float) -> None:
    bomb = gzip_bomb()
    with tempfile.TemporaryDirectory() as tmp, Origin() as origin:
        folder, port = Path(tmp), free_port()
        process = start_auditor_proxy(folder, port)
        try:
            prober = Prober(origin, port)
            prober.start()
            time.sleep(2)  # warm-up
            base_start = time.perf_counter()
            time.sleep(seconds)
            bomb_start = time.perf_counter()
            worker_peak = 0.0
            for _ in range(bombs):
                send_uploads([Upload("POST", "/bomb", bomb, (("Content-Encoding", "gzip"),))],
                             origin, proxy_port=port)
            while time.perf_counter() < bomb_start + seconds:
                worker_peak = max([worker_peak, *(peak_mib(c) for c in children(process.pid))])
                time.sleep(0.1)
            bomb_end = time.perf_counter()
            prober.stop.set()
            prober.join(30)
            proxy_peak = peak_mib(process.pid)
        finally:
            stop(process)
    base = prober.between(base_start, bomb_start)
    loaded = prober.between(bomb_start, bomb_end)
    ms = [1000 * percentile(v, q) for v in (base, loaded) for q in (50, 99)]
    print(f"{bombs} gzip bomb(s) of {len(bomb) / 1e6:.1f} MB (about "
          f"{len(bomb) * 1030 / 1e9:.0f} GB decoded each) through auditor proxy")
    print(f"unrelated requests, baseline ({len(base)}): p50 {ms[0]:.1f} ms  p99 {ms[1]:.1f} ms")
    print(f"unrelated requests, with the bombs ({len(loaded)}): p50 {ms[2]:.1f} ms  "
          f"p99 {ms[3]:.1f} ms  max {1000 * max(loaded):.1f} ms")
    print(f"added at p99: {ms[3] - ms[1]:.1f} ms (target < 100 ms)")
    print(f"peak memory: proxy process {proxy_peak:.0f} MiB, analysis process "
          f"{worker_peak:.0f} MiB")


def bench_kills(uploads: int, kills: int) -> None:
    bodies = [Upload("POST", f"/v1/activate?n={n}", b"imei=867203024182737&n=%d" % n)
              for n in range(uploads)]
    with tempfile.TemporaryDirectory() as tmp, Origin() as origin:
        folder, port = Path(tmp), free_port()
        process = start_auditor_proxy(folder, port)
        sender = threading.Thread(target=send_uploads, args=(bodies, origin),
                                  kwargs={"proxy_port": port})
        started = time.perf_counter()
        sender.start()
        killed = 0
        for kill in range(kills):
            while len(origin.received) < uploads * (kill + 1) // (kills + 1):
                time.sleep(0.01)
            for pid in children(process.pid):
                os.kill(pid, signal.SIGKILL)
                killed += 1
                break
        sender.join()
        sent = time.perf_counter()
        code = stop(process, timeout=600)
        ended = time.perf_counter()
        report = json.loads((folder / "report.json").read_text())
    checked = sum(len(f["exchanges"]) for f in report["findings"])
    print(f"{uploads} IMEI uploads, analysis process killed {killed} times: "
          f"{len(report['exchanges'])} uploads in the report ({checked} in findings), verdict "
          f"{report['summary']['verdict']}, exit {code}; uploads took {sent - started:.1f} s, "
          f"report {ended - sent:.1f} s after the last one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="what", required=True)
    bomb = commands.add_parser("bomb")
    bomb.add_argument("--bombs", type=int, default=3)
    bomb.add_argument("--seconds", type=float, default=10)
    kills = commands.add_parser("kills")
    kills.add_argument("--uploads", type=int, default=3000)
    kills.add_argument("--kills", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    if args.what == "bomb":
        bench_bomb(args.bombs, args.seconds)
    else:
        for n in args.kills:
            bench_kills(args.uploads, n)


if __name__ == "__main__":
    main()

"""What TLS decryption with a key log costs: our `cryptography`-based decryptor against
scapy's TLS layer (issue 6 point 3), on the same captures.

It records two captures of one large HTTPS upload each (curl to a Python `ssl` server,
TLS 1.3 AES-128-GCM and TLS 1.2 ECDHE-RSA-AES128-GCM) with tcpdump on a private loopback
whose MTU is set to 1500, so packets are the size a phone's are. Then it times:

- `decrypt_connection` alone on the reassembled streams (MB/s, µs per record);
- the whole pcap reader with and without the key log (µs per packet);
- scapy 2.8 with `conf.tls_session_enable`, `conf.tls_nss_filename` and
  `sniff(offline=..., session=TCPSession)` (µs per packet), checking it decrypted.

    sudo python3 bench/bench_tls.py [--mb 8]     (from the repository root; makes
                                                   bench/out/tls-*.pcap on first run)
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "tls"))  # make_fixtures: server, curl
sys.path.insert(0, str(ROOT / "tests" / "tls"))  # tls_streams: scapy stream reassembly

CAPTURES = {
    "tls13": ["--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256"],
    "tls12": ["--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],
}


def make_captures(megabytes: int) -> None:
    """Inside `unshare -n`: record one upload per entry of CAPTURES into bench/out."""
    import make_fixtures as mf

    # Phone-sized packets: a 1500-byte MTU and no segmentation offload on this loopback.
    subprocess.run(["ip", "link", "set", "lo", "mtu", "1500", "gso_max_size", "1500", "up"],
                   check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(6)
    upload = base64.b64encode(rng.randbytes(megabytes * 3 << 18))  # ~megabytes MB of text
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "upload.txt").write_bytes(b"imei=867203024182737&blob=" + upload)
        certs = mf.make_certs(work)
        mf.HERE = OUT
        for name, options in CAPTURES.items():
            with mf.PythonTlsServer(443, certs["rsa"]):
                mf.capture(f"tls-{name}", 443, work, lambda keys, options=options: mf.curl(
                    keys, 443, *options, "--limit-rate", "16M", "--data-binary", f"@{work / 'upload.txt'}",
                    f"https://{mf.HOST}/v1/upload"))


def timed(function, repeat: int = 3) -> tuple[float, object]:
    """The best wall-clock seconds of `repeat` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_ours(name: str) -> int:
    from auditor.model import InputInfo
    from auditor.sources.pcap.reader import read_pcap
    from auditor.sources.pcap.tls.decrypt import KeyLog, decrypt_connection

    pcap, keys = OUT / f"tls-{name}.pcap", OUT / f"tls-{name}.keys"
    (conn,) = _connections(pcap)
    keylog = KeyLog.from_files([str(keys)])
    seconds, result = timed(lambda: decrypt_connection(conn.client_stream, conn.server_stream,
                                                       keylog))
    assert result.ok and b"imei=867203024182737" in result.client_data, result.warnings
    megabytes = (len(result.client_data) + len(result.server_data)) / 1e6
    records = result.client_records + result.server_records
    print(f"{name}: {result.cipher}, {megabytes:.1f} MB of application data in {records} "
          f"records")
    print(f"  decrypt_connection:      {seconds * 1e3:8.1f} ms  {megabytes / seconds:7.1f} MB/s"
          f"  {seconds / records * 1e6:6.1f} µs/record")

    def read(keylogs: list[str]) -> list:
        info = InputInfo(path=str(pcap), kind="pcap")
        exchanges = list(read_pcap(str(pcap), info, keylogs=keylogs, progress=None))
        read.packets = info.packets
        return exchanges

    for label, keylogs in (("pcap reader, key log", [str(keys)]), ("pcap reader, no keys", [])):
        seconds, exchanges = timed(lambda keylogs=keylogs: read(keylogs))
        assert exchanges and exchanges[0].decrypted == bool(keylogs)
        print(f"  {label + ':':24} {seconds * 1e3:8.1f} ms  {read.packets} packets"
              f"  {seconds / read.packets * 1e6:6.1f} µs/packet")
    return read.packets


def _connections(pcap: Path):
    import tls_streams

    tls_streams.FIXTURES = pcap.parent
    return tls_streams.connections(pcap.name)


def bench_scapy(name: str, capture_packets: int) -> None:
    from scapy.config import conf
    from scapy.layers.tls.record import TLSApplicationData
    from scapy.sendrecv import sniff
    from scapy.sessions import TCPSession

    conf.tls_session_enable = True
    conf.tls_nss_filename = str(OUT / f"tls-{name}.keys")
    found = []

    def look(packet) -> None:
        if packet.haslayer(TLSApplicationData):
            found.append(bytes(packet[TLSApplicationData].data))

    start = time.perf_counter()
    merged = sniff(offline=str(OUT / f"tls-{name}.pcap"), session=TCPSession, prn=look,
                    store=True)
    seconds = time.perf_counter() - start
    decrypted = any(b"imei=867203024182737" in data for data in found)
    # TCPSession hands over merged segments; the cost is per packet of the capture.
    print(f"  scapy TLS layer:         {seconds * 1e3:8.1f} ms  {capture_packets} packets"
          f"  {seconds / capture_packets * 1e6:6.1f} µs/packet  (decrypted the upload: "
          f"{'yes' if decrypted else 'NO'}; {len(merged)} merged packets)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=8, help="upload size in MB (default 8)")
    parser.add_argument("--make-captures", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_captures:
        make_captures(args.mb)
        return
    if not all((OUT / f"tls-{name}.pcap").exists() for name in CAPTURES):
        subprocess.run(["unshare", "-n", sys.executable, __file__, "--make-captures",
                        "--mb", str(args.mb)], check=True, env=dict(os.environ))
    packets = {name: bench_ours(name) for name in CAPTURES}
    # scapy last: once its TLS sessions are on, it re-dissects every later read of port 443.
    for name in CAPTURES:
        print(name)
        bench_scapy(name, packets[name])


if __name__ == "__main__":
    main()

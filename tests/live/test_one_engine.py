"""One engine: the same uploads recorded by tcpdump and proxied into a flow file (and the
HAR mitmdump wrote of them) give the same observations and findings."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from harness import (
    DEVICE_YAML,
    HANDSET_UPLOADS,
    POLICY_YAML,
    Origin,
    record_flow_file,
    send_uploads,
    stop,
)

from auditor.engine import AuditResult, analyze_files, build_audit


def record_pcap(origin: Origin, folder: Path) -> Path:
    """The uploads sent straight to the origin, recorded by a real tcpdump on lo."""
    pcap = folder / "direct.pcap"
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed")
    # --immediate-mode: each packet is handed over at once; else the last buffered block
    # of packets can be lost when tcpdump is stopped right after the uploads
    process = subprocess.Popen([tcpdump, "-i", "lo", "-U", "--immediate-mode", "-w", str(pcap),
                                f"tcp port {origin.port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        line = b""
        while b"listening on" not in line:
            line = process.stderr.readline()
            if not line or time.monotonic() > deadline:
                pytest.skip(f"tcpdump cannot capture on lo here: {line.decode().strip()}")
        _wait_until_capturing(pcap, origin.port)
        send_uploads(HANDSET_UPLOADS, origin)
        _wait_until_written(pcap, [u.body or u.path.encode() for u in HANDSET_UPLOADS])
    finally:
        stop(process, signal.SIGINT)
        process.stderr.close()
    return pcap


def _wait_until_capturing(pcap: Path, port: int, timeout: float = 20) -> None:
    """tcpdump says "listening" a moment before packets really reach it: knock (connect
    and close, no data) until a packet shows up in the file."""
    deadline = time.monotonic() + timeout
    while pcap.stat().st_size <= 24:  # the pcap file header alone
        if time.monotonic() > deadline:
            raise TimeoutError(f"tcpdump wrote no packet to {pcap} within {timeout}s")
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        time.sleep(0.05)


def _wait_until_written(pcap: Path, needles: list[bytes], timeout: float = 20) -> None:
    """tcpdump writes packets a moment after they pass; stopping it earlier loses them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = pcap.read_bytes()
        if all(needle in data for needle in needles):
            return
        time.sleep(0.05)
    raise TimeoutError(f"tcpdump did not write all uploads to {pcap} within {timeout}s "
                       f"({pcap.stat().st_size} bytes written)")


def _analyse(path: Path, folder: Path) -> AuditResult:
    device, policy = folder / "device.yaml", folder / "policy.yaml"
    audit = build_audit(device=str(device), policies=[str(policy)])
    return analyze_files([str(path)], audit)


def _observed(result: AuditResult) -> list[tuple]:
    return [(o.data_type, o.where, o.key, o.encodings, o.value) for o in result.observations]


def _found(result: AuditResult) -> list[tuple]:
    return [(f.rule, f.host, f.data_types) for f in result.findings]


def test_pcap_flow_file_and_har_of_the_same_uploads_agree(tmp_path: Path) -> None:
    (tmp_path / "device.yaml").write_text(DEVICE_YAML)
    (tmp_path / "policy.yaml").write_text(POLICY_YAML)
    with Origin() as origin:
        pcap = record_pcap(origin, tmp_path)
        flows, har = record_flow_file(HANDSET_UPLOADS, tmp_path, origin=origin)
    assert len(origin.received) == 2 * len(HANDSET_UPLOADS)

    direct, proxied, archived = (_analyse(p, tmp_path) for p in (pcap, flows, har))
    assert _observed(direct), "the uploads carry identifiers"
    assert {o[0] for o in _observed(direct)} == {"imei", "imsi", "phone_number", "android_id",
                                                 "iccid"}
    assert _observed(proxied) == _observed(direct)
    assert _observed(archived) == _observed(direct)
    assert _found(direct) == [("no-identifiers-before-opt-in", "127.0.0.1",
                               ("android_id", "iccid", "imei", "imsi", "phone_number"))]
    assert _found(proxied) == _found(direct)
    assert _found(archived) == _found(direct)

"""A real proxy, a real HTTPS origin, a real client: the phone's view of `auditor proxy`
and of `mitmdump -s auditor/addon.py`, all on loopback."""

from __future__ import annotations

import gzip
import json
import re
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from harness import (
    DEVICE_YAML,
    HANDSET_UPLOADS,
    HANDSET_WS_TEXTS,
    POLICY_YAML,
    REPO,
    Origin,
    auditor_proxy_command,
    free_port,
    mitmdump_command,
    send_uploads,
    send_websocket,
    start,
    stop,
)

from auditor.model import InputInfo
from auditor.sources.flowfile import read_flowfile

RULE = "no-identifiers-before-opt-in"
UPLOADED_TYPES = {"imei", "imsi", "phone_number", "android_id", "iccid", "advertising_id"}
LIVE_LINE = re.compile(r"^\d\d:\d\d:\d\d  ")  # a live line starts with the time


def _command(launcher: str, port: int, tmp: Path) -> list[str]:
    device, policy = tmp / "device.yaml", tmp / "policy.yaml"
    device.write_text(DEVICE_YAML)
    policy.write_text(POLICY_YAML)
    common = ["--listen-host", "127.0.0.1", "--listen-port", str(port)]
    if launcher == "auditor proxy":
        return [*auditor_proxy_command(), *common, "--confdir", str(tmp / "conf"),
                "--device", str(device), "--policy", str(policy),
                "--report", str(tmp / "report.json"), "--save", str(tmp / "flows.mitm"),
                "--set", "ssl_insecure=true"]
    return [*mitmdump_command(), "-q", "-s", str(REPO / "auditor" / "addon.py"), *common,
            "--set", f"confdir={tmp / 'conf'}", "--set", "ssl_insecure=true",
            "-w", str(tmp / "flows.mitm"), "--set", f"auditor_device={device}",
            "--set", f"auditor_policy={policy}", "--set", f"auditor_report={tmp / 'report.json'}"]


def _pinned_client(port: int, origin: Origin) -> bool:
    """A client that trusts only the system CAs, as a pinning app would: it refuses
    mitmproxy's certificate. Returns True when it did."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"CONNECT {origin.authority} HTTP/1.1\r\n\r\n".encode())
        sock.recv(4096)
        try:
            ssl.create_default_context().wrap_socket(sock, server_hostname="127.0.0.1")
        except ssl.SSLCertVerificationError:
            return True
    return False


@pytest.mark.parametrize("launcher, stop_signal, group", [
    ("auditor proxy", signal.SIGINT, False),
    ("auditor proxy", signal.SIGTERM, False),
    ("auditor proxy", signal.SIGINT, True),  # Ctrl-C in a terminal: the analysis gets it too
    ("mitmdump -s addon.py", signal.SIGINT, False),
])
def test_handset_uploads_through_the_live_proxy(launcher: str, stop_signal: int, group: bool,
                                                tmp_path: Path) -> None:
    port = free_port()
    with Origin(tls_dir=tmp_path / "origin") as origin:
        process = start(_command(launcher, port, tmp_path), port, tmp_path, "proxy",
                        new_group=group)
        try:
            ca_file = str(tmp_path / "conf" / "mitmproxy-ca-cert.pem")
            statuses = send_uploads(HANDSET_UPLOADS, origin, proxy_port=port, ca_file=ca_file)
            send_websocket(HANDSET_WS_TEXTS, origin, proxy_port=port, ca_file=ca_file)
            refused = _pinned_client(port, origin)
        finally:
            code = stop(process, stop_signal, group=group)
    output = (tmp_path / "proxy.err").read_text() + (tmp_path / "proxy.out").read_text()
    assert code == 0, output

    # the phone's traffic went through unchanged
    assert statuses == [200] * len(HANDSET_UPLOADS)
    assert [r.body for r in origin.received] == [u.body for u in HANDSET_UPLOADS]
    assert origin.received[2].headers["content-encoding"] == "gzip"
    assert [r.path for r in origin.received] == [u.path for u in HANDSET_UPLOADS]
    assert origin.ws_messages == [t.encode() for t in HANDSET_WS_TEXTS]
    assert refused

    # each finding was printed as it happened
    live_lines = [line for line in output.splitlines() if LIVE_LINE.match(line)]
    assert len(live_lines) == len(HANDSET_UPLOADS) + len(HANDSET_WS_TEXTS), output
    assert all("127.0.0.1" in line and RULE in line for line in live_lines)
    printed = " ".join(live_lines).lower()
    assert all(t.replace("_", " ") in printed for t in UPLOADED_TYPES), output
    assert "867203024182737" not in printed  # masked unless --reveal

    # the report was written on the way out
    report = json.loads((tmp_path / "report.json").read_text())
    (finding,) = [f for f in report["findings"] if f["rule"] == RULE]
    assert finding["host"] == "127.0.0.1"
    assert set(finding["data_types"]) == UPLOADED_TYPES
    assert finding["consent"] == "before-opt-in"
    (live_input,) = report["inputs"]
    assert live_input["kind"] == "live"
    assert any("could not inspect 127.0.0.1: the app refused our certificate (pinning?)" in w
               for w in live_input["warnings"])

    # and the flow file is complete
    flows = tmp_path / "flows.mitm"
    info = InputInfo(path=str(flows), kind="mitm")
    saved = list(read_flowfile(str(flows), info))
    assert info.warnings == []
    form, profile, stats = (u.body for u in HANDSET_UPLOADS[:3])
    assert [e.body for e in saved if e.method == "POST"] == [form, profile,
                                                             gzip.decompress(stats)]
    assert [e.body for e in saved if e.transport == "wss"] == [
        t.encode() for t in HANDSET_WS_TEXTS]
    assert all(e.transport in ("https", "wss") and e.decrypted for e in saved)


def test_bad_device_profile_stops_auditor_proxy_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-device.yaml"
    run = subprocess.run([*auditor_proxy_command(), "--listen-host", "127.0.0.1",
                          "--listen-port", str(free_port()), "--confdir", str(tmp_path),
                          "--device", str(missing)],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert str(missing) in run.stderr
    assert "Traceback" not in run.stderr

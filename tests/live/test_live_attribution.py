"""Live: the addon names SDKs behind each host and holds uploads to a declaration, through
the same engine as `analyze` (the app is not known to a proxy: nothing is invented)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from harness import DEVICE_YAML, POLICY_YAML
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow, tutils
from rich.console import Console

from auditor.addon import Auditor

AAID = "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5"
DECLARED = """\
kind: declaration
store: google-play
collected: [Device or other IDs]
shared: []
"""


def _upload(host: str, body: bytes) -> tflow.http.HTTPFlow:
    request = tutils.treq(method=b"POST", content=body, headers=tutils.http.Headers(host=host))
    request.host = host
    return tflow.tflow(req=request)


def test_live_uploads_get_sdks_and_declaration_findings(tmp_path: Path) -> None:
    device, policy, declared = (tmp_path / n for n in ("device.yaml", "p.yaml", "d.yaml"))
    device.write_text(DEVICE_YAML)
    policy.write_text(POLICY_YAML)
    declared.write_text(DECLARED)
    report = tmp_path / "report.json"
    auditor = Auditor(Console(file=io.StringIO(), width=200, color_system=None))
    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)],
                       auditor_declared=[str(declared)], auditor_report=str(report))
        for flow in (_upload("graph.facebook.com", f"advertiser_id={AAID}".encode()),
                     _upload("firebaselogging-pa.googleapis.com",
                             json.dumps({"adid": AAID}).encode())):
            auditor.request(flow)
            flow.response = tutils.tresp()
            auditor.response(flow)
        # mitmproxy's `done`, on the test master's event loop as mitmproxy runs it
        tctx.master.event_loop.run_until_complete(auditor.done())
    written = json.loads(report.read_text())
    sharing = {f["host"] for f in written["findings"] if f["rule"] == "undeclared-sharing"}
    assert sharing == {"graph.facebook.com", "firebaselogging-pa.googleapis.com"}
    firebase = next(e for e in written["exchanges"]
                    if e["host"] == "firebaselogging-pa.googleapis.com")
    assert firebase["destination"]["trackers"] == ["Google Firebase Analytics"]
    assert firebase["app"] is None
    assert written["attribution"]["declarations"][0]["path"] == str(declared)


def test_a_bad_declaration_stops_mitmproxy_naming_its_line(tmp_path: Path) -> None:
    declared = tmp_path / "d.yaml"
    declared.write_text("store: google-play\ncollected: [Phone]\n")
    auditor = Auditor(Console(file=io.StringIO()))
    with taddons.context(auditor) as tctx, pytest.raises(exceptions.OptionsError,
                                                         match=f"{declared}:2: unknown"):
        tctx.configure(auditor, auditor_declared=[str(declared)])

"""In mitmproxy's own interface: a real `mitmweb -s auditor/addon.py`, its REST API, and a
Chromium screenshot of its flow list. Flows with personal data are marked and commented
once analysed, so that mitmproxy's filters `~marked` and `~comment imei` find them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from harness import (
    DEVICE_YAML,
    HANDSET_UPLOADS,
    POLICY_YAML,
    REPO,
    Origin,
    Upload,
    free_port,
    send_uploads,
    start,
    stop,
)

COLUMNS = ("icon", "method", "path", "status", "comment")
#: `AUDITOR_UPDATE_SCREENSHOT=1` writes the screenshot the README shows.
SCREENSHOT = REPO / "docs" / "mitmweb-marked-flows.png"


def _mitmweb(tmp: Path, port: int, web: int) -> list[str]:
    device, policy = tmp / "device.yaml", tmp / "policy.yaml"
    device.write_text(DEVICE_YAML)
    policy.write_text(POLICY_YAML)
    columns = [arg for column in COLUMNS for arg in ("--set", f"web_columns={column}")]
    return [sys.executable, "-c", ("import sys; from mitmproxy.tools.main import mitmweb; "
                                   "sys.exit(mitmweb())"),
            "-s", str(REPO / "auditor" / "addon.py"), "--listen-host", "127.0.0.1",
            "--listen-port", str(port), "--web-host", "127.0.0.1", "--web-port", str(web),
            "--no-web-open-browser", "--set", f"confdir={tmp / 'conf'}",
            "--set", f"auditor_device={device}", "--set", f"auditor_policy={policy}",
            "--set", f"auditor_report={tmp / 'report.json'}", *columns]


class WebApi:
    """mitmweb's REST API, with the XSRF cookie its write requests need."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(self.base + "/", timeout=10) as page:
            cookie = page.headers["Set-Cookie"].split(";")[0]
        self.headers = {"Cookie": cookie, "X-XSRFToken": cookie.split("=", 1)[1]}

    def flows(self) -> list[dict]:
        with urllib.request.urlopen(self.base + "/flows", timeout=10) as answer:
            return json.load(answer)

    def set_options(self, **options: object) -> None:
        request = urllib.request.Request(self.base + "/options", method="PUT",
                                         data=json.dumps(options).encode(),
                                         headers={**self.headers,
                                                  "Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()


def _screenshot(url: str, path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--window-size=1500,345",
                    "--virtual-time-budget=6000", f"--screenshot={path}", url],
                   check=True, capture_output=True, timeout=120)


def test_flows_with_personal_data_are_marked_and_commented_in_mitmweb(tmp_path: Path) -> None:
    port, web = free_port(), free_port()
    clean = Upload("GET", "/v1/weather?city=Beijing")
    with Origin() as origin:
        process = start(_mitmweb(tmp_path, port, web), port, tmp_path, "mitmweb")
        try:
            send_uploads([*HANDSET_UPLOADS, clean], origin, proxy_port=port)
            api = WebApi(web)
            deadline = time.monotonic() + 60
            while sum(bool(f["marked"]) for f in api.flows()) < len(HANDSET_UPLOADS):
                assert time.monotonic() < deadline, api.flows()
                time.sleep(0.1)
            flows = {f["request"]["path"]: f for f in api.flows()}
            api.set_options(view_filter="~comment imei")
            imei = [f["request"]["path"] for f in api.flows()]
            api.set_options(view_filter="~marked")
            marked = [f["request"]["path"] for f in api.flows()]
            api.set_options(view_filter="")
            shot = tmp_path / "mitmweb.png"
            _screenshot(f"{api.base}/#/flows?h=~comment%20imei", shot)
        finally:
            code = stop(process)
    assert code == 0, (tmp_path / "mitmweb.err").read_text()
    activate = flows["/v1/activate"]
    assert activate["marked"] and activate["comment"] == (
        "auditor: imei, imsi; breaks no-identifiers-before-opt-in")
    assert flows["/v2/profile"]["comment"] == (
        "auditor: phone_number; breaks no-identifiers-before-opt-in")
    assert not flows[clean.path]["marked"] and flows[clean.path]["comment"] == ""
    assert imei == ["/v1/activate"]
    assert marked == [u.path for u in HANDSET_UPLOADS]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if os.environ.get("AUDITOR_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, SCREENSHOT)
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["exchanges"]) == len(HANDSET_UPLOADS) + 1

"""Issue 16 D, E, F: HAR and flow files that are malformed or carry bombs. The files are
written by mitmproxy's own APIs (`FlowWriter`, `SaveHar.make_har`) or edited from the HAR a
real mitmdump wrote (tests/fixtures/flows/handset.har), as each test says."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib

import brotli
import pytest
import zstandard
from auditor_paths import ROOT
from mitmproxy import io as mio
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.test import tflow

from auditor.cli import main

HANDSET_HAR = ROOT / "tests" / "fixtures" / "flows" / "handset.har"
IMEI = "867203024182737"


def _bomb(coding: str) -> bytes:
    zeros = b"\0" * (1 << 20)
    if coding == "br":
        c = brotli.Compressor(quality=5)
        return b"".join(c.process(zeros) for _ in range(1024)) + c.finish()
    if coding == "zstd":
        z = zstandard.ZstdCompressor(level=19).compressobj()
        return b"".join(z.compress(zeros) for _ in range(1024)) + z.flush()
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(z.compress(zeros) for _ in range(1024)) + z.flush()


def _flow(body: bytes, coding: str = "", path: str = "/upload"):
    flow = tflow.tflow(resp=True)
    flow.request.method = "POST"
    flow.request.path = path
    flow.request.headers["content-type"] = "application/x-www-form-urlencoded"
    if coding:
        flow.request.headers["content-encoding"] = coding
    flow.request.raw_content = body  # as it went over the wire
    return flow


def _write_flows(path, flows) -> None:
    with open(path, "wb") as f:
        writer = mio.FlowWriter(f)
        for flow in flows:
            writer.add(flow)


def _analyze(tmp_path, capture, *extra: str) -> tuple[int, dict | None, str]:
    out = tmp_path / "report.json"
    code = main(["analyze", str(capture), "--format", "json", "-o", str(out), "--quiet",
                 "--fail-on", "none", *extra])
    report = json.loads(out.read_text()) if out.exists() else None
    return code, report, ""


_RUN = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from auditor.cli import main
sys.exit(main(["analyze", sys.argv[1], "--format", "json", "-o", sys.argv[2], "--quiet",
               "--fail-on", "none"]))
"""


def _bounded_run(capture, out) -> subprocess.CompletedProcess:
    """`auditor analyze` in a process allowed 1 GiB of address space."""
    return subprocess.run([sys.executable, "-c", _RUN, str(capture), str(out)], check=False,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
def test_bombs_in_flow_files_and_har_stay_bounded(tmp_path, coding: str) -> None:
    """Issue 16 D: mitmproxy's decoder expanded a bomb in full (1 GiB gzip: 2.4 GB; br/zstd
    10 GiB: MemoryError reported as "not valid 'br'"). Now the one capped decoder runs."""
    bomb = _bomb(coding)
    flows = [_flow(bomb, coding, "/bomb"), _flow(f"imei={IMEI}".encode())]
    flow_file = tmp_path / "bomb.mitm"
    _write_flows(flow_file, flows)
    # mitmproxy's HAR writer stores bodies decoded (it would expand the bomb itself): it
    # writes the entries, and the bomb goes in as base64, as other HAR writers store bodies
    document = SaveHar().make_har([_flow(b"x=1", path="/bomb"), flows[1]])
    request = document["log"]["entries"][0]["request"]
    request["headers"].append({"name": "Content-Encoding", "value": coding})
    request["postData"] = {"mimeType": "application/octet-stream", "encoding": "base64",
                           "text": base64.b64encode(bomb).decode()}
    har = tmp_path / "bomb.har"
    har.write_text(json.dumps(document))
    for capture in (flow_file, har):
        out = tmp_path / f"{capture.name}.json"
        run = _bounded_run(capture, out)
        assert run.returncode == 0, run.stderr[-800:]
        report = json.loads(out.read_text())
        (warnings,) = [i["warnings"] for i in report["inputs"]]
        assert any(f"{coding} body would decode beyond the cap" in w for w in warnings), warnings
        assert len(report["exchanges"]) == 2


def _har_variant(tmp_path, edit) -> object:
    document = json.loads(HANDSET_HAR.read_text())
    edit(document)
    path = tmp_path / "edited.har"
    path.write_text(json.dumps(document))
    return path


def test_har_nested_5000_deep_is_a_one_line_error(tmp_path, capsys) -> None:
    path = tmp_path / "deep.har"
    path.write_text('{"log": {"entries": ' + "[" * 5000 + "]" * 5000 + "}}")
    assert main(["analyze", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"auditor: error: {path}: JSON nested too deeply") and "\n" not in err


def test_har_whose_log_is_a_list_is_a_one_line_error(tmp_path, capsys) -> None:
    path = tmp_path / "list.har"
    path.write_text('{"log": []}')
    assert main(["analyze", str(path), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"auditor: error: {path}: no log.entries list; not a HAR file")


def test_websocket_time_1e300_is_a_warning_and_the_rest_is_reported(tmp_path) -> None:
    def edit(document):
        for entry in document["log"]["entries"]:
            for message in entry.get("_webSocketMessages") or []:
                message["time"] = 1e300
    code, report, _ = _analyze(tmp_path, _har_variant(tmp_path, edit))
    assert code == 0 and report is not None
    (warnings,) = [i["warnings"] for i in report["inputs"]]
    assert any("time 1e+300 is out of range; shown as 1970-01-01" in w for w in warnings)


def test_odd_har_entries_are_warnings_with_short_quotes(tmp_path) -> None:
    def edit(document):
        entries = document["log"]["entries"]
        entries.insert(0, "not an entry")
        entries.insert(1, {"request": {"url": "http://a/", "method": "GET"},
                           "startedDateTime": "x" * 1_000_000})
    code, report, _ = _analyze(tmp_path, _har_variant(tmp_path, edit))
    assert code == 0 and report is not None
    (warnings,) = [i["warnings"] for i in report["inputs"]]
    assert any("entry 1: unreadable (TypeError: an entry is an object, not str)" in w
               for w in warnings)
    (long_one,) = [w for w in warnings if "entry 2: unreadable" in w]
    assert len(long_one) < 400


def test_flow_whose_peername_has_one_element_is_read(tmp_path) -> None:
    """Issue 16 F: IndexError in live.py `_address`."""
    flow = _flow(f"imei={IMEI}".encode())
    flow.client_conn.peername = ("10.0.0.2",)
    path = tmp_path / "peer.mitm"
    _write_flows(path, [flow])
    code, report, _ = _analyze(tmp_path, path)
    assert code == 0 and report is not None

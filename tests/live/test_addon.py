"""The addon inside mitmproxy's test context: options, hooks, errors that must not escape."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import time
from pathlib import Path

import pytest
from harness import DEVICE_YAML, POLICY_YAML
from mitmproxy import connection, exceptions
from mitmproxy.proxy.context import Context
from mitmproxy.test import taddons, tflow, tutils
from mitmproxy.tls import TlsData
from rich.console import Console

from auditor import addon as addon_module
from auditor import live_worker
from auditor.addon import MARKER, Auditor, split_policies
from auditor.engine import build_audit
from auditor.live_worker import Analysis
from auditor.model import InputInfo, Severity
from auditor.report import render
from auditor.report.common import verdict
from auditor.sources import live


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    device, policy = tmp_path / "device.yaml", tmp_path / "policy.yaml"
    device.write_text(DEVICE_YAML)
    policy.write_text(POLICY_YAML)
    return device, policy


def _auditor() -> tuple[Auditor, io.StringIO]:
    out = io.StringIO()
    return Auditor(Console(file=out, width=200, color_system=None)), out


def _upload(body: bytes, host: str = "api.account.xiaomi.com") -> tflow.http.HTTPFlow:
    request = tutils.treq(method=b"POST", content=body,
                          headers=tutils.http.Headers(host=host))
    return tflow.tflow(req=request)


def _done(tctx, auditor: Auditor) -> None:
    """mitmproxy's `done`, on the test master's event loop as mitmproxy runs it."""
    tctx.master.event_loop.run_until_complete(auditor.done())


def test_policies_may_be_repeated_or_comma_separated() -> None:
    assert split_policies(["a.yaml,b.yaml", " rules/ ", ""]) == ["a.yaml", "b.yaml", "rules/"]


def test_a_missing_device_profile_stops_mitmproxy_naming_the_file(tmp_path: Path) -> None:
    auditor, _ = _auditor()
    missing = str(tmp_path / "nowhere/device.yaml")
    with taddons.context(auditor) as tctx, pytest.raises(exceptions.OptionsError, match=missing):
        tctx.configure(auditor, auditor_device=missing)


@pytest.mark.parametrize("when", ["+5", "frame:3"])
def test_capture_relative_opt_in_times_are_refused_live(when) -> None:
    """+SECONDS and frame:N count within a capture file; a live session has neither."""
    auditor, _ = _auditor()
    with taddons.context(auditor) as tctx, pytest.raises(exceptions.OptionsError,
                                                         match="live, give a time"):
        tctx.configure(auditor, auditor_opt_in_at=when)


def test_a_report_path_without_known_format_is_refused(setup) -> None:
    auditor, _ = _auditor()
    with taddons.context(auditor) as tctx, pytest.raises(exceptions.OptionsError):
        tctx.configure(auditor, auditor_report="report.unknown-format")


def test_uploads_are_analysed_and_reported_on_done(setup, tmp_path: Path, capfd) -> None:
    device, policy = setup
    auditor, out = _auditor()
    report = tmp_path / "report.json"
    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)],
                       auditor_report=str(report))
        flow = _upload(b"imei=867203024182737&imsi=460013728150946")
        auditor.request(flow)
        flow.response = tutils.tresp()
        auditor.response(flow)
        _done(tctx, auditor)
    assert flow.request.content == b"imei=867203024182737&imsi=460013728150946"  # untouched
    result = auditor.result
    assert {o.data_type for o in result.observations} >= {"imei", "imsi"}
    assert [f.rule for f in result.findings] == ["no-identifiers-before-opt-in"]
    assert result.exchanges[0].status == 200  # the response is counted afterwards
    # printed live by the analysis process, on the stderr it shares with mitmproxy
    assert "no-identifiers-before-opt-in" in capfd.readouterr().err
    assert f"report written to {report}" in out.getvalue()
    written = json.loads(report.read_text())
    assert written["findings"][0]["rule"] == "no-identifiers-before-opt-in"
    assert written["inputs"][0]["kind"] == "live"


def test_a_crash_in_one_flow_is_counted_and_the_next_flow_still_analysed(
        setup, monkeypatch) -> None:
    device, policy = setup
    auditor, _ = _auditor()
    real = addon_module.live.http_exchange
    calls = []

    def flaky(flow, **kw):
        calls.append(flow)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(flow, **kw)

    monkeypatch.setattr(addon_module.live, "http_exchange", flaky)
    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)])
        auditor.request(_upload(b"x=1"))
        auditor.request(_upload(b"imei=867203024182737"))
        _done(tctx, auditor)
    assert auditor.info.warnings == ["flow 1: analysis failed: RuntimeError: boom"]
    assert [o.data_type for o in auditor.result.observations] == ["imei"]


def test_opt_in_command_judges_later_uploads_after_opt_in(setup, capfd) -> None:
    device, policy = setup
    auditor, _ = _auditor()
    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)])
        before = _upload(b"imei=867203024182737")
        auditor.request(before)
        tctx.master.commands.call("auditor.opt_in")
        after = _upload(b"imei=867203024182810")
        after.request.timestamp_start = before.request.timestamp_start + 10**9  # surely after
        auditor.request(after)
        _done(tctx, auditor)
    result = auditor.result
    assert result.opt_in_source == "live: auditor.opt_in command"
    assert [f.consent for f in result.findings] == ["before-opt-in"]
    assert result.findings[0].exchanges == (1,)
    assert "opt-in marked" in capfd.readouterr().err


def test_refused_certificate_is_an_unreadable_exchange_and_a_warning(setup) -> None:
    device, policy = setup
    auditor, _ = _auditor()
    client = tflow.tclient_conn()
    client.sni = "api.account.xiaomi.com"
    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)])
        ctx = Context(client, tctx.options)
        ctx.server = connection.Server(address=("203.0.113.9", 443))
        auditor.tls_failed_client(TlsData(client, ctx))
        _done(tctx, auditor)
    (exchange,) = auditor.result.exchanges
    assert exchange.transport == "tls" and not exchange.readable
    assert auditor.info.warnings == [
        ("live#1: could not inspect api.account.xiaomi.com: the app refused our certificate "
        "(pinning?)")]


def test_websocket_dns_and_raw_messages_reach_the_engine(setup) -> None:
    device, policy = setup
    auditor, _ = _auditor()
    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)])
        ws = tflow.twebsocketflow()
        auditor.websocket_message(ws)  # last message of the builder's is from the server
        ws.websocket.messages[-1].from_client = True
        auditor.websocket_message(ws)
        auditor.tcp_message(tflow.ttcpflow())  # last message is from the server
        query = tflow.tdnsflow(resp=True)
        query.server_conn.peername = None  # not asked yet: known once it answers
        auditor.dns_request(query)
        query.server_conn.peername = ("192.0.2.53", 53)
        auditor.dns_response(query)
        _done(tctx, auditor)
    assert [e.transport for e in auditor.result.exchanges] == ["ws", "dns"]
    assert auditor.result.exchanges[1].server_ip == "192.0.2.53"
    assert auditor.result.exchanges[1].bytes_down > 0
    assert auditor.info.warnings == []


def _analysed_all(auditor: Auditor, timeout: float = 60) -> None:
    """Wait until the analysis process has finished with everything handed to it."""
    deadline = time.monotonic() + timeout
    while auditor._analysis.busy and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not auditor._analysis.busy


class _NativeCrash:
    """Unpickled in the analysis process, it ends that process at once (as a crash in
    native code or the OOM killer would): a message no analysis process survives."""

    def __reduce__(self):
        return os._exit, (70,)


def _upload_then_poison(tctx, auditor: Auditor, device: Path, policy: Path) -> None:
    """A harmless upload, then a message that kills every analysis process reading it."""
    tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)])
    _send(auditor, _upload(b"lang=en"))
    auditor._service().submit(("uploads", "poison", 99, [_NativeCrash()]),
                              "live#99 POST http://crash.example/")


def _send(auditor: Auditor, flow) -> None:
    auditor.request(flow)
    flow.response = tutils.tresp()
    auditor.response(flow)


def test_analysis_runs_in_a_process_of_its_own_whose_death_loses_nothing(setup) -> None:
    device, policy = setup
    auditor, _ = _auditor()
    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)])
        first = _upload(b"imei=867203024182737")
        _send(auditor, first)
        _analysed_all(auditor)
        process = auditor._analysis._current.process
        assert process.pid != os.getpid()
        process.kill()  # what it had analysed dies with it; the spool does not
        # the analysis's own reader thread reaps it (a second join here would race it for
        # the exit code): wait until it has noticed
        deadline = time.monotonic() + 10
        while auditor._analysis._current is process and time.monotonic() < deadline:
            time.sleep(0.01)
        second = _upload(b"imsi=460013728150946")
        _send(auditor, second)
        _done(tctx, auditor)
    assert second.request.content == b"imsi=460013728150946"  # the traffic is untouched
    assert auditor._analysis is None and not process.is_alive()
    result = auditor.result
    assert [o.data_type for o in result.observations] == ["imei", "imsi"]
    assert result.incomplete == []
    assert auditor.info.warnings == [
        (f"the analysis process stopped (exit code {-signal.SIGKILL}); a new one was started "
         "to re-read every upload from the spool")]
    # and both flows are marked for mitmproxy's interfaces, once analysed
    assert first.marked == second.marked == MARKER
    assert first.comment == "auditor: imei; breaks no-identifiers-before-opt-in"
    assert second.comment == "auditor: imsi; breaks no-identifiers-before-opt-in"


def test_an_upload_no_analysis_process_survives_is_skipped_and_named(setup) -> None:
    device, policy = setup
    auditor, _ = _auditor()
    with taddons.context(auditor) as tctx:
        _upload_then_poison(tctx, auditor, device, policy)
        _send(auditor, _upload(b"lang=de"))
        _done(tctx, auditor)
    result = auditor.result
    assert len(result.exchanges) == 2 and result.findings == []
    assert result.incomplete == [
        "live#99 POST http://crash.example/ (the analysis process died on it twice)"]
    assert verdict(result.findings, Severity.HIGH, incomplete=True) == "INCOMPLETE"
    report = json.loads(render(result, "json"))
    assert report["summary"]["verdict"] == "incomplete"
    assert report["summary"]["not_analysed"] == result.incomplete
    assert "**INCOMPLETE**" in render(result, "markdown")


def test_when_the_analysis_is_given_up_the_report_names_what_it_lacks(setup,
                                                                      monkeypatch) -> None:
    device, policy = setup
    monkeypatch.setattr(live_worker, "MAX_RESTARTS", 0)  # the first death ends the analysis
    auditor, _ = _auditor()
    with taddons.context(auditor) as tctx:
        _upload_then_poison(tctx, auditor, device, policy)
        deadline = time.monotonic() + 60
        while not auditor._analysis.given_up and time.monotonic() < deadline:
            time.sleep(0.02)
        _send(auditor, _upload(b"imei=867203024182737"))
        _done(tctx, auditor)
    result = auditor.result
    assert len(result.exchanges) == 1  # analysed before the end: still in the report
    assert result.incomplete == ["live#99 POST http://crash.example/",
                                 "live#2 POST http://api.account.xiaomi.com/path"]
    assert render(result, "json").count('"verdict": "incomplete"') == 1
    assert any("given up" in w for w in result.inputs[0].warnings)


def test_a_crash_in_the_analysis_of_one_flow_is_counted_and_the_next_analysed(
        setup, monkeypatch) -> None:
    """The analysis process's own loop, run in this process so the crash can be planted."""
    device, policy = setup
    audit = build_audit(device=str(device), policies=[str(policy)])
    analysis = Analysis(audit, InputInfo(path="live", kind="live"),
                        Console(file=io.StringIO()))
    real = audit.add

    def crash_on_first(exchange):
        if exchange.source == "live#1":
            raise ValueError("odd upload")
        return real(exchange)

    monkeypatch.setattr(audit, "add", crash_on_first)
    flows = [_upload(b"imei=867203024182737"), _upload(b"imsi=460013728150946")]
    for number, flow in enumerate(flows, 1):
        exchange = live.http_exchange(flow, source=f"live#{number}")
        analysis.handle(("uploads", flow.id, number, [exchange]))
    analysis.handle(("no such message",))
    result = analysis.finish("live:*:8080", 2, None, None)
    assert [o.data_type for o in result.observations] == ["imsi"]
    assert result.inputs[0].warnings == [
        "flow 1: analysis failed: ValueError: odd upload",
        "no such message: analysis failed: KeyError: 'no such message'"]


TWO_RULES = POLICY_YAML + """\
  - id: no-sim-ids-to-anyone
    title: SIM identifiers leave the phone
    severity: medium
    when:
      data: [sim-ids]
"""


def test_one_line_per_upload_whatever_the_number_of_data_and_rules(setup, tmp_path) -> None:
    device, _ = setup
    policy = tmp_path / "two-rules.yaml"
    policy.write_text(TWO_RULES)
    out = io.StringIO()
    analysis = Analysis(build_audit(device=str(device), policies=[str(policy)]),
                        InputInfo(path="live", kind="live"),
                        Console(file=out, width=300, color_system=None))
    flow = _upload(b"imei=867203024182737&imsi=460013728150946")
    flow.request.path = "/v1/activate?iccid=89860114872047315961"
    found = analysis.handle(("uploads", flow.id, 1, [live.http_exchange(flow, source="live#1")]))
    (line,) = out.getvalue().splitlines()
    assert " POST /v1/activate?iccid=89860114872*******61 " in line  # the path is masked
    assert "  ICCID, IMEI, IMSI  " in line or "  IMEI, IMSI, ICCID  " in line, line
    assert "no-identifiers-before-opt-in [high], no-sim-ids-to-anyone [medium]" in line
    assert [(a.data_types, a.rules) for a in found] == [
        (("iccid", "imei", "imsi"), ("no-identifiers-before-opt-in", "no-sim-ids-to-anyone"))]


def test_a_body_is_decoded_in_the_analysis_never_in_the_hook(setup) -> None:
    """The hook keeps the body as sent; the analysis process undoes its Content-Encoding."""
    device, policy = setup
    body = gzip.compress(b"imei=867203024182737", mtime=0)
    flow = _upload(body)
    flow.request.headers["content-encoding"] = "gzip"
    flow.request.raw_content = body
    exchange = live.http_exchange(flow, source="live#1", raw_body=True)
    assert exchange.body == body
    analysis = Analysis(build_audit(device=str(device), policies=[str(policy)]),
                        InputInfo(path="live", kind="live"), Console(file=io.StringIO()))
    (found,) = analysis.handle(("uploads", flow.id, 1, [exchange]))
    assert found.data_types == ("imei",)


def test_a_spool_that_cannot_be_written_makes_the_report_incomplete(setup,
                                                                     monkeypatch) -> None:
    device, policy = setup
    auditor, _ = _auditor()

    def disk_full(self, record: bytes) -> None:
        raise OSError(28, "No space left on device")

    with taddons.context(auditor) as tctx:
        tctx.configure(auditor, auditor_device=str(device), auditor_policy=[str(policy)])
        _send(auditor, _upload(b"imei=867203024182737"))
        _analysed_all(auditor)
        monkeypatch.setattr(live_worker.Spool, "_write_record", disk_full)
        _send(auditor, _upload(b"imsi=460013728150946"))
        _done(tctx, auditor)
    result = auditor.result
    assert result.exchanges == [] and result.incomplete == [
        "the 1 uploads analysed before the analysis was given up",
        "live#2 POST http://api.account.xiaomi.com/path"]
    assert any("No space left on device); the analysis was given up" in w
               for w in result.inputs[0].warnings)
    assert json.loads(render(result, "json"))["summary"]["verdict"] == "incomplete"

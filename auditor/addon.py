"""The live front-end: a mitmproxy addon that audits what a phone uploads as it happens.

    mitmdump -s auditor/addon.py --set auditor_device=device.yaml --set auditor_report=r.json

Each upload is turned into an `Exchange` in the hook (cheap, and the flow may change
later) and analysed on one worker thread, in arrival order, so the phone's traffic never
waits for the analysis and never breaks because of it. `done` drains the worker and
writes the report, so Ctrl-C loses nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

try:
    import auditor  # noqa: F401  (is the package importable?)
except ImportError:  # run as `mitmdump -s <checkout>/auditor/addon.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mitmproxy import command, ctx, dns, exceptions, http, tcp, tls, udp
from rich.console import Console
from rich.text import Text

from auditor.engine import Audit, AuditResult, build_audit
from auditor.model import Exchange, InputError, InputInfo
from auditor.sources import live

logger = logging.getLogger("auditor")

#: Options whose change means a new audit (new profile, policies or opt-in time).
_AUDIT_OPTIONS = {"auditor_device", "auditor_policy", "auditor_opt_in_at", "auditor_geoip"}


def split_policies(values: Sequence[str]) -> list[str]:
    """`auditor_policy` values: repeated `--set` and comma-separated lists both work."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class Auditor:
    """Options `auditor_*`, hooks for every kind of upload, command `auditor.opt_in`."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.audit: Audit | None = None
        self.info = InputInfo(path="live", kind="live")
        self.result: AuditResult | None = None
        self.report_written: str = ""
        self._worker: ThreadPoolExecutor | None = None
        self._flow_numbers: dict[str, int] = {}
        self._exchange_ids: dict[str, int] = {}  # flow id -> exchange id, for the response
        self._lock = threading.Lock()

    # -- options --------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option("auditor_device", str | None, None,
                          "Device profile (device.yaml) of the handset under test.")
        loader.add_option("auditor_policy", Sequence[str], [],
                          "Policy file or folder; repeat or separate with commas. "
                          "Default: the bundled rules.")
        loader.add_option("auditor_report", str | None, None,
                          "Write the report here on exit; the format follows the extension "
                          "(.json .md .html .sarif ...).")
        loader.add_option("auditor_reveal", bool, False,
                          "Show identifiers unmasked in live output and the report.")
        loader.add_option("auditor_opt_in_at", str | None, None,
                          "When the user opted in (ISO 8601 or epoch seconds).")
        loader.add_option("auditor_geoip", str | None, None,
                          "GeoIP data file for server countries (default: the bundled one).")

    def configure(self, updated: set[str]) -> None:
        if "auditor_report" in updated and ctx.options.auditor_report:
            from auditor.report import format_for_path

            try:
                format_for_path(ctx.options.auditor_report)
            except (InputError, ValueError) as e:
                raise exceptions.OptionsError(str(e)) from None
        if self.audit is None or updated & _AUDIT_OPTIONS:
            try:
                audit = build_audit(device=ctx.options.auditor_device,
                                    policies=split_policies(ctx.options.auditor_policy),
                                    opt_in_at=ctx.options.auditor_opt_in_at,
                                    geoip=ctx.options.auditor_geoip)
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None
            if self.audit is not None and self.audit.exchanges:
                logger.warning("auditor: options changed; the audit starts over from here")
            self.audit = audit
            self.audit.add_input(self.info)

    def running(self) -> None:
        host = ctx.options.listen_host or "*"
        self.info.path = f"live:{host}:{ctx.options.listen_port}"
        self.info.first_time = time.time()

    # -- hooks: one per kind of upload ------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> None:
        self._submit(flow.id, lambda source: [live.http_exchange(flow, source=source,
                                                                   warn=self.info.warn)])

    def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None:
            return
        size = sum(len(k) + len(v) + 4 for k, v in response.headers.fields)
        size += len(response.raw_content or b"")
        self._run(self._record_response, flow.id, response.status_code, size)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        if message.from_client:
            self._submit(flow.id, lambda source: [live.websocket_exchange(
                flow, message, source=f"{source} ws {len(flow.websocket.messages)}")])

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        self._stream_message(flow)

    def udp_message(self, flow: udp.UDPFlow) -> None:
        self._stream_message(flow)

    def dns_request(self, flow: dns.DNSFlow) -> None:
        self._submit(flow.id, lambda source: live.dns_exchanges(flow, source=source))

    def tls_failed_client(self, data: tls.TlsData) -> None:
        client = data.conn
        server = data.context.server

        def convert(source: str) -> list[Exchange]:
            exchange = live.unreadable_exchange(client, server, source=source)
            self.info.warn(f"{source}: {exchange.notes[0]}")
            return [exchange]

        self._submit(client.id, convert)

    @command.command("auditor.opt_in")
    def opt_in(self) -> None:
        """Mark now as the moment the user opted in."""
        self.mark_opt_in("auditor.opt_in command")

    def mark_opt_in(self, source: str, when: float | None = None) -> None:
        """The user opted in (now, unless `when` is given); uploads after it are judged so."""
        moment = time.time() if when is None else when
        self._run(self._record_opt_in, moment, source)

    def done(self) -> None:
        """Finish the analysis of every upload already seen, then write the report."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        if self.audit is None:
            return
        self.info.last_time = time.time()
        self.result = self.audit.finish()
        path = ctx.options.auditor_report
        if path:
            self.report_written = write_report(self.result, path,
                                               reveal=ctx.options.auditor_reveal)
            self.console.print(f"auditor: report written to {path}")

    # -- the worker -------------------------------------------------------------------------

    def _stream_message(self, flow: tcp.TCPFlow | udp.UDPFlow) -> None:
        message = flow.messages[-1]
        if message.from_client:
            self._submit(flow.id, lambda source: [live.stream_exchange(
                flow, message, source=f"{source} msg {len(flow.messages)}")])

    def _submit(self, flow_id: str, convert: Callable[[str], list[Exchange]]) -> None:
        """Convert now (the flow may change later), analyse on the worker, never raise."""
        number = self._flow_number(flow_id)
        source = f"live#{number}"
        self.info.packets = len(self._flow_numbers)
        try:
            exchanges = convert(source)
        except Exception as e:  # noqa: BLE001  (an error of ours must not break the traffic)
            self._failed(number, e)
            return
        self._run(self._analyse, flow_id, number, exchanges)

    def _run(self, fn: Callable[..., None], *args: Any) -> None:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditor")
        self._worker.submit(fn, *args)

    def _flow_number(self, flow_id: str) -> int:
        with self._lock:
            return self._flow_numbers.setdefault(flow_id, len(self._flow_numbers) + 1)

    def _analyse(self, flow_id: str, number: int, exchanges: list[Exchange]) -> None:
        audit = self.audit
        if audit is None:
            return
        try:
            for exchange in exchanges:
                added, _ = audit.add(exchange)
                self.info.exchanges += 1
                if added.transport in ("http", "https"):
                    self._exchange_ids[flow_id] = added.id
                self._print_hits(audit, added)
        except Exception as e:  # noqa: BLE001  (one flow's failure must not stop the audit)
            self._failed(number, e)

    def _print_hits(self, audit: Audit, exchange: Exchange) -> None:
        from auditor.report import live_line

        reveal = bool(ctx.options.auditor_reveal)
        for hit in audit.hits_for(exchange):
            self.console.print(live_line(hit, audit.destinations.get(exchange.id),
                                         reveal=reveal))

    def _failed(self, number: int, error: Exception) -> None:
        logger.error("auditor: flow %d: analysis failed", number, exc_info=error)
        self.info.warn(f"flow {number}: analysis failed: {type(error).__name__}: {error}")

    def _record_response(self, flow_id: str, status: int, size: int) -> None:
        exchange_id = self._exchange_ids.pop(flow_id, None)
        if self.audit is None or exchange_id is None:
            return
        exchanges = self.audit.exchanges
        exchanges[exchange_id - 1] = dataclasses.replace(exchanges[exchange_id - 1],
                                                         status=status, bytes_down=size)

    def _record_opt_in(self, when: float, source: str) -> None:
        if self.audit is None:
            return
        self.audit.mark_opt_in(when, f"live: {source}")
        stamp = time.strftime("%H:%M:%S", time.localtime(when))
        self.console.print(Text(f"{stamp}  opt-in marked ({source}); "
                                f"later uploads are judged as after opt-in", style="bold cyan"))


def write_report(result: AuditResult, path: str, *, reveal: bool) -> str:
    """Render `result` in the format its path's extension names; returns the path."""
    from auditor.report import format_for_path, render

    rendered = render(result, format_for_path(path), reveal=reveal)
    data = rendered.encode("utf-8") if isinstance(rendered, str) else rendered
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)  # a reader never sees half a report
    return path


addons = [Auditor()]

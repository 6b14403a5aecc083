"""The live front-end: a mitmproxy addon that audits what a phone uploads as it happens.

    mitmdump -s auditor/addon.py --set auditor_device=device.yaml --set auditor_report=r.json

This is the thin shell between mitmproxy and the analysis: options, one hook per kind of
upload, the `auditor.opt_in` command, and the report on `done`. Each upload is turned into
an `Exchange` in its hook (cheap: the body is kept as it went over the wire, never decoded
here) and handed to `live_worker.LiveAnalysis`, which spools it to disk for an analysis
process of its own, so the phone's traffic never waits for the analysis and nothing handed
over is lost if that process dies. Once an upload is analysed its flow is marked and
commented in mitmproxy's own interfaces (filter with `~marked` or `~comment imei`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    import auditor  # noqa: F401  (is the package importable?)
except ImportError:  # run as `mitmdump -s <checkout>/auditor/addon.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mitmproxy import command, ctx, dns, exceptions, flow, hooks, http, tcp, tls, udp
from rich.console import Console

from auditor.engine import Audit, AuditResult, build_audit
from auditor.live_worker import Analysed, LiveAnalysis
from auditor.model import Exchange, InputError, InputInfo
from auditor.sources import live

logger = logging.getLogger("auditor")

#: Options whose change means a new audit (new profile, policies or opt-in time).
_AUDIT_OPTIONS = {"auditor_device", "auditor_policy", "auditor_opt_in_at", "auditor_geoip",
                  "auditor_declared", "auditor_trackers"}
#: Seconds `done` waits for the analysis before saying that it is still busy.
_PATIENCE = 2.0
#: How a flow with personal data is marked in mitmproxy's interfaces (`~marked`).
MARKER = ":warning:"


def split_policies(values: Sequence[str]) -> list[str]:
    """`auditor_policy` values: repeated `--set` and comma-separated lists both work."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class Auditor:
    """Options `auditor_*`, hooks for every kind of upload, command `auditor.opt_in`.

    `info` holds what the hooks saw (flows, warnings); after `done`, `result` is the
    finished audit and `info` its live input, with every warning of the analysis too."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.info = InputInfo(path="live", kind="live")
        self.result: AuditResult | None = None
        self.report_written: str = ""
        self._settings: dict[str, Any] | None = None  # build_audit's arguments
        self._analysis: LiveAnalysis | None = None
        self._fallback: Audit | None = None  # the report's audit if no analysis can run
        self._flow_numbers: dict[str, int] = {}
        # HTTP requests wait here for their flow's end: plain HTTP connects upstream only
        # after the request hook, and the server address must be in the exchange
        self._awaiting: dict[str, tuple[int, Exchange, http.HTTPFlow]] = {}
        self._awaiting_dns: dict[str, dns.DNSFlow] = {}  # likewise, DNS queries
        # flows in analysis, to be marked: id -> [flow, last record, data types, rules]
        self._flows: dict[str, list[Any]] = {}
        self._records: collections.deque[tuple[int, str]] = collections.deque()

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
        loader.add_option("auditor_declared", Sequence[str], [],
                          "What the app declares (Data safety / privacy label YAML); repeatable.")
        loader.add_option("auditor_trackers", str | None, None,
                          "An Exodus tracker list instead of the bundled snapshot.")

    def configure(self, updated: set[str]) -> None:
        if "auditor_report" in updated and ctx.options.auditor_report:
            from auditor.report import format_for_path

            try:
                format_for_path(ctx.options.auditor_report)
            except (InputError, ValueError) as e:
                raise exceptions.OptionsError(str(e)) from None
        if self._settings is None or updated & _AUDIT_OPTIONS:
            settings = {"device": ctx.options.auditor_device,
                        "policies": split_policies(ctx.options.auditor_policy),
                        "opt_in_at": ctx.options.auditor_opt_in_at,
                        "geoip": ctx.options.auditor_geoip,
                        "declared": list(ctx.options.auditor_declared),
                        "trackers": ctx.options.auditor_trackers}
            try:  # bad options stop mitmproxy here, with the file named
                self._fallback = build_audit(**settings)
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None
            if self._fallback.opt_in_offset is not None or self._fallback.opt_in_frame is not None:
                raise exceptions.OptionsError(
                    f"--opt-in-at {settings['opt_in_at']}: +SECONDS and frame:N count within a "
                    f"capture file; live, give a time with its zone (2026-12-06T15:04:05Z) or "
                    f"mark the moment with Enter, kill -USR1 or :auditor.opt_in")
            self._settings = settings
            old, self._analysis = self._analysis, None
            if old is not None:
                if old.spool.count:
                    logger.warning("auditor: options changed; the audit starts over from here")
                old.close()
                self._flows.clear()
                self._records.clear()
        elif "auditor_reveal" in updated:
            self._submit_message(("reveal", bool(ctx.options.auditor_reveal)))

    def running(self) -> None:
        host = ctx.options.listen_host or "*"
        self.info.path = f"live:{host}:{ctx.options.listen_port}"
        self.info.first_time = time.time()
        self._service()  # now, not on the first upload: starting takes a moment

    # -- hooks: one per kind of upload ------------------------------------------------------

    def request(self, f: http.HTTPFlow) -> None:
        """Taken as the phone sent it (later addons may change the flow), handed over when
        the flow ends (`response`, `error`) with the server it went to."""
        number = self._number(f.id)
        try:
            exchange = live.http_exchange(f, source=f"live#{number}", raw_body=True)
        except Exception as e:  # noqa: BLE001  (an error of ours must not break the traffic)
            self._failed(number, e)
            return
        self._awaiting[f.id] = (number, exchange, f)

    def response(self, f: http.HTTPFlow) -> None:
        self._hand_over(f.id)

    def error(self, f: http.HTTPFlow) -> None:
        self._hand_over(f.id)

    def websocket_message(self, f: http.HTTPFlow) -> None:
        assert f.websocket is not None
        message = f.websocket.messages[-1]
        if message.from_client:
            self._submit(f, lambda source: [live.websocket_exchange(
                f, message, source=f"{source} ws {len(f.websocket.messages)}")])

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        self._stream_message(f)

    def udp_message(self, f: udp.UDPFlow) -> None:
        self._stream_message(f)

    def dns_request(self, f: dns.DNSFlow) -> None:
        """Handed over when answered (`dns_response`, `dns_error`): with the server asked."""
        self._number(f.id)
        self._awaiting_dns[f.id] = f

    def dns_response(self, f: dns.DNSFlow) -> None:
        self._hand_over_dns(f.id)

    def dns_error(self, f: dns.DNSFlow) -> None:
        self._hand_over_dns(f.id)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        client = data.conn
        server = data.context.server

        def convert(source: str) -> list[Exchange]:
            exchange = live.unreadable_exchange(client, server, source=source)
            self.info.warn(f"{source}: {exchange.notes[0]}")
            return [exchange]

        self._submit(client, convert)

    @command.command("auditor.opt_in")
    def opt_in(self) -> None:
        """Mark now as the moment the user opted in."""
        self.mark_opt_in("auditor.opt_in command")

    def mark_opt_in(self, source: str, when: float | None = None) -> None:
        """The user opted in (now, unless `when` is given); uploads after it are judged so."""
        moment = time.time() if when is None else when
        self._submit_message(("opt_in", moment, source))

    async def done(self) -> None:
        """Finish the analysis of every upload already seen, then write the report. Waits
        on the event loop, so mitmproxy stays responsive (and Ctrl-C quiet) meanwhile."""
        if self._settings is None:
            return
        self.info.last_time = time.time()
        for flow_id in list(self._awaiting):  # the request went out; its flow never ended
            self._hand_over(flow_id)
        for flow_id in list(self._awaiting_dns):
            self._hand_over_dns(flow_id)
        analysis = self._service()
        analysis.finish(self.info)
        started, told = time.monotonic(), False
        try:
            while not analysis.finished:
                await asyncio.sleep(0.05)
                if not told and time.monotonic() - started > _PATIENCE:
                    self.console.print(f"auditor: finishing the analysis ({analysis.busy} "
                                       f"messages still queued)...")
                    told = True
            result = analysis.result()
            await asyncio.sleep(0)  # the last marks, queued by the analysis, are applied
        finally:
            self._analysis = None
            analysis.close()
        if result is None:
            return
        result.inputs[0].warnings[:0] = self.info.warnings
        self.result = result
        self.info = result.inputs[0]
        path = ctx.options.auditor_report
        if path:
            self.report_written = write_report(result, path, reveal=ctx.options.auditor_reveal)
            self.console.print(f"auditor: report written to {path}")

    # -- handing uploads to the analysis ----------------------------------------------------

    def _hand_over(self, flow_id: str) -> None:
        waiting = self._awaiting.pop(flow_id, None)
        if waiting is None:
            return
        number, exchange, f = waiting
        exchange = live.with_server(exchange, f)
        if not exchange.server_ip:  # the report says why this upload has no server address
            self.info.warn(f"{exchange.source}: {exchange.request_line}: "
                           f"{exchange.notes[-1] if exchange.notes else 'no server address'}")
        self._submit(f, lambda source: [exchange], number=number)

    def _hand_over_dns(self, flow_id: str) -> None:
        f = self._awaiting_dns.pop(flow_id, None)
        if f is not None:
            self._submit(f, lambda source: live.dns_exchanges(f, source=source))

    def _stream_message(self, f: tcp.TCPFlow | udp.UDPFlow) -> None:
        message = f.messages[-1]
        if message.from_client:
            self._submit(f, lambda source: [live.stream_exchange(
                f, message, source=f"{source} msg {len(f.messages)}")])

    def _number(self, flow_id: str) -> int:
        number = self._flow_numbers.setdefault(flow_id, len(self._flow_numbers) + 1)
        self.info.packets = len(self._flow_numbers)
        return number

    def _submit(self, f: Any, convert: Callable[[str], list[Exchange]], *,
                number: int | None = None) -> None:
        """Convert now (the flow may change later), analyse in the worker, never raise."""
        number = number or self._number(f.id)
        try:
            exchanges = convert(f"live#{number}")
        except Exception as e:  # noqa: BLE001  (an error of ours must not break the traffic)
            self._failed(number, e)
            return
        if not exchanges:
            return
        label = f"{exchanges[0].source} {exchanges[0].request_line}"[:200]
        record = self._service().submit(("uploads", f.id, number, exchanges), label)
        if record >= 0 and isinstance(f, flow.Flow):
            entry = self._flows.setdefault(f.id, [f, record, {}, {}])
            entry[1] = record
            self._records.append((record, f.id))

    def _submit_message(self, message: tuple) -> None:
        if self._settings is not None:
            self._service().submit(message)

    def _failed(self, number: int, error: Exception) -> None:
        logger.error("auditor: flow %d: analysis failed", number, exc_info=error)
        self.info.warn(f"flow {number}: analysis failed: {type(error).__name__}: {error}")

    def _service(self) -> LiveAnalysis:
        if self._analysis is None:
            assert self._settings is not None
            loop = ctx.master.event_loop

            def on_analysed(record: int, found: list[Analysed]) -> None:  # another thread
                try:
                    loop.call_soon_threadsafe(self._mark, record, found)
                except RuntimeError:  # the loop is closed: mitmproxy has ended
                    pass

            self._analysis = LiveAnalysis(self._settings, self.info,
                                          reveal=bool(ctx.options.auditor_reveal),
                                          on_analysed=on_analysed, fallback=self._fallback)
        return self._analysis

    def _mark(self, record: int, found: list[Analysed]) -> None:
        """On mitmproxy's event loop: mark and comment the flows of an analysed record, so
        that `~marked` and `~comment imei` find them, then let go of finished flows."""
        changed = []
        for item in found:
            entry = self._flows.get(item.flow_id)
            if entry is None:
                continue
            f, _, types, rules = entry
            types.update(dict.fromkeys(item.data_types))
            rules.update(dict.fromkeys(item.rules))
            f.marked = MARKER
            f.comment = flow_comment(types, rules)
            changed.append(f)
        if changed:
            ctx.master.addons.trigger(hooks.UpdateHook(changed))
        while self._records and self._records[0][0] <= record:
            done, flow_id = self._records.popleft()
            entry = self._flows.get(flow_id)
            if entry is not None and entry[1] <= done:
                del self._flows[flow_id]


def flow_comment(data_types: Sequence[str], rules: Sequence[str]) -> str:
    """`auditor: imei, imsi; breaks no-identifiers-before-opt-in` (or `no rule broken`)."""
    broken = f"breaks {', '.join(rules)}" if rules else "no rule broken"
    return f"auditor: {', '.join(data_types)}; {broken}"


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

"""The live front-end: a mitmproxy addon that audits what a phone uploads as it happens.

    mitmdump -s auditor/addon.py --set auditor_device=device.yaml --set auditor_report=r.json

Each upload is turned into an `Exchange` in the hook (cheap, and the flow may change
later) and handed to a separate analysis *process*, which analyses uploads in arrival
order, prints a line for each finding and, on `done`, finishes the audit and sends the
result back for the report. The analysis is CPU-bound pure Python: on a thread it would
hold the GIL and slow mitmproxy's event loop, so it gets a process (and a core) of its own.
The phone's traffic never waits for it and never breaks because of it: a crash in one
upload's analysis is counted in the report's warnings, and if the process itself dies it
is restarted and the loss is reported.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import logging
import multiprocessing
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
_AUDIT_OPTIONS = {"auditor_device", "auditor_policy", "auditor_opt_in_at", "auditor_geoip",
                  "auditor_declared", "auditor_trackers"}
#: How often a dead analysis process is replaced before the addon stops analysing.
MAX_RESTARTS = 3
#: Seconds `done` waits for the analysis before saying that it is still busy.
_PATIENCE = 2.0


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
        self._worker: AnalysisWorker | None = None
        self._restarts = 0
        self._unanalysed = 0  # uploads seen after the analysis process was given up
        self._flow_numbers: dict[str, int] = {}

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
            try:
                build_audit(**settings)  # bad options stop mitmproxy here, with the file named
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None
            self._settings = settings
            old, self._worker = self._worker, None
            if old is not None:
                if old.uploads:
                    logger.warning("auditor: options changed; the audit starts over from here")
                old.kill()
                self._start_worker()
        elif "auditor_reveal" in updated:
            self._send(("reveal", bool(ctx.options.auditor_reveal)))

    def running(self) -> None:
        host = ctx.options.listen_host or "*"
        self.info.path = f"live:{host}:{ctx.options.listen_port}"
        self.info.first_time = time.time()
        if self._worker is None:
            self._start_worker()  # now, not on the first upload: starting takes a moment

    # -- hooks: one per kind of upload ------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> None:
        self._submit(flow.id, lambda source: [live.http_exchange(flow, source=source,
                                                                   warn=self._warn)])

    def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None:
            return
        size = sum(len(k) + len(v) + 4 for k, v in response.headers.fields)
        size += len(response.raw_content or b"")
        self._send(("response", flow.id, response.status_code, size))

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
            self._warn(f"{source}: {exchange.notes[0]}")
            return [exchange]

        self._submit(client.id, convert)

    @command.command("auditor.opt_in")
    def opt_in(self) -> None:
        """Mark now as the moment the user opted in."""
        self.mark_opt_in("auditor.opt_in command")

    def mark_opt_in(self, source: str, when: float | None = None) -> None:
        """The user opted in (now, unless `when` is given); uploads after it are judged so."""
        moment = time.time() if when is None else when
        self._send(("opt_in", moment, source))

    def done(self) -> None:
        """Finish the analysis of every upload already seen, then write the report."""
        if self._settings is None:
            return
        self.info.last_time = time.time()
        if self._unanalysed:
            self.info.warn(f"{self._unanalysed} uploads were not analysed: the analysis "
                           f"process was given up (see the warnings before this one)")
        worker, self._worker = self._worker, None
        result = None
        if worker is not None:
            result = worker.finish(self.info, self._waiting)
            if result is None:
                self._lost(worker)
        if result is None:  # nothing analysed, or it died with the process: say so
            result = self._empty_result()
            if result is None:
                return
        self.result = result
        self.info = result.inputs[0]
        path = ctx.options.auditor_report
        if path:
            self.report_written = write_report(result, path, reveal=ctx.options.auditor_reveal)
            self.console.print(f"auditor: report written to {path}")

    # -- handing uploads to the analysis process --------------------------------------------

    def _stream_message(self, flow: tcp.TCPFlow | udp.UDPFlow) -> None:
        message = flow.messages[-1]
        if message.from_client:
            self._submit(flow.id, lambda source: [live.stream_exchange(
                flow, message, source=f"{source} msg {len(flow.messages)}")])

    def _submit(self, flow_id: str, convert: Callable[[str], list[Exchange]]) -> None:
        """Convert now (the flow may change later), analyse in the worker, never raise."""
        number = self._flow_numbers.setdefault(flow_id, len(self._flow_numbers) + 1)
        self.info.packets = len(self._flow_numbers)
        try:
            exchanges = convert(f"live#{number}")
        except Exception as e:  # an error of ours must not break the traffic
            logger.error("auditor: flow %d: analysis failed", number, exc_info=e)
            self._warn(f"flow {number}: analysis failed: {type(e).__name__}: {e}")
            return
        if exchanges:
            self._send(("uploads", flow_id, number, exchanges))

    def _warn(self, message: str) -> None:
        self.info.warn(message)
        self._send(("warn", message))

    def _send(self, message: tuple) -> None:
        if self._worker is None:
            if not self._start_worker():
                if message[0] == "uploads":
                    self._unanalysed += len(message[3])
                return
            if message[0] == "warn":
                return  # the new process starts with every warning so far
        assert self._worker is not None
        if self._worker.send(message):
            return
        self._lost(self._worker)
        self._worker = None
        self._restarts += 1
        self._send(message)  # to a new process; bounded by MAX_RESTARTS

    def _start_worker(self) -> bool:
        """A new analysis process, unless there are no options yet or it died too often."""
        if self._settings is None or self._restarts > MAX_RESTARTS:
            return False
        try:
            self._worker = AnalysisWorker(self._settings, self.info,
                                          reveal=bool(ctx.options.auditor_reveal))
        except Exception as e:  # noqa: BLE001  (no analysis, but the traffic goes on)
            logger.error("auditor: cannot start the analysis process: %s", e)
            self.info.warn(f"the analysis process could not be started ({e}); "
                           f"uploads from here on are not analysed")
            self._restarts = MAX_RESTARTS + 1
            return False
        return True

    def _lost(self, worker: AnalysisWorker) -> None:
        """The analysis process died: what it had analysed is gone; the report says so."""
        code = worker.process.exitcode
        logger.error("auditor: the analysis process stopped (exit code %s); %d uploads lost",
                     code, worker.uploads)
        self.info.warn(f"the analysis process stopped (exit code {code}): the {worker.uploads} "
                       f"uploads it had been given (flows {worker.first_flow}-{worker.last_flow})"
                       f" are not in this report")
        worker.kill()

    def _waiting(self, queued: int) -> None:
        self.console.print(f"auditor: finishing the analysis of the uploads still queued "
                           f"({queued} sent in all)...")

    def _empty_result(self) -> AuditResult | None:
        assert self._settings is not None
        try:
            audit = build_audit(**self._settings)
        except InputError as e:  # the files changed since the start
            logger.error("auditor: no report: %s", e)
            return None
        audit.add_input(self.info)
        return audit.finish()


class AnalysisWorker:
    """The proxy's handle on one analysis process: a queue of messages in, a result out.

    Sending never blocks (the queue is fed by a thread of its own); a dead process is
    noticed on the next send and at the end."""

    def __init__(self, settings: dict[str, Any], info: InputInfo, *, reveal: bool) -> None:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe
        context = multiprocessing.get_context("spawn")
        self.inbox: Any = context.Queue()
        self.outbox: Any = context.Queue()
        start = dataclasses.replace(info, warnings=list(info.warnings))
        # the target by its importable name: mitmdump loads this file under another one
        target = importlib.import_module("auditor.addon").run_analysis
        self.process = context.Process(target=target, name="auditor-analysis", daemon=True,
                                       args=(settings, start, reveal, self.inbox, self.outbox))
        with _stop_signals_ignored_by_children():
            self.process.start()
        # it ignores SIGTERM, so multiprocessing's own exit handler would wait for it
        # forever if mitmproxy ended without `done`: end it first (atexit runs last-in first)
        atexit.register(self.kill)
        self.uploads = 0
        self.first_flow = self.last_flow = 0

    def send(self, message: tuple) -> bool:
        """Queue `message` for the process; False when the process is dead."""
        if not self.process.is_alive():
            return False
        if message[0] == "uploads":
            self.uploads += len(message[3])
            self.first_flow = self.first_flow or message[2]
            self.last_flow = message[2]
        self.inbox.put(message)
        return True

    def finish(self, info: InputInfo, waiting: Callable[[int], None]) -> AuditResult | None:
        """Wait until every queued upload is analysed; the result, or None if it died."""
        if not self.send(("finish", info.path, info.packets, info.first_time, info.last_time)):
            return None
        started = time.monotonic()
        told = False
        while True:
            try:
                result = self.outbox.get(timeout=0.1)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    try:  # it may have sent the result just before it ended
                        result = self.outbox.get(timeout=1)
                        break
                    except queue.Empty:
                        return None
            if not told and time.monotonic() - started > _PATIENCE:
                waiting(self.uploads)
                told = True
        self.process.join(timeout=5)
        atexit.unregister(self.kill)
        return result

    def kill(self) -> None:
        """End the process now, without waiting for what it was doing."""
        self.inbox.cancel_join_thread()  # a dead reader must not hold up our exit
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        atexit.unregister(self.kill)


#: What a terminal (Ctrl-C) or a service manager may send to the whole process group.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_signals_ignored_by_children() -> Iterator[None]:
    """Children started inside this block ignore SIGINT and SIGTERM from their first
    instruction on (an ignored signal stays ignored across exec), not only once they have
    imported the engine. Here they are blocked meanwhile, so none is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change signal handlers; the child still will
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    previous = {s: signal.getsignal(s) for s in _STOP_SIGNALS}
    try:
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(sig, signal.SIG_IGN)
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def run_analysis(settings: dict[str, Any], info: InputInfo, reveal: bool,
                 inbox: Any, outbox: Any) -> None:
    """The analysis process: messages from the proxy, in order, until `finish`."""
    # Ctrl-C in a terminal reaches the whole process group, and a service manager may
    # send SIGTERM to all of it: the proxy decides when the analysis ends, so the
    # uploads still queued are analysed and the report is complete.
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    analysis = Analysis(build_audit(**settings), info, Console(stderr=True), reveal=reveal)
    parent = multiprocessing.parent_process()
    while True:
        try:
            message = inbox.get(timeout=1)
        except queue.Empty:
            if parent is not None and not parent.is_alive():  # the proxy is gone: so are we
                return
            continue
        if message[0] == "finish":
            outbox.put(analysis.finish(*message[1:]))
            return
        analysis.handle(message)


class Analysis:
    """What the analysis process does with each message; runs anywhere (tests: in-process)."""

    def __init__(self, audit: Audit, info: InputInfo, console: Console, *,
                 reveal: bool = False) -> None:
        self.audit = audit
        self.info = audit.add_input(info)
        self.console = console
        self.reveal = reveal
        self._exchange_ids: dict[str, int] = {}  # flow id -> exchange id, for the response
        self._handlers: dict[str, Callable[..., None]] = {
            "uploads": self.uploads, "response": self.response, "opt_in": self.opt_in,
            "warn": self.info.warn, "reveal": self.set_reveal}

    def handle(self, message: tuple) -> None:
        """One message from the proxy; an error in it is logged and counted, never raised."""
        kind, *args = message
        try:
            self._handlers[kind](*args)
        except Exception as e:  # one odd message must not end the audit
            logger.error("auditor: %s: analysis failed", kind, exc_info=e)
            self.info.warn(f"{kind}: analysis failed: {type(e).__name__}: {e}")

    def uploads(self, flow_id: str, number: int, exchanges: list[Exchange]) -> None:
        try:
            for exchange in exchanges:
                added, _ = self.audit.add(exchange)
                self.info.exchanges += 1
                if added.transport in ("http", "https"):
                    self._exchange_ids[flow_id] = added.id
                self._print_hits(added)
        except Exception as e:  # one flow's failure must not stop the audit
            logger.error("auditor: flow %d: analysis failed", number, exc_info=e)
            self.info.warn(f"flow {number}: analysis failed: {type(e).__name__}: {e}")

    def response(self, flow_id: str, status: int, size: int) -> None:
        exchange_id = self._exchange_ids.pop(flow_id, None)
        if exchange_id is None:
            return
        exchanges = self.audit.exchanges
        exchanges[exchange_id - 1] = dataclasses.replace(exchanges[exchange_id - 1],
                                                         status=status, bytes_down=size)

    def opt_in(self, when: float, source: str) -> None:
        self.audit.mark_opt_in(when, f"live: {source}")
        stamp = time.strftime("%H:%M:%S", time.localtime(when))
        self.console.print(Text(f"{stamp}  opt-in marked ({source}); "
                                f"later uploads are judged as after opt-in", style="bold cyan"))

    def set_reveal(self, reveal: bool) -> None:
        self.reveal = reveal

    def finish(self, path: str, packets: int, first_time: float | None,
               last_time: float | None) -> AuditResult:
        """The finished audit, with what only the proxy knows about its live input."""
        self.info.path, self.info.packets = path, packets
        self.info.first_time, self.info.last_time = first_time, last_time
        return self.audit.finish()

    def _print_hits(self, exchange: Exchange) -> None:
        from auditor.report import live_line

        for hit in self.audit.hits_for(exchange):
            self.console.print(live_line(hit, self.audit.destinations.get(exchange.id),
                                         reveal=self.reveal))


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

"""The live proxy's analysis: a process of its own, fed through a spool on disk.

The proxy (`addon.py`) appends every message — uploads with their bodies as they went over
the wire, opt-in marks, the end — to a spool file, from a thread of its own, and never
waits for the analysis. The analysis process reads the spool in order, decodes each body
(`sources.bodycodec.decode_body`, capped), analyses it, prints one line per upload with
personal data and tells the proxy what it found, so that the flow can be marked.

Nothing handed to the analysis is lost when its process dies (killed, out of memory, a
crash in native code): the spool is on disk, and a new process re-reads it from the start,
silently up to where the dead one had got, so the report holds every upload. A message on
which two processes in a row died is skipped; if the analysis cannot be kept running, the
report names every upload that was not analysed and its verdict is INCOMPLETE, never PASS.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import multiprocessing
import os
import pickle
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.text import Text

from auditor.engine import Audit, AuditResult, build_audit
from auditor.model import Exchange, InputError, InputInfo

logger = logging.getLogger("auditor")

#: Processes that die before they are ready, in a row, before the analysis is given up.
MAX_START_FAILURES = 3
#: Restarts in all before the analysis is given up (each one re-reads the whole spool).
MAX_RESTARTS = 50
#: How long the analysis sleeps when it has read everything spooled so far.
_IDLE = 0.02
_HEAD = 8  # bytes of a spool record's length
#: Exit codes of a process killed from outside (kill -9, the OOM killer, kill): whenever
#: that happens, it says nothing about whether a new process can start.
_KILLED = (-signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT)


# --- the spool ----------------------------------------------------------------------------


class Spool:
    """An append-only file of pickled messages, written by a thread so that the proxy's
    event loop never waits for the disk. Record `n` is the `n`-th message appended."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="auditor-spool-")
        self.path = os.path.join(self.folder, "spool")
        self.count = 0
        self.error = ""  # why a record could not be written (disk full...); none after it
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_all, name="auditor-spool",
                                        daemon=True)
        self._thread.start()

    def append(self, message: tuple) -> int:
        """Queue `message` for the file; returns its record number. Never blocks."""
        number = self.count
        self.count += 1
        self._queue.put(message)
        return number

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message appended so far is in the file."""
        written = threading.Event()
        self._queue.put(written)
        return written.wait(timeout)

    def close(self) -> None:
        """Stop the writer and remove the file."""
        self._queue.put(None)
        self._thread.join(timeout=10)
        os.close(self._fd)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _write_all(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            if self.error:
                continue  # a record is missing: the ones after it cannot be read in order
            try:
                data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:  # noqa: BLE001  (the record numbers must stay in step)
                data = pickle.dumps(("unspoolable", f"{type(e).__name__}: {e}"))
            try:
                self._write_record(len(data).to_bytes(_HEAD, "big") + data)
            except OSError as e:
                logger.error("auditor: cannot write the spool %s: %s", self.path, e)
                self.error = f"{self.path}: {e.strerror or e}"

    def _write_record(self, record: bytes) -> None:
        view = memoryview(record)
        while view:  # a regular file takes it all at once, unless the disk is full
            view = view[os.write(self._fd, view):]


def read_spool(path: str, alive: Callable[[], bool]) -> Iterator[bytes]:
    """Every record of the spool in order (pickled), waiting for more at its end while
    `alive()`."""
    with open(path, "rb") as f:
        while True:
            start = f.tell()
            head = f.read(_HEAD)
            body = f.read(int.from_bytes(head, "big")) if len(head) == _HEAD else b""
            if len(head) == _HEAD and len(body) == int.from_bytes(head, "big"):
                yield body
                continue
            f.seek(start)  # the writer is still at it: wait for the whole record
            if not alive():
                return
            time.sleep(_IDLE)


# --- the proxy's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class Analysed:
    """What the analysis found in one upload message, for the flow's mark and comment."""

    flow_id: str
    data_types: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass
class _Process:
    process: Any
    reader: Any  # the proxy's end of the pipe the process answers on
    ready: bool = False
    last: int = -1  # the last record it finished with


@dataclass
class LiveAnalysis:
    """The proxy's handle on the analysis: spool, process, restarts and the final result.

    `submit` is called on mitmproxy's event loop; `on_analysed` is called from a thread of
    this object's (the addon passes it on to the event loop)."""

    settings: dict[str, Any]
    info: InputInfo
    reveal: bool = False
    on_analysed: Callable[[int, list[Analysed]], None] = lambda record, found: None
    #: an empty audit for the report when no analysis process can be run at all (built
    #: by the proxy when the options were checked; from the settings when not given)
    fallback: Audit | None = None
    spool: Spool = field(default_factory=Spool)
    warnings: list[str] = field(default_factory=list)  # about the analysis process itself
    restarts: int = 0
    given_up: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._labels: dict[int, str] = {}  # record -> upload it carries, until analysed
        self._skipped: dict[int, str] = {}  # records two processes died on
        self._not_analysed: list[str] = []  # uploads that will not be in the report
        self._acked = -1  # every record up to this one is analysed
        self._death_at = -2  # where the last process died
        self._start_failures = 0
        self._analysed_uploads = 0
        self._finish_asked = False
        self._finish_at = -1
        self._result: AuditResult | None = None
        self._finished = threading.Event()
        self._current: _Process | None = None
        self._closed = False
        self._start(only_upto=None)

    # -- called by the addon ----------------------------------------------------------------

    def submit(self, message: tuple, label: str = "") -> int:
        """Hand a message to the analysis; `label` names the upload(s) it carries. Returns
        its record number, or -1 when the analysis was given up (the upload is named)."""
        with self._lock:
            if self.given_up:
                if label:
                    self._not_analysed.append(label)
                return -1
            number = self.spool.append(message)
            if label:
                self._labels[number] = label
            return number

    def finish(self, info: InputInfo) -> None:
        """No more messages: the analysis finishes the audit and sends back its result."""
        with self._lock:
            self._finish_at = self.spool.append(("finish", info.path, info.packets,
                                                 info.first_time, info.last_time))
            self._finish_asked = True
            if self.given_up:
                self._final_attempt()

    def result(self, timeout: float | None = None) -> AuditResult | None:
        """The finished audit (with what was not analysed named in it), or None while the
        analysis is still at work."""
        if not self._finished.wait(timeout):
            return None
        result = self._result
        if result is None:
            return None
        with self._lock:
            missing = [*self._skipped.values(), *self._not_analysed]
        result.incomplete = missing
        live = result.inputs[0]
        live.warnings[:0] = self.warnings
        if missing:
            live.warnings.append(f"{len(missing)} uploads were not analysed and are not in "
                                 f"this report: {', '.join(missing)}")
        return result

    @property
    def finished(self) -> bool:
        """The analysis has ended: with a result, or none could be made (or it cannot end
        because the spool could not be written: then it is given up here)."""
        if self.spool.error and not self._finished.is_set():
            self._abandon()
        return self._finished.is_set()

    def _abandon(self) -> None:
        """The spool lacks a record: what was analysed is lost with the process that must
        stop; every upload is named, and the report is the empty fallback's."""
        with self._lock:
            if self._finished.is_set():
                return
            self.given_up = True
            self.warnings.append(f"the spool could not be written ({self.spool.error}); the "
                                 f"analysis was given up")
            self._not_analysed.extend(self._labels.pop(n) for n in sorted(self._labels))
            current, self._current = self._current, None
            self._closed = True  # its end is expected, not a death to recover from
            self._empty_result()
        if current is not None:
            _end(current.process)

    @property
    def busy(self) -> int:
        """Messages spooled that the analysis has not finished with."""
        return self.spool.count - self._acked - 1

    def close(self) -> None:
        """End the process now, without waiting for what it was doing, and drop the spool."""
        with self._lock:
            self._closed = True
            current, self._current = self._current, None
        if current is not None:
            _end(current.process)
        self._finished.set()
        self.spool.close()

    # -- the process ------------------------------------------------------------------------

    def _start(self, only_upto: int | None) -> None:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe
        context = multiprocessing.get_context("spawn")
        reader, writer = context.Pipe(duplex=False)
        start = dataclasses.replace(self.info, warnings=[])
        # the target by its importable name: mitmdump may load the addon under another one
        target = importlib.import_module("auditor.live_worker").run_analysis
        process = context.Process(
            target=target, name="auditor-analysis", daemon=True,
            args=(self.settings, start, self.reveal, self.spool.path, writer,
                  self._acked, frozenset(self._skipped), only_upto, self._finish_at))
        with _stop_signals_ignored_by_children():
            process.start()
        writer.close()  # only the process holds it: its end is our end of file
        current = _Process(process, reader)
        self._current = current
        threading.Thread(target=self._listen, args=(current,), name="auditor-analysis-reader",
                         daemon=True).start()

    def _listen(self, current: _Process) -> None:
        """Everything one process says, until it ends; then decide what comes next."""
        while True:
            try:
                message = current.reader.recv()
            except (EOFError, OSError):
                break
            except Exception as e:  # noqa: BLE001  (a message that does not unpickle)
                logger.error("auditor: unreadable message from the analysis: %s", e)
                break
            kind = message[0]
            if kind == "ready":
                current.ready = True
            elif kind == "done":
                self._done(current, message[1], message[2])
            elif kind == "result":
                self._result = message[1]
                self._finished.set()
        current.reader.close()
        current.process.join(timeout=10)
        self._ended(current)

    def _done(self, current: _Process, number: int, analysed: list[Analysed]) -> None:
        current.last = number
        with self._lock:
            if number <= self._acked:
                return  # a new process going over what a dead one had done
            self._acked = number
            if self._labels.pop(number, None) is not None:
                self._analysed_uploads += 1
        self._start_failures = 0
        self.on_analysed(number, analysed)

    def _ended(self, current: _Process) -> None:
        with self._lock:
            if self._closed or self._current is not current or self._finished.is_set():
                return
            code = current.process.exitcode
            self._current = None
            logger.error("auditor: the analysis process stopped (exit code %s)", code)
            if self.given_up:  # the final attempt died too
                self._empty_result()
                return
            if not current.ready and code not in _KILLED:  # it could not start
                self._start_failures += 1
            elif current.ready:
                # where it died: never a record some process has finished, nor the end
                place = current.last + 1
                if (place == self._death_at and self._acked < place < self.spool.count
                        and place != self._finish_at):
                    label = self._labels.pop(place, f"spool record {place}")
                    self._skipped[place] = f"{label} (the analysis process died on it twice)"
                self._death_at = place
            self.restarts += 1
            if self._start_failures >= MAX_START_FAILURES or self.restarts > MAX_RESTARTS:
                self._give_up(code)
                return
            self.warnings.append(f"the analysis process stopped (exit code {code}); a new one "
                                 f"was started to re-read every upload from the spool")
            self._start(only_upto=None)

    def _give_up(self, code: int | None) -> None:
        """No more processes: what was analysed stays, everything else is named."""
        self.given_up = True
        self.warnings.append(f"the analysis process stopped (exit code {code}), "
                             f"{self.restarts} times in all; the analysis was given up")
        self._not_analysed.extend(self._labels.pop(n) for n in sorted(self._labels))
        if self._finish_asked:
            self._final_attempt()

    def _final_attempt(self) -> None:
        """After giving up, one more process reads only what earlier ones had analysed, so
        that the report holds it; if that one dies too, the report is empty and says why."""
        if self._current is None:
            self._start(only_upto=self._acked)

    def _empty_result(self) -> None:
        if self._analysed_uploads:
            self._not_analysed.insert(0, f"the {self._analysed_uploads} uploads analysed "
                                         f"before the analysis was given up")
        try:
            audit = self.fallback or build_audit(**self.settings)
        except Exception as e:  # noqa: BLE001  (the files changed since the start)
            logger.error("auditor: no report: %s", e)
        else:
            audit.add_input(dataclasses.replace(self.info, warnings=[]))
            self._result = audit.finish()
        self._finished.set()


def _end(process: Any) -> None:
    if process.is_alive():
        process.kill()
    process.join(timeout=5)


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


# --- the analysis process -----------------------------------------------------------------


def run_analysis(settings: dict[str, Any], info: InputInfo, reveal: bool, spool_path: str,
                 answer: Any, quiet_upto: int, skip: frozenset[int],
                 only_upto: int | None = None, finish_at: int = -1) -> None:
    """The analysis process: the spool's messages in order, until `finish`.

    Records up to `quiet_upto` were analysed by a process before this one: they are
    analysed again (the audit is rebuilt), without printing their lines again. With
    `only_upto` (the last attempt after the analysis was given up) the records after it
    are passed over, but the `finish` at `finish_at`."""
    # Ctrl-C in a terminal reaches the whole process group, and a service manager may
    # send SIGTERM to all of it: the proxy decides when the analysis ends, so the
    # uploads still spooled are analysed and the report is complete.
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        audit = build_audit(**settings)
    except InputError as e:  # the files changed since the proxy checked them
        print(f"auditor: the analysis process cannot start: {e}", file=sys.stderr)
        sys.exit(1)
    analysis = Analysis(audit, info, Console(stderr=True), reveal=reveal)
    answer.send(("ready",))
    parent = multiprocessing.parent_process()

    def alive() -> bool:
        return parent is None or parent.is_alive()

    for number, record in enumerate(read_spool(spool_path, alive)):
        passed_over = only_upto is not None and only_upto < number != finish_at
        if number in skip or passed_over:  # not even unpickled: that may be what killed
            answer.send(("done", number, []))
            continue
        message = pickle.loads(record)
        if message[0] == "finish":
            answer.send(("result", analysis.finish(*message[1:])))
            return
        analysis.quiet = number <= quiet_upto
        answer.send(("done", number, analysis.handle(message)))


class Analysis:
    """What the analysis process does with each message; runs anywhere (tests: in-process)."""

    def __init__(self, audit: Audit, info: InputInfo, console: Console, *,
                 reveal: bool = False) -> None:
        self.audit = audit
        self.info = audit.add_input(info)
        self.console = console
        self.reveal = reveal
        self.quiet = False  # True while going over what a dead process had printed
        self._handlers: dict[str, Callable[..., list[Analysed] | None]] = {
            "uploads": self.uploads, "opt_in": self.opt_in, "warn": self.info.warn,
            "reveal": self.set_reveal, "unspoolable": self.unspoolable}

    def handle(self, message: tuple) -> list[Analysed]:
        """One message from the proxy; an error in it is logged and counted, never raised."""
        kind, *args = message
        try:
            return self._handlers[kind](*args) or []
        except Exception as e:  # one odd message must not end the audit
            logger.error("auditor: %s: analysis failed", kind, exc_info=e)
            self.info.warn(f"{kind}: analysis failed: {type(e).__name__}: {e}")
            return []

    def uploads(self, flow_id: str, number: int, exchanges: list[Exchange]) -> list[Analysed]:
        """Analyse the uploads of one flow message; one line for each with personal data."""
        from auditor.report.live import upload_line

        found: list[Analysed] = []
        try:
            for exchange in exchanges:
                added, observations = self.audit.add(decoded(exchange, self.info.warn))
                self.info.exchanges += 1
                if not observations:
                    continue
                hits = self.audit.hits_for(added)
                found.append(Analysed(flow_id, tuple(sorted({o.data_type for o in observations})),
                                      tuple(dict.fromkeys(h.rule.id for h in hits))))
                if not self.quiet:
                    self.console.print(upload_line(added, observations, hits,
                                                   self.audit.destinations.get(added.id),
                                                   reveal=self.reveal))
        except Exception as e:  # one flow's failure must not stop the audit
            logger.error("auditor: flow %d: analysis failed", number, exc_info=e)
            self.info.warn(f"flow {number}: analysis failed: {type(e).__name__}: {e}")
        return found

    def opt_in(self, when: float, source: str) -> None:
        self.audit.mark_opt_in(when, f"live: {source}")
        if self.quiet:
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(when))
        self.console.print(Text(f"{stamp}  opt-in marked ({source}); "
                                f"later uploads are judged as after opt-in", style="bold cyan"))

    def set_reveal(self, reveal: bool) -> None:
        self.reveal = reveal

    def unspoolable(self, reason: str) -> None:
        self.info.warn(f"a message could not be handed to the analysis ({reason})")

    def finish(self, path: str, packets: int, first_time: float | None,
               last_time: float | None) -> AuditResult:
        """The finished audit, with what only the proxy knows about its live input."""
        self.info.path, self.info.packets = path, packets
        self.info.first_time, self.info.last_time = first_time, last_time
        return self.audit.finish()


def decoded(exchange: Exchange, warn: Callable[[str], None]) -> Exchange:
    """An HTTP upload as the proxy passed it (body as sent) with its Content-Encoding
    undone, here and never in the proxy, within the caps of `decode_body`."""
    if exchange.transport not in ("http", "https") or not exchange.body:
        return exchange
    coding = next((v for k, v in exchange.headers if k.lower() == "content-encoding"), "")
    if not coding:
        return exchange
    from auditor.sources.bodycodec import decode_body

    body, problem = decode_body(exchange.body, coding)
    if problem:
        warn(f"{exchange.source}: {problem}")
        return dataclasses.replace(exchange, notes=(*exchange.notes, problem))
    return dataclasses.replace(exchange, body=body)

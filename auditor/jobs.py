"""`--jobs N`: one audit spread over the cores of one machine.

The main process reads the captures (framing, reassembly, protocol parsing) and admits
every exchange in capture order (`Audit.admit`: the consent timeline, the exchange's id,
its destination). Exchanges then go in batches to worker processes, which decode and
search them (`engine.analyse`), and their observations come back and are recorded in
capture order (`Audit.record`). Judging happens once everything is merged (`Audit.finish`),
so the report is the one `--jobs 1` writes, whatever order the workers finish in.

Pattern mode learns the capture's likely region from exchanges (an MCC, a carrier host, the
country of an international number) and reads later national numbers in it. What an
exchange teaches does not depend on what came before, but a decision that consults it does:
each analysis returns its facts and, if it consulted the state, the state it began with.
The main process keeps the state in capture order (the detector's own); when `_merge` meets
an exchange that consulted a different state, it analyses it again with the ordered one.
Those are few (national-form numbers under id keys, without the profile's region), and the
main process's own out-of-order batches use a scratch state, never the ordered one.

Batches are pickled once, as tuples, to amortise the cost of crossing a process boundary;
at most a few batches per worker are in flight, so memory stays bounded by the batch size,
not the capture size. A capture smaller than `PARALLEL_MIN_BYTES` is analysed in-process:
starting workers would cost more than it saves.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from auditor.model import Exchange, InputInfo

if TYPE_CHECKING:  # multiprocessing and concurrent.futures are imported when first used
    from concurrent.futures import Future, ProcessPoolExecutor

    from auditor.detect import Detector
    from auditor.engine import Analysis, Audit

T = TypeVar("T")
R = TypeVar("R")

#: Below this many bytes of input in all, `--jobs` runs in-process.
PARALLEL_MIN_BYTES = 8 << 20
#: A batch is sent when it holds this many bytes of exchange bodies, or this many exchanges:
#: large enough that pickling and the pipe cost little per exchange (~20 ms of analysis),
#: small enough that the last batches, which the main process waits for, end soon.
BATCH_BYTES = 256 << 10
BATCH_EXCHANGES = 64
#: Batches in flight per worker: one being analysed, one waiting, one being sent. When all
#: are taken, the main process analyses the next batch itself instead of waiting.
IN_FLIGHT_PER_WORKER = 3

_EXCHANGE_FIELDS = tuple(f.name for f in dataclasses.fields(Exchange))
_detector: Detector | None = None  # in a worker process: the one it analyses with


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def jobs_argument(text: str) -> int:
    """argparse type of `--jobs`: a positive whole number."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of processes; give a whole number of 1 or more "
            f"(default: {default_jobs()}, the cores of this machine)")
    return jobs


@contextmanager
def workers_for(audit: Audit, jobs: int, paths: Iterable[str] = (), *,
                min_bytes: int = PARALLEL_MIN_BYTES) -> Iterator[Workers | None]:
    """Worker processes for `audit` when `jobs` > 1 and the inputs are worth it (None:
    analyse in-process). Start them before any thread (a progress bar) starts: workers are
    forked where the platform allows it."""
    if jobs <= 1 or _input_bytes(paths) < min_bytes:
        yield None
        return
    workers = Workers(audit, jobs)
    try:
        yield workers
    finally:
        workers.close()


def in_processes(function: Callable[[T], R], items: list[T], jobs: int) -> list[R]:
    """`[function(item) for item in items]`, over up to `jobs` processes when there is more
    than one item (`auditor check`: one case folder per task; the results in order)."""
    if jobs <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(jobs, len(items)), mp_context=_context(),
                             initializer=signal.signal,
                             initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
        return list(pool.map(function, items))


def _input_bytes(paths: Iterable[str]) -> int:
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:
            return 1 << 62  # a stream of unknown size: assume it is large
    return total


class Workers:
    """A pool of processes that decode and search batches of one audit's exchanges."""

    def __init__(self, audit: Audit, jobs: int) -> None:
        from concurrent.futures import ProcessPoolExecutor

        self.audit = audit
        # the main process reads and admits, and analyses what the workers cannot take:
        # it is one of the `jobs` processes
        self.processes = max(1, jobs - 1)
        self.sent = 0  # batches the workers took
        self.broken = False  # a worker died: the main process analyses everything since
        context = _context()
        if context.get_start_method() == "fork":  # the workers inherit the detector
            initargs: tuple = (audit.detector, None)
        else:
            initargs = (None, (audit.profile, audit.detector.patterns is not None))
        self.pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            self.processes, mp_context=context, initializer=_start_worker, initargs=initargs)
        self.pool.submit(int).result()  # start the processes now, before any other thread
        self.batch: list[tuple[Exchange, Exchange]] = []
        self.batch_bytes = 0
        self.info: InputInfo | None = None
        self.anchors: list[int] = []  # of the batch's exchanges: see `_merge`
        self.pending: deque[tuple] = deque()  # (future or None, results or None, batch,
        #                                         anchors, input) in capture order
        self.inserted: dict[int, int] = {}  # analysis notes inserted so far, per input
        self.consulted = 0  # exchanges whose analysis consulted the learned region state
        self.reanalysed = 0  # of those, the ones analysed again in capture order

    def add(self, exchange: Exchange, info: InputInfo | None) -> None:
        """Admit one exchange (in capture order) and queue it for analysis."""
        if info is not self.info:
            self._send()  # a batch holds exchanges of one input
            self.info = info
        kept = self.audit.admit(exchange)
        self.batch.append((exchange, kept))
        # where this exchange's notes go among its input's warnings: after the reader's
        # warnings so far, as `--jobs 1` would have put them
        self.anchors.append(len(info.warnings) - self.inserted.get(id(info), 0)
                            if info is not None else 0)
        self.batch_bytes += len(exchange.body) + 256
        if self.batch_bytes >= BATCH_BYTES or len(self.batch) >= BATCH_EXCHANGES:
            self._send()

    def finish(self) -> None:
        """Wait for every batch and record its results."""
        self._send()
        while self.pending:
            self._merge(*self.pending.popleft())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    # -- internals ------------------------------------------------------------------------

    def _send(self) -> None:
        if not self.batch:
            return
        batch, self.batch, self.batch_bytes = self.batch, [], 0
        anchors, self.anchors = self.anchors, []
        future = results = None
        if self.pool is None or self.in_flight >= self.processes * IN_FLIGHT_PER_WORKER:
            # the workers are busy: rather than wait, the main process analyses this batch
            results = _analyse_here(self.audit.detector, batch)
        else:
            payload = pickle.dumps([(kept.id, tuple(getattr(exchange, name) for name in
                                                    _EXCHANGE_FIELDS))
                                    for exchange, kept in batch], pickle.HIGHEST_PROTOCOL)
            try:
                future = self.pool.submit(_analyse_batch, payload)
                self.sent += 1
            except _broken():
                self._lose_pool()
                results = _analyse_here(self.audit.detector, batch)
        self.pending.append((future, results, batch, anchors, self.info))
        while self.pending and _done(self.pending[0][0]):
            self._merge(*self.pending.popleft())

    @property
    def in_flight(self) -> int:
        """Batches sent to the workers and not yet analysed."""
        return sum(1 for entry in self.pending if not _done(entry[0]))

    def _merge(self, future: Future | None, results: dict | None,
               batch: list[tuple[Exchange, Exchange]], anchors: list[int],
               info: InputInfo | None) -> None:
        if future is not None:
            try:
                results = future.result()
            except _broken():  # a worker died (killed, out of memory)
                self._lose_pool()
                results = _analyse_here(self.audit.detector, batch)
        inserted = self.inserted.get(id(info), 0)
        patterns = self.audit.detector.patterns
        for index, (observations, notes, facts, start) in sorted(results.items()):
            exchange, kept = batch[index]
            if start is not None:  # it consulted what earlier exchanges taught
                self.consulted += 1
            if start is not None and start != patterns.state:
                # with the state of capture order, which its facts then update
                from auditor.engine import analyse_learning

                observations, notes, _, _ = analyse_learning(self.audit.detector, exchange,
                                                             kept)
                self.reanalysed += 1
            else:
                for fact in facts:
                    patterns.learn(fact)
            self.audit.record(kept, observations, notes, info,
                              None if info is None else anchors[index] + inserted)
            inserted += len(notes)
        self.inserted[id(info)] = inserted

    def _lose_pool(self) -> None:
        """Go on in-process: the results are the same, only slower."""
        self.broken = True
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


def _context():
    """Fork where the platform has it: a worker starts at once, with what the main process
    has built (the detector), nothing imported or pickled again."""
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _broken() -> type[Exception]:
    from concurrent.futures.process import BrokenProcessPool

    return BrokenProcessPool


def _done(future: Future | None) -> bool:
    return future is None or future.done()


def _analyse_here(detector: Detector,
                  batch: list[tuple[Exchange, Exchange]]) -> dict[int, Analysis]:
    """In the main process, out of capture order: with a scratch region state, so that the
    detector's own state stays the one of capture order (`_merge` updates it)."""
    from auditor.detect.patterns import RegionState
    from auditor.engine import analyse_learning

    scratch = RegionState()
    out = {}
    for index, (exchange, kept) in enumerate(batch):
        found = analyse_learning(detector, exchange, kept, scratch)
        if any(found):
            out[index] = found
    return out


def _start_worker(detector: Detector | None, recipe: tuple | None) -> None:
    global _detector
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    if detector is None:
        from auditor.detect import Detector

        profile, pattern_mode = recipe
        detector = Detector(profile, pattern_mode=pattern_mode)
    _detector = detector


def _analyse_batch(payload: bytes) -> dict[int, Analysis]:
    """In a worker: the analyses (`engine.analyse_learning`) of a batch's exchanges, by
    position (only those with observations, notes, facts or a consulted state)."""
    from auditor.engine import analyse_learning, keep

    out = {}
    for index, (exchange_id, values) in enumerate(pickle.loads(payload)):
        exchange = Exchange(*values)
        found = analyse_learning(_detector, exchange, keep(exchange, exchange_id))
        if any(found):
            out[index] = found
    return out

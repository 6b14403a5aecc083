"""Reassembly of one direction of a TCP connection into the byte stream the application
wrote: retransmissions and overlaps are trimmed, out-of-order segments wait for the
missing bytes, and a gap that never fills is handed to the consumer as a gap — never
filled with made-up bytes.
"""

from __future__ import annotations

from typing import Protocol

_HALF = 1 << 31
_MOD = 1 << 32
#: Out-of-order data held back before a missing segment is declared lost.
_MAX_PENDING_BYTES = 8 << 20
_MAX_PENDING_SEGMENTS = 4096


class StreamSink(Protocol):
    def data(self, chunk: bytes, time: float, packet: int) -> None: ...

    def gap(self, missing: int, offset: int) -> None: ...

    def countable(self) -> int:
        """How many of the next bytes the sink would only count, never read."""
        ...

    def skipped(self, size: int, time: float, packet: int) -> None:
        """`size` countable bytes went by; the last came at `time` in `packet`."""
        ...


#: A countable budget that never runs out (a tunnel, a body that lasts until the close).
UNLIMITED = 1 << 62


class ReadsEverything:
    """For a sink that needs every byte: nothing is countable."""

    __slots__ = ()

    def countable(self) -> int:
        return 0

    def skipped(self, size: int, time: float, packet: int) -> None:
        raise AssertionError("bytes were skipped past a sink that reads everything")


class Reassembler:
    """One direction of a connection. Offsets count bytes since the first one seen."""

    __slots__ = (
        "end_offset",
        "gaps",
        "next_seq",
        "offset",
        "pending",
        "pending_bytes",
        "sink",
        "skip",
        "skip_packet",
        "skip_time",
        "skipped",
    )

    def __init__(self, sink: StreamSink, first_seq: int) -> None:
        self.sink = sink
        self.next_seq = first_seq  # sequence number of the next byte owed to the sink
        self.offset = 0  # stream offset of that byte
        self.pending: dict[int, tuple[bytes, float, int]] = {}  # offset -> (data, time, pkt)
        self.pending_bytes = 0
        self.gaps: list[tuple[int, int]] = []  # (offset, bytes missing)
        self.end_offset: int | None = None  # where a FIN says the stream ends
        # in-order bytes the sink may only count: the budget left, and what was counted
        # since the sink last heard from this stream (always 0 while `pending` holds data)
        self.skip = 0
        self.skipped = 0
        self.skip_time = 0.0
        self.skip_packet = 0

    def add(self, seq: int, payload: bytes, time: float, packet: int, cut: int = 0) -> None:
        """A segment's payload; `cut` bytes of it were not captured (snaplen)."""
        size = len(payload)
        if seq == self.next_seq and not cut:
            if size <= self.skip:  # the common case of a download: count it, no more
                self.skip -= size
                self.skipped += size
                self.next_seq = (seq + size) & 0xFFFFFFFF
                self.skip_time, self.skip_packet = time, packet
                return
            if not self.pending:  # the common case of an upload, kept short
                if self.skipped:
                    self.flush()
                self.sink.data(payload, time, packet)
                self.offset += size
                self.next_seq = (seq + size) & 0xFFFFFFFF
                self.skip = self.sink.countable()
                return
        if self.skipped:
            self.flush()
        delta = (seq - self.next_seq) & 0xFFFFFFFF
        if delta >= _HALF:
            delta -= _MOD
        at = self.offset + delta
        if delta < 0 and -delta >= len(payload) + cut:
            return  # retransmission of bytes already delivered
        known = self.pending.get(at)
        if known is None or len(known[0]) < len(payload):
            self.pending_bytes += len(payload) - (len(known[0]) if known else 0)
            self.pending[at] = (payload, time, packet)
            if cut and at + len(payload) not in self.pending:
                self.pending[at + len(payload)] = (b"", time, -cut)  # marks the cut part
        self._drain()
        if self.pending_bytes > _MAX_PENDING_BYTES or len(self.pending) > _MAX_PENDING_SEGMENTS:
            self._skip_gap()
        self.skip = 0 if self.pending else self.sink.countable()

    def flush(self) -> None:
        """Tells the sink about the bytes counted for it since it last heard of this stream."""
        size, self.skipped = self.skipped, 0
        self.offset += size
        self.sink.skipped(size, self.skip_time, self.skip_packet)

    def fin(self, seq: int) -> None:
        """A FIN at `seq`: the stream ends there, whatever is still missing."""
        if self.skipped:
            self.flush()
        delta = (seq - self.next_seq) % _MOD
        if delta < _HALF:
            self.end_offset = self.offset + delta

    def close(self) -> None:
        """No more segments will come: what is still missing is lost."""
        if self.skipped:
            self.flush()
        self.skip = 0
        while self.pending:
            self._skip_gap()
        if self.end_offset is not None and self.end_offset > self.offset:
            self._gap(self.end_offset - self.offset)

    def _deliver(self, payload: bytes, time: float, packet: int, cut: int) -> None:
        if payload:
            self.sink.data(payload, time, packet)
            self.offset += len(payload)
            self.next_seq = (self.next_seq + len(payload)) % _MOD
        if cut:
            self._gap(cut)

    def _gap(self, missing: int) -> None:
        self.gaps.append((self.offset, missing))
        self.sink.gap(missing, self.offset)
        self.offset += missing
        self.next_seq = (self.next_seq + missing) % _MOD

    def _drain(self) -> None:
        while self.pending:
            at = min(self.pending)
            if at > self.offset:
                return
            payload, time, packet = self.pending.pop(at)
            self.pending_bytes -= len(payload)
            if packet < 0:  # the uncaptured tail of a cut segment
                overlap = self.offset - at
                if -packet > overlap:
                    self._gap(-packet - overlap)
                continue
            overlap = self.offset - at
            if overlap < len(payload):
                self._deliver(payload[overlap:], time, packet, 0)

    def _skip_gap(self) -> None:
        at = min(self.pending)
        if at > self.offset:
            self._gap(at - self.offset)
        self._drain()

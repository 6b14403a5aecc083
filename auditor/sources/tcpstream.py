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
    )

    def __init__(self, sink: StreamSink, first_seq: int) -> None:
        self.sink = sink
        self.next_seq = first_seq  # sequence number of the next byte owed to the sink
        self.offset = 0  # stream offset of that byte
        self.pending: dict[int, tuple[bytes, float, int]] = {}  # offset -> (data, time, pkt)
        self.pending_bytes = 0
        self.gaps: list[tuple[int, int]] = []  # (offset, bytes missing)
        self.end_offset: int | None = None  # where a FIN says the stream ends

    def add(self, seq: int, payload: bytes, time: float, packet: int, cut: int = 0) -> None:
        """A segment's payload; `cut` bytes of it were not captured (snaplen)."""
        delta = (seq - self.next_seq) & 0xFFFFFFFF
        if delta == 0 and not self.pending and not cut:  # the common case, kept short
            self.sink.data(payload, time, packet)
            self.offset += len(payload)
            self.next_seq = (seq + len(payload)) & 0xFFFFFFFF
            return
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

    def fin(self, seq: int) -> None:
        """A FIN at `seq`: the stream ends there, whatever is still missing."""
        delta = (seq - self.next_seq) % _MOD
        if delta < _HALF:
            self.end_offset = self.offset + delta

    def close(self) -> None:
        """No more segments will come: what is still missing is lost."""
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

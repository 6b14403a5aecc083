"""All fields of one exchange as one buffer, so each search runs once per exchange.

Searching field by field costs a fixed ~10 µs of Python per field (an automaton call, a
few translations and regex gates) although almost no field holds anything. Joined with a
separator byte, the values are searched with one automaton call and a handful of C-level
`find` loops per exchange; each hit is mapped back to its field with `bisect`, so the
Python work grows with the hits, not with the fields.

The separator is NUL: no pattern or needle searched for contains it, and to every
boundary rule (digit, hex, alnum, e-mail characters) it is a neutral neighbour, so a hit
at a field's edge is judged as if the field stood alone. A field may hold NUL bytes of
its own (binary bodies); they split nothing, as `starts` alone says where fields begin.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from ahocorasick_rs import BytesAhoCorasick

from auditor.model import Field

SEPARATOR = b"\x00"


class FieldBatch:
    """The joined values of one exchange's fields, raw and lower-cased."""

    __slots__ = ("_translations", "buffer", "fields", "lowered", "starts")

    def __init__(self, fields: Sequence[Field]) -> None:
        self.fields = fields
        self.buffer = SEPARATOR.join([f.value for f in fields])
        self.lowered = self.buffer.lower()
        # starts[i] is where field i begins; the last entry, one past the end, closes it
        self.starts = list(accumulate([len(f.value) + 1 for f in fields], initial=0))
        self._translations: dict[bytes, bytes] = {}

    def field_at(self, position: int) -> int:
        """The index of the field that holds `position` of the buffer."""
        return bisect_right(self.starts, position) - 1

    def lowered_of(self, index: int) -> bytes:
        return self.slice(self.lowered, index)

    def slice(self, joined: bytes, index: int) -> bytes:
        """Field `index`'s part of the buffer or of a byte-for-byte translation of it."""
        return joined[self.starts[index]:self.starts[index + 1] - 1]

    def translated(self, table: bytes) -> bytes:
        """The buffer through `bytes.translate(table)`, made once per batch and table."""
        found = self._translations.get(table)
        if found is None:
            found = self._translations[table] = self.buffer.translate(table)
        return found

    def fields_with(self, haystack: bytes, needle: bytes) -> set[int]:
        """Indexes of the fields in which `needle` occurs, `haystack` being the buffer or a
        byte-for-byte translation of it; one `find` per field that has it."""
        out: set[int] = set()
        starts, last = self.starts, len(self.starts) - 1
        position = haystack.find(needle)
        while position >= 0:
            index = bisect_right(starts, position) - 1
            out.add(index)
            if index + 1 >= last:
                break
            position = haystack.find(needle, starts[index + 1])
        return out

    def fields_matching(self, haystack: bytes, words: BytesAhoCorasick) -> set[int]:
        """Indexes of the fields in which any of an automaton's words occurs."""
        starts = self.starts
        return {bisect_right(starts, start) - 1
                for _, start, _ in words.find_matches_as_indexes(haystack)}

"""Known-value matching: one Aho-Corasick pass over all fields of an exchange (joined, see
batch.py) for every profile variant.

The fields are searched lower-cased (so hex digests, MACs and ids match in either case) and
each hit is then confirmed: base64 forms must match in their exact case; a value must not
be part of a longer run of its own kind (the boundary rule below); a hex digest prefix is
followed as far as the digest goes (a truncated digest is still a digest); a coordinate is
read to its last decimal and compared with the profile's.

Boundary rule: a numeric spelling (IMEI, IMSI, phone number) touching another digit is part
of a longer number and not a match — `x867203024182737y` matches, `1867203024182737` does
not. A hex spelling (MAC, Android ID, digest) must not touch another hex digit; any other
spelling (serial, e-mail, name) must not touch a letter or digit. Only an edge of the
spelling that is itself a letter or digit is checked, so `+86...` and `%2B86...` match after
anything. SMS windows and base64 forms have no boundary: they sit inside longer text.

Phone numbers of the profile are also found whatever separators sit between their digits
(`LoosePhone`): people and apps group digits in more ways than spellings can list.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace

from ahocorasick_rs import BytesAhoCorasick

from auditor.detect.batch import FieldBatch
from auditor.detect.variants import PHONE_SEPARATORS, LoosePhone, Variant

_ALNUM = frozenset(string.ascii_lowercase.encode() + string.digits.encode())
_NEIGHBOURS = {"digit": frozenset(string.digits.encode()),
               "hex": frozenset(b"0123456789abcdef"),
               "alnum": _ALNUM}
_DIGITS = frozenset(string.digits.encode())


@dataclass(frozen=True, slots=True)
class KnownMatch:
    """A confirmed variant at [start, end) of a field's bytes."""

    variant: Variant
    start: int
    end: int
    written: str  # the variant's `written`, or e.g. "sha256:hex-truncated"
    detail: str


class KnownMatcher:
    """Finds every variant in an exchange's fields with one automaton pass over all of
    them (see batch.py), then confirms each hit."""

    def __init__(self, variants: list[Variant], loose: list[LoosePhone] | None = None) -> None:
        by_pattern: dict[bytes, list[Variant]] = {}
        for variant in dict.fromkeys(variants):
            by_pattern.setdefault(variant.pattern.lower(), []).append(variant)
        self._variants = list(by_pattern.values())
        self._automaton = BytesAhoCorasick(list(by_pattern)) if by_pattern else None
        self.pattern_count = len(by_pattern)
        loose_by_digits: dict[bytes, list[LoosePhone]] = {}
        for phone in loose or ():
            loose_by_digits.setdefault(phone.variant.pattern, []).append(phone)
        self._loose = list(loose_by_digits.values())
        self._loose_gate = BytesAhoCorasick(list(loose_by_digits)) if loose_by_digits \
            else None

    def search_batch(self, batch: FieldBatch) -> dict[int, list[KnownMatch]]:
        """Confirmed matches by field index, positions relative to their field, with
        covered and window matches resolved per field."""
        if self._automaton is None:
            return {}
        buffer, lowered = batch.buffer, batch.lowered
        found = []
        for index, start, end in self._automaton.find_matches_as_indexes(lowered,
                                                                          overlapping=True):
            for variant in self._variants[index]:
                match = _confirm(variant, buffer, lowered, start, end)
                if match:
                    found.append(match)
        if self._loose_gate is not None:
            found.extend(self._loose_matches(lowered))
        if not found:
            return {}
        by_field: dict[int, list[KnownMatch]] = {}
        for match in found:
            by_field.setdefault(batch.field_at(match.start), []).append(match)
        return {index: _drop_covered(_merge_windows([_shifted(m, batch.starts[index])
                                                     for m in matches]))
                for index, matches in sorted(by_field.items())}

    def _loose_matches(self, lowered: bytes) -> list[KnownMatch]:
        """Profile numbers written with separators no spelling has (`+49 152 09384712`);
        the regexes run only when the digits occur once separators are deleted."""
        squeezed = lowered.translate(None, PHONE_SEPARATORS)
        out = []
        for index in {i for i, _, _ in self._loose_gate.find_matches_as_indexes(squeezed)}:
            for phone in self._loose[index]:
                for found in phone.regex.finditer(lowered):
                    text = found.group()
                    if text.translate(None, PHONE_SEPARATORS) != text:  # else a spelling's
                        out.append(KnownMatch(phone.variant, found.start(), found.end(),
                                              "plain", f"{phone.variant.detail}: "
                                                       f"{text.decode('ascii')}"))
        return out


def _shifted(match: KnownMatch, offset: int) -> KnownMatch:
    if not offset:
        return match
    return KnownMatch(match.variant, match.start - offset, match.end - offset, match.written,
                      match.detail)


def _touches(lowered: bytes, start: int, end: int, kind: str) -> bool:
    """True when the match continues a run of its own kind on an edge that is alnum."""
    neighbours = _NEIGHBOURS[kind]
    if start > 0 and lowered[start] in _ALNUM and lowered[start - 1] in neighbours:
        return True
    return end < len(lowered) and lowered[end - 1] in _ALNUM and lowered[end] in neighbours


def _confirm(variant: Variant, value: bytes, lowered: bytes, start: int,
             end: int) -> KnownMatch | None:
    if variant.case_sensitive and value[start:end] != variant.pattern:
        return None
    if variant.digest_hex:
        return _follow_digest(variant, value, lowered, start, end)
    if variant.data_type == "location":
        return _confirm_coordinate(variant, lowered, start, end)
    if variant.boundary and _touches(lowered, start, end, variant.boundary):
        return None
    return KnownMatch(variant, start, end, variant.written, variant.detail)


def _follow_digest(variant: Variant, value: bytes, lowered: bytes, start: int,
                   end: int) -> KnownMatch | None:
    """Extend a 16-hex-char digest prefix as far as the digest goes."""
    if start > 0 and lowered[start - 1] in _NEIGHBOURS["hex"]:
        return None
    digest = variant.digest_hex.encode()
    limit = min(len(digest), len(lowered) - start)
    length = end - start
    while length < limit and lowered[start + length] == digest[length]:
        length += 1
    end = start + length
    written, detail = variant.written, variant.detail
    if length < len(digest):
        written = f"{written}-truncated"
        detail = detail.replace("(hex)", f"(hex, first {length} of {len(digest)} chars)")
    if value[start:end].isupper():
        detail = detail.replace("(hex", "(upper-case hex")
    return KnownMatch(variant, start, end, written, detail)


def _confirm_coordinate(variant: Variant, lowered: bytes, start: int,
                        end: int) -> KnownMatch | None:
    """Read the number to its last digit; it must agree with the profile's coordinate to
    the decimals both have (truncated or rounded), and E7 integers must have 7 decimals."""
    if start > 0 and lowered[start - 1] in _DIGITS:
        return None
    while end < len(lowered) and lowered[end] in _DIGITS:
        end += 1
    found = lowered[start:end].decode("ascii")
    lat_text, lon_text = variant.value.split(",")
    profile_text = lat_text if variant.subject.startswith("lat") else lon_text
    profile_places = len(profile_text.partition(".")[2])
    if variant.written == "e7":
        if len(found) != len(str(round(float(profile_text) * 10**7))):
            return None
        number, places = int(found) / 10**7, 7
    else:
        number, places = float(found), len(found.partition(".")[2])
    if abs(number - float(profile_text)) >= 10 ** -min(places, profile_places):
        return None
    return KnownMatch(variant, start, end, variant.written,
                      f"{variant.detail}: {found}")


def _merge_windows(found: list[KnownMatch]) -> list[KnownMatch]:
    """Overlapping 20-character windows of one SMS become one match over their union."""
    windows = sorted((m for m in found if m.variant.window), key=lambda m: (m.variant.value,
                                                                           m.start))
    if not windows:
        return found
    merged: list[KnownMatch] = []
    for match in windows:
        last = merged[-1] if merged else None
        if last and last.variant.value == match.variant.value and match.start <= last.end:
            merged[-1] = replace(last, end=max(last.end, match.end))
        else:
            merged.append(match)
    merged = [replace(m, detail=f"{m.end - m.start} characters of {m.variant.subject}")
              for m in merged]
    return [m for m in found if not m.variant.window] + merged


def _drop_covered(found: list[KnownMatch]) -> list[KnownMatch]:
    """Where spellings of one value overlap (`8615627394810` inside `+8615627394810`), keep
    the longest; of equal spans, the first variant."""
    found.sort(key=lambda m: (m.start, -m.end))
    kept: list[KnownMatch] = []
    for match in found:
        covered = any(k.variant.data_type == match.variant.data_type
                      and k.variant.value == match.variant.value
                      and k.start <= match.start and match.end <= k.end for k in kept)
        if not covered:
            kept.append(match)
    return kept

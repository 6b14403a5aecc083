"""Detection: which personal data of the device is in an exchange's fields.

Known values of the device profile are found through every spelling, encoding and hash
with one automaton pass over all fields of an exchange (`known`, `batch`); without a
profile value, identifiers are found by shape and key (`patterns`), in the fields that
pass its gates, themselves run once over all fields; address books and SMS archives by
their structure (`structure`). Observations are de-duplicated per exchange, and when a
value is found both in a field and in a field decoded from it, only the innermost
(longest chain) is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from auditor.detect.batch import FieldBatch
from auditor.detect.hints import load_key_hints
from auditor.detect.known import KnownMatch, KnownMatcher
from auditor.detect.patterns import PatternFinder, PatternMatch, e164_of, is_text
from auditor.detect.profile import DeviceProfile
from auditor.detect.structure import (
    LONGEST_ELEMENT_VALUE,
    ArrayKeys,
    StructureCollector,
    StructureFinding,
)
from auditor.detect.variants import loose_phones, profile_variants
from auditor.model import Exchange, Field, Observation

__all__ = ["Detector"]

#: Characters of context on each side of a value in an observation's excerpt.
_EXCERPT_CONTEXT = 12
_EXCERPT_VALUE = 64
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@dataclass(frozen=True, slots=True)
class _Seen:
    """An observation with the decode chain of its field, for the innermost-only rule."""

    observation: Observation
    chain: tuple[str, ...]
    contact: str = ""  # which canary contact a known `contacts` observation is about


def _alnum(value: bytes, index: int) -> bool:
    return 0 <= index < len(value) and value[index:index + 1].isalnum()


def _excerpt(value: bytes, start: int, end: int) -> str:
    """The value with a few characters of its field on each side. A word the window would
    cut is left out whole: its visible half could be the half of another value that the
    report's masking, which looks for whole values, would not recognise."""
    shown_end = min(end, start + _EXCERPT_VALUE)
    low, high = max(0, start - _EXCERPT_CONTEXT), min(len(value), shown_end + _EXCERPT_CONTEXT)
    if _alnum(value, low - 1) and _alnum(value, low):
        while low < start and _alnum(value, low):
            low += 1
    if _alnum(value, high - 1) and _alnum(value, high):
        while high > shown_end and _alnum(value, high - 1):
            high -= 1
    return " ".join(value[low:high].decode("utf-8", "replace").split())


class Detector:
    """Finds observations in the fields of each exchange."""

    def __init__(self, profile: DeviceProfile | None, *, pattern_mode: bool = True,
                 key_hints_path: str | None = None) -> None:
        self.known = KnownMatcher(profile_variants(profile), loose_phones(profile)) \
            if profile else None
        self.region = profile.region if profile else ""
        self.hints = load_key_hints(key_hints_path) if pattern_mode else None
        self.patterns = PatternFinder(self.hints, self.region) if self.hints else None
        self._array_keys = ArrayKeys(self.hints) if self.hints else None
        self._profile_values = _normalised_profile_values(profile, self.region)

    def observe(self, exchange: Exchange, fields: Iterable[Field]) -> list[Observation]:
        """Every observation in one exchange, de-duplicated."""
        if not exchange.readable:
            return _unreadable(exchange)
        fields = fields if isinstance(fields, (list, tuple)) else list(fields)
        if not fields:
            return []
        batch = FieldBatch(fields)
        known_by_field = self.known.search_batch(batch) if self.known else {}
        if self.patterns:
            self.patterns.note_host(exchange.host)
        searched = self.patterns.candidates(batch) if self.patterns else set()
        seen: list[_Seen] = []
        coordinates: list[tuple[Field, KnownMatch | PatternMatch]] = []
        for index in sorted(searched.union(known_by_field)):
            fld = fields[index]
            known = known_by_field.get(index, [])
            for match in known:
                if match.variant.data_type == "location":
                    coordinates.append((fld, match))
                else:
                    seen.append(_Seen(self._known(exchange, fld, match), fld.chain,
                                      match.variant.subject if match.variant.data_type
                                      == "contacts" else ""))
            if self.patterns and index in searched and is_text(fld.value):
                for found in self.patterns.search_field(batch, index):
                    if self._is_known(found, known) or _called_party(exchange, fld, found):
                        continue
                    if found.data_type in ("latitude", "longitude"):
                        coordinates.append((fld, found))
                    else:
                        seen.append(_Seen(self._pattern(exchange, fld, found), fld.chain))
        found_structures = self._structures(batch) if self.patterns else []
        seen.extend(_Seen(Observation(
            exchange=exchange.id, data_type=s.data_type, where=s.where, key=s.key,
            encodings=s.chain + (s.written,), match="pattern", value=s.value, confidence=0.9,
            detail=s.detail), s.chain) for s in found_structures)
        seen.extend(self._locations(exchange, coordinates))
        # innermost first: a number in the raw body gives way to the same number in its
        # JSON field, which in turn gives way to the address book it is an entry of
        kept = [item for item in _innermost(seen) if not _inside(item, found_structures)]
        out = [item.observation for item in _address_book(kept)]
        return _from_incomplete(out) if exchange.incomplete else out

    def _structures(self, batch: FieldBatch) -> list[StructureFinding]:
        """Address books and SMS archives: arrays of elements, and vCard text."""
        structures = StructureCollector(self._is_phone)
        for index in sorted(batch.fields_with(batch.lowered, b"begin:vcard")):
            if is_text(batch.fields[index].value):
                structures.add_vcard(batch.fields[index], batch.lowered_of(index))
        fields = batch.fields
        for index, entries in enumerate(self._array_keys.entries_of(fields)):
            if entries and len(fields[index].value) <= LONGEST_ELEMENT_VALUE and \
                    is_text(fields[index].value):
                structures.add_element(fields[index], entries)
        return structures.finish()

    # -- building observations ------------------------------------------------------------

    def _known(self, exchange: Exchange, fld: Field, match: KnownMatch) -> Observation:
        variant = match.variant
        written = tuple(t for t in (variant.spelling, match.written) if t)
        return Observation(exchange=exchange.id, data_type=variant.data_type, where=fld.where,
                           key=fld.key, encodings=fld.chain + written, match="known",
                           value=variant.value, hashed=variant.hashed,
                           excerpt=_excerpt(fld.value, match.start, match.end),
                           detail=match.detail)

    def _pattern(self, exchange: Exchange, fld: Field, found: PatternMatch) -> Observation:
        return Observation(exchange=exchange.id, data_type=found.data_type, where=fld.where,
                           key=fld.key, encodings=fld.chain + ("plain",), match="pattern",
                           value=found.value, confidence=found.confidence,
                           excerpt=_excerpt(fld.value, found.start, found.end),
                           detail=found.detail)

    def _locations(self, exchange: Exchange,
                   coordinates: list[tuple[Field, KnownMatch | PatternMatch]]) -> list[_Seen]:
        """Latitude and longitude seen in one exchange make one location observation:
        known ones (the profile's) and pattern ones (under lat/lon keys) separately."""
        out = []
        for known in (True, False):
            halves = {}
            for fld, match in coordinates:
                if isinstance(match, KnownMatch) == known:
                    half = (match.variant.subject if known else match.data_type)[:3]
                    # of the same coordinate in a body and in its JSON field, the inner
                    # one; of the whole URL and its query field, the query field
                    if half not in halves or _specificity(fld) > _specificity(halves[half][0]):
                        halves[half] = (fld, match)
            if "lat" not in halves or "lon" not in halves:
                continue
            (fld, lat), (lon_field, lon) = halves["lat"], halves["lon"]
            where = f"latitude in {fld.where}:{fld.key or '-'} ({lat.detail}), longitude " \
                    f"in {lon_field.where}:{lon_field.key or '-'} ({lon.detail})"
            if known:
                observation = self._known(exchange, fld, lat)
                observation = replace(observation, detail=where)
            else:
                observation = replace(self._pattern(exchange, fld, lat), data_type="location",
                                      value=f"{lat.value},{lon.value}", detail=where)
            out.append(_Seen(observation, fld.chain))
        return out

    # -- pattern matches that are really known values -------------------------------------

    def _is_known(self, found: PatternMatch, known: list[KnownMatch]) -> bool:
        """A pattern match the profile explains: its value is a profile value, or a known
        match in the same field overlaps it."""
        if any(k.start < found.end and found.start < k.end for k in known):
            return True
        return self._normalise(found.data_type, found.value) in self._profile_values

    def _normalise(self, data_type: str, value: str) -> str:
        if data_type == "phone_number":
            return e164_of(value, self.region or None) or _NOT_ALNUM.sub("", value.lower())
        return _NOT_ALNUM.sub("", value.lower())

    def _is_phone(self, text: str) -> bool:
        return bool(text) and bool(e164_of(text, self.region or None))


def _specificity(fld: Field) -> tuple[int, bool, bool]:
    """How precisely a field places a value: decoded deeper, then a part rather than the
    whole URL, then under a key rather than bare."""
    return len(fld.chain), fld.where != "url", bool(fld.key)


def _normalised_profile_values(profile: DeviceProfile | None, region: str) -> frozenset[str]:
    """Every profile value as pattern matches are compared with it."""
    if profile is None:
        return frozenset()
    out = set()
    phones = list(profile.phone_number) + [c.phone for c in profile.contacts if c.phone]
    for values in profile.identifiers().values():
        out.update(_NOT_ALNUM.sub("", v.lower()) for v in values)
    out.update(e164_of(p, region or None) for p in phones)
    out.update(v.lower() for v in profile.email)
    out.discard("")
    return frozenset(out)


def _inside(item: _Seen, structures: list[StructureFinding]) -> bool:
    """A pattern-matched number inside a recognised address book or SMS archive is one of
    its entries (a contact's, a sender's), not the handset's own: the structure says it."""
    o = item.observation
    return o.match == "pattern" and o.data_type in ("phone_number", "email") and any(
        s.covers(o.where, o.key, item.chain) for s in structures)


#: what an observation of an exchange with bytes missing from the capture says of it
INCOMPLETE_NOTE = "from an incomplete request (bytes missing from the capture)"


def _from_incomplete(observations: list[Observation]) -> list[Observation]:
    """Observations of a request cut by snaplen or a gap: marked as such in `detail`."""
    return [replace(o, detail=f"{o.detail}; {INCOMPLETE_NOTE}" if o.detail else INCOMPLETE_NOTE)
            for o in observations]


def _called_party(exchange: Exchange, fld: Field, found: PatternMatch) -> bool:
    """A number in a SIP request's URI or To header other than a REGISTER's is whom the
    phone calls or texts — a contact's number, not the phone's own (From, P-Asserted-
    Identity, P-Preferred-Identity and Contact name the phone's)."""
    return exchange.transport == "sip" and found.data_type == "phone_number" and \
        exchange.method != "REGISTER" and (
            fld.where == "url" or (fld.where == "header" and fld.key in ("to", "refer-to")))


def _unreadable(exchange: Exchange) -> list[Observation]:
    """An upload that could not be read is still an upload a policy may speak of."""
    if exchange.bytes_up <= 0:
        return []
    return [Observation(
        exchange=exchange.id, data_type="unreadable",
        where="sni" if exchange.transport in ("tls", "quic") else exchange.transport,
        key="", encodings=("encrypted",), match="known", value=exchange.host,
        detail=f"{exchange.bytes_up} bytes up could not be read")]


def _encloses(outer: _Seen, inner: _Seen) -> bool:
    """Whether `inner`'s field was decoded out of `outer`'s: a longer chain in the same
    place, or a part of a whole the decoder also yields (the URL holds the path segments and
    the query; the Cookie header holds the cookies)."""
    o, i = outer.observation, inner.observation
    if o.where == i.where:
        return len(inner.chain) > len(outer.chain) and \
            inner.chain[:len(outer.chain)] == outer.chain
    if o.where == "url":
        return i.where in ("path", "query")
    return o.where == "header" and o.key == "cookie" and i.where == "cookie"


def _innermost(seen: list[_Seen]) -> list[_Seen]:
    """One observation per (data type, value, where, key, encodings); of the same value
    found in a field and again in a field decoded from it, only the inner one."""
    unique: dict[tuple, _Seen] = {}
    for item in seen:
        o = item.observation
        unique.setdefault((o.data_type, o.value, o.where, o.key, o.encodings), item)
    by_value: dict[tuple[str, str], list[_Seen]] = {}
    for item in unique.values():
        by_value.setdefault((item.observation.data_type, item.observation.value),
                            []).append(item)
    kept = []
    for item in unique.values():
        same = by_value[(item.observation.data_type, item.observation.value)]
        if not any(_encloses(item, other) for other in same):
            kept.append(_with_context(item, [o for o in same if _encloses(o, item)]))
    return kept


def _with_context(item: _Seen, outers: list[_Seen]) -> _Seen:
    """`item` with the excerpt of the nearest field it was decoded from, when its own field
    holds the value and nothing around it (a form or JSON field): a reader sees the value
    among its neighbours (`imei=…&phone=…`), as the upload carried it."""
    own = item.observation.excerpt
    wider = [o for o in outers if len(o.observation.excerpt) > len(own)]
    if not wider:
        return item
    nearest = max(wider, key=lambda o: len(o.chain))
    return replace(item, observation=replace(item.observation,
                                             excerpt=nearest.observation.excerpt))


def _address_book(seen: list[_Seen]) -> list[_Seen]:
    """With 2 or more canary contacts in one exchange, say it is an address-book upload."""
    contacts = {item.contact for item in seen if item.contact}
    if len(contacts) < 2:
        return seen
    prefix = f"address-book upload ({len(contacts)} contacts): "
    return [replace(item, observation=replace(item.observation,
                                              detail=prefix + item.observation.detail))
            if item.contact else item for item in seen]

"""Address books and SMS archives recognised by their structure, without canaries.

Fields arrive flattened (`$.contacts[3].name`, `$.contacts[3].phones[0].value`), so each
field with an array index in its key is filed under every array it sits in: the key before
the `[n]`, the element n, and the rest of the key. An array whose elements carry a
name-like and a phone-valid field (3 or more of them) is an address book; one whose
elements carry an address, a body and a date is an SMS archive. vCard text is an address
book too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from auditor.detect.hints import KeyHints, normalise_key
from auditor.model import Field

MIN_CONTACTS = 3
MIN_MESSAGES = 1
_INDEX = re.compile(r"\[(\d+)\]")
_VCARD = re.compile(rb"begin:vcard(.*?)end:vcard", re.DOTALL)
_VCARD_TEL = re.compile(rb"^tel[^:\n]*:([^\r\n]+)", re.MULTILINE)
LONGEST_ELEMENT_VALUE = 512
_CACHE_LIMIT = 65536
_KEY_OF = attrgetter("key")


@dataclass
class _Array:
    """What the elements of one array hold, by element index and role."""

    where: str
    key: str  # the array's path, e.g. "$.contacts"
    chain: tuple[str, ...] | None = None  # the chain all its fields share
    elements: dict[int, dict[str, str]] = field(default_factory=dict)

    def add(self, index: int, role: str, text: str, chain: tuple[str, ...]) -> None:
        self.elements.setdefault(index, {}).setdefault(role, text)
        if self.chain is None:
            self.chain = chain
        else:
            common = 0
            while common < min(len(chain), len(self.chain)) and \
                    chain[common] == self.chain[common]:
                common += 1
            self.chain = self.chain[:common]


@dataclass(frozen=True, slots=True)
class StructureFinding:
    """An address book or SMS archive seen in one exchange."""

    data_type: str  # contacts | sms
    where: str
    key: str  # the array's path, or the key of the field holding vCard text
    chain: tuple[str, ...]  # the chain its fields share
    written: str  # "structure" (an array of entries) or "vcard"
    value: str  # the first phone number or sender in it
    count: int
    detail: str

    def covers(self, where: str, key: str, chain: tuple[str, ...]) -> bool:
        """Whether a field at (where, key, chain) is part of this address book/archive."""
        if where != self.where:
            return False
        if self.written == "structure":
            return key.startswith(self.key + "[")
        inner = chain[len(self.chain):]
        return key == self.key or (chain[:len(self.chain)] == self.chain and
                                   any(token.startswith("vcard") for token in inner))


#: (array key, element index, roles) for each array a flattened key is an element of.
ArrayEntries = tuple[tuple[str, int, tuple[str, ...]], ...]


class ArrayKeys:
    """Which arrays a flattened key is an element of, and in which roles; cached, as the
    same keys come in every upload of an app (bounded: indexes make keys unbounded)."""

    def __init__(self, hints: KeyHints) -> None:
        self.roles = hints.structure
        self._entries: dict[str, ArrayEntries] = {}

    def entries_of(self, fields: Sequence[Field]) -> list[ArrayEntries]:
        """For each field, (array key, element index, roles) for every `[n]` in its key
        whose rest names a role: `$.contacts[3].name` -> (("$.contacts", 3,
        ("contact_name",)),); looked up with C-level `map`, parsed on a miss."""
        keys = list(map(_KEY_OF, fields))
        found = list(map(self._entries.get, keys))
        if None in found:
            if len(self._entries) >= _CACHE_LIMIT:
                self._entries.clear()
            for index, entries in enumerate(found):
                if entries is None:
                    found[index] = self._entries[keys[index]] = tuple(
                        self._parse(keys[index])) if "[" in keys[index] else ()
        return found

    def _parse(self, key: str) -> Iterator[tuple[str, int, tuple[str, ...]]]:
        for index_match in _INDEX.finditer(key):
            rest = key[index_match.end():].lstrip(".")
            name = normalise_key(rest) if rest else ""
            roles = tuple(role for role, names in self.roles.items() if name in names) \
                if name else ()
            if roles:
                yield key[:index_match.start()], int(index_match.group(1)), roles


class StructureCollector:
    """Collects the array elements of one exchange's fields, then judges each array."""

    def __init__(self, is_phone: Callable[[str], bool]) -> None:
        self.is_phone = is_phone
        self.arrays: dict[tuple[str, str], _Array] = {}
        self.vcards: list[StructureFinding] = []

    def add_element(self, fld: Field, entries: ArrayEntries) -> None:
        """File a field under the arrays `ArrayKeys.entries` says it is an element of."""
        text = fld.text.strip()
        for array_key, index, roles in entries:
            array = self.arrays.setdefault((fld.where, array_key),
                                           _Array(fld.where, array_key))
            for role in roles:
                array.add(index, role, text, fld.chain)

    def add_vcard(self, fld: Field, lowered: bytes) -> None:
        """A field holding `begin:vcard` text (`lowered` is its value lower-cased)."""
        cards = _VCARD.findall(lowered)
        phones = [m.decode("utf-8", "replace").strip()
                  for card in cards for m in _VCARD_TEL.findall(card)]
        if phones:
            self.vcards.append(StructureFinding(
                "contacts", fld.where, fld.key, fld.chain, "vcard", phones[0], len(cards),
                f"vCard text: {len(cards)} cards, {len(phones)} phone numbers"))

    def finish(self) -> list[StructureFinding]:
        out = list(self.vcards)
        for array in self.arrays.values():
            contacts = [e["contact_phone"] for e in array.elements.values()
                        if _has_text(e.get("contact_name", ""))
                        and self.is_phone(e.get("contact_phone", ""))]
            if len(contacts) >= MIN_CONTACTS:
                out.append(StructureFinding(
                    "contacts", array.where, array.key, array.chain or (), "structure",
                    contacts[0], len(contacts),
                    f"address-book structure: {len(contacts)} entries with name and phone "
                    f"at {array.key}[*]"))
            messages = [e["sms_address"] for e in array.elements.values()
                        if _has_text(e.get("sms_body", ""))
                        and sum(c.isdigit() for c in e.get("sms_address", "")) >= 3
                        and any(c.isdigit() for c in e.get("sms_date", ""))]
            if len(messages) >= MIN_MESSAGES:
                out.append(StructureFinding(
                    "sms", array.where, array.key, array.chain or (), "structure",
                    messages[0], len(messages),
                    f"SMS structure: {len(messages)} messages with address, body and date "
                    f"at {array.key}[*]"))
        return out


def _has_text(text: str) -> bool:
    return any(c.isalpha() for c in text)

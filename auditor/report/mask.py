"""Masking of personal data in reports: a report is itself personal data.

`mask` shortens one value by its data type so a reader can still tell what it is (the TAC of
an IMEI, the country and network of a phone number, the OUI of a MAC address) but not whose
it is; the last digits stay, so a device's two IMEIs read apart. Where two values of one
report would still mask alike, `Masker` adds a short tag to each — `#` and four hex digits
of an HMAC of the value under a salt derived from all the report's unmasked values — that
tells them apart without saying anything of either (MASKING_NOTE says this to readers). `Masker` finds the values of a device — in every spelling a report may quote them:
plain (any case), phone numbers with any separators or prefix, MAC addresses with any
separator, base64, hex — inside free text such as URLs, excerpts and headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

STAR = "*"
ELLIPSIS = "…"
#: Digits kept at the end of a number or random identifier, so two values read apart.
_TAIL = 2
#: Hex digits of the tag that tells apart two values masking alike.
_TAG_LENGTH = 4

#: How masking works, in the words every report's appendix uses.
MASKING_NOTE = (
    "Values of the device are masked: an IMEI keeps its TAC (the model) and its last two "
    "digits, an IMSI its country and network code and last two digits, an ICCID its issuer "
    "and last two digits, a phone number its country and network digits and last three, a "
    "MAC address its maker (OUI), random identifiers their first four and last two "
    "characters, an e-mail address its first two letters and domain, names and texts their "
    "first three letters, coordinates one decimal. At least five digits (or characters) "
    "stay hidden. Where two different values of this report would still read alike, each "
    "carries a tag such as #3fa0: the first four hex digits of an HMAC-SHA256 of the value "
    "under a salt derived from all of this report's unmasked values together. Equal tags "
    "mean equal values within this report; the same inputs give the same tags, but nobody "
    "without the device's values can compute a tag, nor compare tags across reports."
)

#: Numbers whose leading digits say what, not who (IMEI: TAC; IMSI: MCC+MNC; ICCID: issuer).
_STRUCTURED_NUMBERS = frozenset({"imei", "imsi", "iccid"})
#: Random identifiers: any long prefix would identify the unit, so keep only a short one.
_RANDOM_IDS = frozenset({"android_id", "advertising_id", "serial_number"})
#: Values shorter than this are not searched for in free text (they would match everywhere).
_MIN_SEARCH_LENGTH = 4
_PHONE_CHARS = re.compile(r"^[+\d\s\-.()/]+$")
_DECIMAL = re.compile(r"-?\d+\.\d+")
_HEX_DIGIT = re.compile(r"[0-9a-fA-F]")
#: A run of digits as phone numbers are written: optional +, digits, common separators.
_PHONE_RUN = re.compile(r"\+?\d[\d\s\-.()]{4,}\d")
#: Trailing digits two spellings of one phone number always share (subscriber number).
_PHONE_TAIL = 8
_NON_DIGITS = re.compile(r"\D")
#: A hex digest (16 hex digits or more) or a base64 one (22 characters or more).
_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{16,}|[A-Za-z0-9+/_-]{22,}={0,2})"
                     r"(?![0-9A-Za-z])")
#: Lower-cases ASCII letters only, so a lowered text keeps every index of the original.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def mask(value: str, data_type: str) -> str:
    """`value` masked by its data type, e.g. IMEI `8672030241*****`, phone `+86156*****810`."""
    if not value or data_type == "unreadable":  # an unreadable upload's value is its host
        return value
    if data_type == "phone_number" or (data_type == "contacts" and _looks_like_phone(value)):
        return _mask_phone(value)
    if data_type in _STRUCTURED_NUMBERS:
        return _mask_keep_ends(value, _two_thirds(len(value)))
    if data_type == "email":
        return _mask_email(value)
    if data_type == "mac_address":
        return _mask_mac(value)
    if data_type in _RANDOM_IDS:
        if len(value) >= 12:
            return _mask_keep_ends(value, min(4, len(value) // 3) + _TAIL)
        return _mask_keep_prefix(value, min(4, len(value) // 3))
    if data_type in ("sms", "contacts"):
        return value[:3] + ELLIPSIS if len(value) > 3 else ELLIPSIS
    if data_type == "location":
        return _DECIMAL.sub(lambda m: f"{float(m.group()):.1f}", value)
    return _mask_keep_prefix(value, len(value) // 3)


def mask_in_text(text: str, values: Iterable[tuple[str, str]]) -> str:
    """`text` with every spelling of each `(value, data_type)` in it masked."""
    return Masker(values).text(text)


def _two_thirds(length: int) -> int:
    return (length * 2) // 3 if length >= 9 else length // 3


def _looks_like_phone(value: str) -> bool:
    return bool(_PHONE_CHARS.match(value)) and sum(c.isdigit() for c in value) >= 6


def _mask_keep_prefix(value: str, keep: int) -> str:
    """Keep `keep` characters, star the rest but leave separators (`-`, `:`) in place."""
    out, kept = [], 0
    for char in value:
        if char in "-: ":
            out.append(char)
        elif kept < keep:
            out.append(char)
            kept += 1
        else:
            out.append(STAR)
    return "".join(out)


def _mask_keep_ends(value: str, keep: int) -> str:
    """Keep `keep` characters: all but the last `_TAIL` at the start, those at the end;
    separators stay. As many characters are hidden as `_mask_keep_prefix(value, keep)`
    hides, but two values differing at their end read apart."""
    chars = [c for c in value if c not in "-: "]
    if len(chars) - keep < 5 or keep <= _TAIL:
        return _mask_keep_prefix(value, keep)
    head, tail_from = keep - _TAIL, len(chars) - _TAIL
    out, index = [], 0
    for char in value:
        if char in "-: ":
            out.append(char)
            continue
        out.append(char if index < head or index >= tail_from else STAR)
        index += 1
    return "".join(out)


def _mask_phone(value: str) -> str:
    """Keep country/network digits and the last three; at least five digits are hidden."""
    digits = sum(c.isdigit() for c in value)
    tail = 3 if digits >= 9 else 1
    head = max(0, min(5, digits - tail - 5))
    out, index = [], 0
    for char in value:
        if char.isdigit():
            out.append(char if index < head or index >= digits - tail else STAR)
            index += 1
        else:
            out.append(char)
    return "".join(out)


def _mask_email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at:
        return _mask_keep_prefix(value, len(value) // 3)
    # A fixed number of stars: the length of the name is a clue too.
    return f"{local[:2]}{STAR * 5}@{domain}"


def _mask_mac(value: str) -> str:
    """Keep the OUI (the maker); hide the device part."""
    out, hex_seen = [], 0
    for char in value:
        if _HEX_DIGIT.match(char):
            out.append(char if hex_seen < 6 else STAR)
            hex_seen += 1
        else:
            out.append(char)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of text; `secret` pieces carry (the spelling of) a value of the device."""

    text: str
    secret: bool = False
    value: str = ""  # the device value this piece spells ("" for plain text)


def salt_for(values: Iterable[tuple[str, str]]) -> bytes:
    """A salt only the holder of every value can compute: the same for the same values
    (so reports of the same inputs are byte-for-byte equal), unknown to their readers."""
    material = "\0".join(sorted({f"{t}:{str(v).strip()}" for v, t in values}))
    return hashlib.sha256(b"handset-auditor mask salt\0" + material.encode()).digest()


class Masker:
    """Finds a device's values in free text, in every spelling, and masks or marks them.

    All literal spellings go into one Aho-Corasick automaton built once per report (a
    regular-expression alternation of them costs ~150 µs per URL); phone numbers, whose
    separators vary, are found by a digit-run expression only in text that holds their
    trailing digits. Matching ignores ASCII case.
    """

    def __init__(self, values: Iterable[tuple[str, str]], *, reveal: bool = False,
                 salt: bytes | None = None) -> None:
        self.reveal = reveal
        values = [(str(value).strip(), data_type) for value, data_type in values]
        self._salt = salt_for(values) if salt is None else salt
        self._phones: list[tuple[str, str]] = []  # (trailing digits, value)
        self._automaton = ahocorasick.Automaton()
        self._tags = self._collision_tags(values)
        seen: set[tuple[str, str]] = set()
        for value, data_type in values:
            if len(value) < _MIN_SEARCH_LENGTH or (value, data_type) in seen:
                continue
            seen.add((value, data_type))
            if data_type == "phone_number" or (data_type == "contacts"
                                               and _looks_like_phone(value)):
                digits = re.sub(r"\D", "", value)
                if len(digits) >= 6:
                    self._phones.append((digits[-_PHONE_TAIL:], value))
                    continue
            for spelling, literal in _spellings(value, data_type):
                key = literal.translate(_ASCII_LOWER)
                if key not in self._automaton:
                    self._automaton.add_word(key, (len(key), value, data_type, spelling))
        self._has_words = len(self._automaton) > 0
        if self._has_words:
            self._automaton.make_automaton()

    def segments(self, text: str) -> list[Segment]:
        """`text` split into plain and secret pieces; secret pieces masked unless revealing."""
        if not text:
            return []
        out: list[Segment] = []
        last = 0
        for start, end, value, replacement in self._matches(text):
            if start > last:
                out.append(Segment(text[last:start]))
            out.append(Segment(text[start:end] if self.reveal else replacement, True, value))
            last = end
        if last < len(text):
            out.append(Segment(text[last:]))
        return out

    def context(self, excerpt: str, *, hashed: bool = False) -> list[Segment]:
        """An observation's excerpt as segments. For a hashed value the digest in it is
        masked too: a digest of a phone number or an IMEI is as good as the value to
        anyone who tries every number."""
        segments = self.segments(excerpt)
        if not hashed or self.reveal:
            return segments
        out: list[Segment] = []
        for segment in segments:
            if segment.secret:
                out.append(segment)
                continue
            last = 0
            for m in _DIGEST.finditer(segment.text):
                if m.start() > last:
                    out.append(Segment(segment.text[last:m.start()]))
                out.append(Segment(m.group()[:4] + ELLIPSIS + "(digest)", True))
                last = m.end()
            if last < len(segment.text):
                out.append(Segment(segment.text[last:]))
        return out

    def context_text(self, excerpt: str, *, hashed: bool = False) -> str:
        return "".join(s.text for s in self.context(excerpt, hashed=hashed))

    def text(self, text: str) -> str:
        """`text` with every device value in it masked (unchanged when revealing)."""
        if self.reveal or not text:
            return text
        return "".join(s.text for s in self.segments(text))

    def value(self, value: str, data_type: str) -> str:
        """One value of the device, masked by its type unless revealing."""
        if self.reveal:
            return value
        return mask(value, data_type) + self._tags.get(str(value).strip(), "")

    def tag(self, value: str) -> str:
        """The tag telling `value` apart from another value masking alike, or ""."""
        return self._tags.get(str(value).strip(), "")

    def _collision_tags(self, values: list[tuple[str, str]]) -> dict[str, str]:
        """A tag for every value that masks like a different value of the report."""
        by_mask: dict[str, set[str]] = {}
        for value, data_type in values:
            if value and data_type != "unreadable":
                by_mask.setdefault(mask(value, data_type), set()).add(value)
        tags: dict[str, str] = {}
        for alike in by_mask.values():
            # a value inside another (a contact's name, and name with number) is one thing
            whole = {v: max((w for w in alike if v in w), key=len) for v in alike}
            if len(set(whole.values())) < 2:
                continue
            for value, key in whole.items():
                digest = hmac.new(self._salt, key.encode(), hashlib.sha256).hexdigest()
                tags[value] = "#" + digest[:_TAG_LENGTH]
        return tags

    def _matches(self, text: str) -> list[tuple[int, int, str, str]]:
        """Non-overlapping (start, end, value, masked text), leftmost-longest first."""
        found: list[tuple[int, int, str, str]] = []
        if self._has_words:
            lowered = text.translate(_ASCII_LOWER)
            for last, (length, value, data_type, spelling) in self._automaton.iter(lowered):
                start, end = last - length + 1, last + 1
                if spelling == "prefix":  # a coordinate: take all its further decimals
                    while end < len(text) and text[end].isdigit():
                        end += 1
                found.append((start, end, value, _masked(text[start:end], data_type, spelling)
                              + self._tags.get(value, "")))
        if self._phones:
            digits = _NON_DIGITS.sub("", text)
            if any(tail in digits for tail, _ in self._phones):
                for m in _PHONE_RUN.finditer(text):
                    run_digits = _NON_DIGITS.sub("", m.group())
                    for tail, value in self._phones:
                        if run_digits.endswith(tail):
                            found.append((m.start(), m.end(), value,
                                          _mask_phone(m.group()) + self._tags.get(value, "")))
                            break
        found.sort(key=lambda f: (f[0], -f[1]))
        chosen: list[tuple[int, int, str, str]] = []
        for match in found:
            if not chosen or match[0] >= chosen[-1][1]:
                chosen.append(match)
        return chosen


def _masked(found: str, data_type: str, spelling: str) -> str:
    if spelling == "encoded":
        # A base64 or hex spelling is as revealing as the value itself: keep a third.
        return _mask_keep_prefix(found, len(found) // 3)
    return mask(found, data_type)


def _spellings(value: str, data_type: str) -> list[tuple[str, str]]:
    """(kind, literal) of the spellings of `value` a report may quote; kind is `plain`,
    `encoded` (base64, hex) or `prefix` (a coordinate's first three decimals)."""
    out = [("plain", value)]
    if data_type == "location":
        # A coordinate is the same place from the third decimal on, however long it is written.
        for number in _DECIMAL.findall(value):
            whole, _, decimals = number.partition(".")
            if len(decimals) >= 3:
                out.append(("prefix", f"{whole}.{decimals[:3]}"))
        return out
    if data_type == "mac_address":
        pairs = re.findall(r"[0-9a-fA-F]{2}", value)
        if len(pairs) == 6:
            out += [("plain", separator.join(pairs)) for separator in (":", "-", "")]
    raw = value.encode("utf-8")
    if len(raw) >= 6:
        # Only whole 3-byte groups encode the same whatever follows the value.
        whole = len(raw) // 3 * 4
        for encoded in {base64.b64encode(raw).decode()[:whole],
                        base64.urlsafe_b64encode(raw).decode()[:whole]}:
            out.append(("encoded", encoded))
        out.append(("encoded", raw.hex()))
    return out

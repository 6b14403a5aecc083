"""Pattern mode: identifiers found by their shape and the key they were sent under.

Each finder is a compiled regex run only when a cheap prefilter says it can match (an
`@` for e-mail, a `-` for UUIDs, a hint word for hint-only shapes). Shapes that are weak
evidence on their own (16 hex digits, a UUID, a bare phone-like number) are only reported
under a key hint (rules/key-hints.yaml): the field's key, or the key written just before
the value in unparsed text. Placeholders are never reported, nor a shape alone under a
key naming an order, payment or other non-identifier number (`other_numbers`), nor the
`user@host` of a SIP/IMS address as e-mail. The prefilters run once per exchange over all
its fields joined (`candidates`, see batch.py); only the fields they pass are searched.

Confidence (in (0, 1)) says how much the shape alone proves:
  0.95  the key names the identifier and the shape fits it exactly (Luhn-valid IMEI, ...)
  0.9   a URI that says what it is (tel:, sip:, urn:gsma:imei:), e-mail addresses
  0.8   the key names it, the shape fits loosely (IMEI failing Luhn, 14 digits, MEID)
  0.75  a MAC with separators under no key hint; coordinates under lat/lon keys; 16 hex
        digits under a generic device-id key (an Android ID's shape); a mobile number in
        national form with its trunk prefix under an account-id key
  0.7   shape alone: Luhn-valid 15 digits with a reporting-body TAC; "lat,lon" text pairs;
        a 32/40/64-hex digest under a device-id key (`hashed_id`); a mobile number under
        an account-id key in a national form without trunk prefix, or international
        without `+`
  0.6   a mobile number under an account-id key without the trunk prefix its country has

National numbers are read in the capture's likely region (`likely_region`): the profile's,
else the country of the last MCC seen (a 3GPP host name, an MCC key, an IMSI), else of the
last carrier host the phone talked to, else of the last international number sent. What an
exchange teaches (a `Fact`) does not depend on what was learned before it; only the decisions
that consult it do, and `PatternFinder.learning` records both, so that `--jobs` can analyse
exchanges out of order and re-analyse, in capture order, the few that consulted it
(auditor.jobs). An e-mail address at the receiver's own registrable
domain is the vendor's, not the user's (`_same_site`), unless at a mailbox provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter

import phonenumbers
from ahocorasick_rs import BytesAhoCorasick

from auditor.detect.batch import FieldBatch
from auditor.detect.hints import HINTED_KINDS, KeyHints, local_key
from auditor.detect.identifiers import (
    CARRIER_DOMAINS,
    MCC_REGIONS,
    REPORTING_BODIES,
    luhn_valid,
    plausible_iccid,
    plausible_imei,
    plausible_imsi,
)
from auditor.model import Field

_ZEROS = re.compile(rb"0*")
_LONGEST_DIGIT_RUN = 22
_IMEI_URN = re.compile(rb"urn:gsma:imei:([0-9]{8})-?([0-9]{6})-?([0-9])", re.IGNORECASE)
_URI_USER = re.compile(rb"(?:tel|sips?):(\+?[0-9][0-9\-. ()]{4,24}[0-9])", re.IGNORECASE)
_UUID = re.compile(rb"(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
                   rb"-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])")
_HEX16 = re.compile(rb"(?<![0-9A-Fa-f])[0-9A-Fa-f]{16}(?![0-9A-Fa-f])")
_HEX14 = re.compile(rb"(?<![0-9A-Fa-f])[0-9A-Fa-f]{14}(?![0-9A-Fa-f])")
_HEX12 = re.compile(rb"(?<![0-9A-Fa-f])[0-9A-Fa-f]{12}(?![0-9A-Fa-f])")
_MAC_SEPARATED = re.compile(rb"(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}"
                            rb"(?:\1[0-9A-Fa-f]{2}){4}(?![0-9A-Fa-f:-])")
_MAC_CISCO = re.compile(rb"(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
                        rb"(?![0-9A-Fa-f.])")
_EMAIL = re.compile(rb"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}"
                    rb"(?:\.[A-Za-z0-9-]{1,63})*\.([A-Za-z]{2,24})(?![A-Za-z0-9-])")
_PHONEISH = re.compile(rb"(?<![0-9A-Za-z+])\+?[0-9][0-9\-. ()]{5,18}[0-9](?![0-9])")
_COORDINATE = re.compile(r"[+-]?[0-9]{1,3}\.[0-9]{3,}")
_COORDINATE_PAIR = re.compile(rb"(?<![0-9.])(-?[0-9]{1,2}\.[0-9]{4,})\s*,\s*"
                              rb"(-?[0-9]{1,3}\.[0-9]{4,})(?![0-9])")
_KEYED_COORDINATE = re.compile(rb"(lat|latitude|lon|lng|long|longitude)[\"']?\s*[:=]\s*"
                               rb"[\"']?(-?[0-9]{1,3}\.[0-9]{3,})(?![0-9])", re.IGNORECASE)
#: A binary field (an image, a protobuf blob) is not searched for shapes.
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a]")
#: `icon@2x.png` has the shape of an e-mail address.
_FILE_SUFFIXES = frozenset({b"png", b"jpg", b"jpeg", b"gif", b"webp", b"svg", b"js", b"css",
                            b"json", b"html", b"xml", b"txt", b"so", b"apk", b"dex"})
_LONGEST_PHONE_FIELD = 40
_LONGEST_KEYED_VALUE = 64
_COORDINATE_KINDS = frozenset({"latitude", "longitude"})
#: Kinds of a key that make a run of digits an identifier whatever its shape says.
_NUMBER_KINDS = frozenset({"imei", "meid", "imsi", "iccid"})
#: Shapes reported only under a key hint: (regex, hint kind, confidence).
_HINTED_SHAPES = ((_UUID, "advertising_id", 0.95), (_HEX16, "android_id", 0.9),
                  (_HEX14, "meid", 0.8), (_HEX12, "mac_address", 0.9))


def _classes(mapping: dict[bytes, bytes]) -> bytes:
    """A translate table sending each byte of a key to its class byte, all else to ' '."""
    table = bytearray(b" " * 256)
    for members, cls in mapping.items():
        for member in members:
            table[member] = cls[0]
    return bytes(table)


_DIGIT_CLASSES = _classes({b"0123456789": b"0", b".": b".", b",": b","})
_HEX_CLASSES = _classes({b"0123456789abcdefABCDEF": b"h", b":-": b":", b".": b"."})
_DIGITS14 = b"0" * 14
_DIGITS8 = b"0" * 8
_MAC_CLASSES = b"hh:hh:hh:hh:hh:hh"
_CISCO_CLASSES = b"hhhh.hhhh.hhhh"
_HEX12_CLASSES = b"h" * 12
_UUID_CLASSES = b"hhhhhhhh:hhhh:hhhh:hhhh:hhhhhhhhhhhh"
#: Words whose presence in a field lets `search` find something there whatever its key.
_TEXT_GATES = BytesAhoCorasick([b"urn:gsma:imei", b"tel:", b"sip", b"lat", b"@"])
_MAC_GATES = BytesAhoCorasick([_MAC_CLASSES, _CISCO_CLASSES])
_KEY_OF = attrgetter("key")
_KEY_CACHE_LIMIT = 65536
_SHAPES = {"advertising_id": "advertising-ID UUID", "android_id": "Android ID (16 hex digits)",
           "meid": "MEID (14 hex digits)", "mac_address": "bare MAC (12 hex digits)"}
#: A hex token of an Android ID's or a digest's length, alone (not inside a longer token).
_HEX_ID = re.compile(rb"(?<![0-9A-Za-z_-])(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32}|"
                     rb"[0-9A-Fa-f]{16})(?![0-9A-Za-z_-])")
_DIGEST_NAMES = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}
_HEX16_CLASSES = b"h" * 16
#: A number as an account id holds one: digits, maybe spaced, maybe after + or 00.
_ACCOUNT_NUMBER = re.compile(rb"\+?[0-9][0-9 \-]{5,16}[0-9]")
_MCC_HOST = re.compile(r"\bmcc([0-9]{3})\.")
#: the domain of an IMS private identity (`<IMSI>@ims.mnc001.mcc262.3gppnetwork.org`)
_IMS_DOMAIN = re.compile(rb"@[A-Za-z0-9.-]*3gppnetwork\.org", re.IGNORECASE)
_MCC_VALUE = re.compile(rb"\s*[\"']?([0-9]{3})(?:[0-9]{2,3})?(?![0-9])")
#: Mailbox providers: an address there is a user's even when sent to the provider itself.
_MAILBOX_PROVIDERS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com",
    "gmx.de", "gmx.net", "web.de", "t-online.de", "mail.ru", "yandex.ru", "qq.com", "163.com",
    "126.com", "sina.com", "foxmail.com", "naver.com"})
#: Second-level labels under which a country's registrable domains sit (`example.co.uk`).
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go"})


@dataclass(frozen=True, slots=True)
class PatternMatch:
    """Something that looks like an identifier at [start, end) of a field."""

    data_type: str  # a data type, or "latitude"/"longitude" awaiting its pair
    value: str  # as found
    start: int
    end: int
    confidence: float
    detail: str


#: What an exchange teaches about the capture's region, whatever was learned before it:
#: ("mcc", region, why), ("carrier", region, why) or ("number", region, "") — the country of
#: an international number sent.
Fact = tuple[str, str, str]


@dataclass(slots=True)
class RegionState:
    """What a capture has taught so far about the region of its national numbers."""

    mcc: tuple[str, str] | None = None  # (region, what said so) from the last MCC
    carrier: tuple[str, str] | None = None  # (region, host) of the last carrier host
    regions: list[str] = field(default_factory=list)  # of international numbers, latest first

    def apply(self, fact: Fact) -> None:
        kind, region, why = fact
        if kind == "mcc":
            self.mcc = (region, why)
        elif kind == "carrier":
            self.carrier = (region, why)
        elif region not in self.regions[:1]:
            self.regions = [region] + [r for r in self.regions if r != region][:2]

    def copy(self) -> RegionState:
        return RegionState(self.mcc, self.carrier, list(self.regions))


@dataclass(slots=True)
class Lesson:
    """What one exchange's analysis learned (its facts, in order) and whether a decision
    consulted what was learned before; `start` is the state it began with when it did."""

    facts: list[Fact] = field(default_factory=list)
    consulted: bool = False
    start: RegionState | None = None


def is_text(value: bytes) -> bool:
    """Whether a field is text worth searching for shapes (no control bytes up front)."""
    return not _BINARY.search(value, 0, 512)


class PatternFinder:
    """All pattern detectors over one field; `candidates` says which fields to search."""

    def __init__(self, hints: KeyHints, region: str = "") -> None:
        self.hints = hints
        self.region = region or None
        self.state = RegionState()  # what the capture taught so far (see `learning`)
        self._lesson: Lesson | None = None
        self._start: RegionState | None = None
        self.receiver = ""  # the host of the exchange being searched (set by the detector)
        self._key_hinted: dict[str, bool] = {}
        # hint words of 3+ letters, found in text with one automaton pass (shorter words
        # such as `mb` or `ia` occur in any text and only count as a field's own key)
        words = {w: kind for kind in HINTED_KINDS for w in hints.words(kind) if len(w) >= 3}
        self._word_kinds = list(words.values())
        self._words = BytesAhoCorasick(list(words)) if words else None

    def candidates(self, batch: FieldBatch) -> set[int]:
        """Indexes of the fields `search` can find anything in: those under
        a hinted key, and those that pass one of its gates, each gate run once over the
        joined fields. Every other field would pass none of `search`'s gates."""
        fields = batch.fields
        found = {index for index in compress(range(len(fields)), self._hinted_keys(fields))
                 if len(fields[index].value) <= _LONGEST_KEYED_VALUE}
        digits = batch.translated(_DIGIT_CLASSES)
        hexes = batch.translated(_HEX_CLASSES)
        found |= batch.fields_matching(batch.lowered, _TEXT_GATES)
        # `find` crawls through the long hex runs of hashes and tokens looking for a MAC's
        # shape (every `h` may start one); the automaton does both shapes in half the time
        found |= batch.fields_matching(hexes, _MAC_GATES)
        found |= batch.fields_with(digits, _DIGITS14) | batch.fields_with(digits, b".0000")
        # hint words in a field's text count only after `key=` or `key:` (_text_kinds)
        keyed_text = batch.fields_with(batch.buffer, b"=") | \
            batch.fields_with(batch.buffer, b":")
        for index in keyed_text - found:
            start, end = batch.starts[index], batch.starts[index + 1] - 1
            if hexes.find(_HEX12_CLASSES, start, end) >= 0 or \
                    digits.find(b"0000", start, end) >= 0:
                found.add(index)
        return found

    def _hinted_keys(self, fields: Sequence[Field]) -> list[bool]:
        """Whether each field's key names a kind of identifier, from a cache (the same keys
        come in every upload), looked up with C-level `map`."""
        keys = list(map(_KEY_OF, fields))
        flags = list(map(self._key_hinted.get, keys))
        if None in flags:
            if len(self._key_hinted) >= _KEY_CACHE_LIMIT:  # array paths make keys unbounded
                self._key_hinted.clear()
            for index, flag in enumerate(flags):
                if flag is None:
                    flags[index] = self._key_hinted[keys[index]] = \
                        bool(self.hints.kinds_of(keys[index]))
        return flags

    def search_field(self, batch: FieldBatch, index: int) -> list[PatternMatch]:
        """Every pattern match in one field of a batch (one `candidates` named)."""
        fld = batch.fields[index]
        return self.search(fld.key, fld.value, batch.slice(batch.lowered, index),
                           batch.slice(batch.translated(_DIGIT_CLASSES), index),
                           batch.slice(batch.translated(_HEX_CLASSES), index))

    def search(self, key: str, value: bytes, lowered: bytes, digits: bytes,
               hexes: bytes) -> list[PatternMatch]:
        """Every pattern match in one field; `lowered`, `digits` and `hexes` are its value
        lower-cased and translated to character classes (_DIGIT_CLASSES, _HEX_CLASSES)."""
        # a key names the field's value, not every number inside a long text under it
        key_kinds = self.hints.kinds_of(key) if len(value) <= _LONGEST_KEYED_VALUE \
            else frozenset()
        # Cheap gates: each regex runs only when a plain `in` over a translated copy of
        # the field (digits -> 0, hex digits -> h, separators kept) says it can match.
        text_kinds: frozenset[str] | None = None
        out: list[PatternMatch] = []

        def hinted(kind: str) -> bool:
            nonlocal text_kinds
            if kind in key_kinds:
                return True
            if text_kinds is None:
                text_kinds = self._text_kinds(value, lowered)
            return kind in text_kinds

        if _DIGITS14 in digits:
            self._digit_runs(key, value, digits, key_kinds, out)
        if _DIGITS8 in digits and b"urn:gsma:imei" in lowered:  # a TAC is 8 digits
            self._imei_urns(value, out)
        if b"tel:" in lowered or b"sip" in lowered:
            self._uris(value, out)
        if _MAC_CLASSES in hexes or _CISCO_CLASSES in hexes:
            self._macs(value, key_kinds, out)
        if _HEX12_CLASSES in hexes:
            for regex, kind, confidence in _HINTED_SHAPES:
                if (kind != "advertising_id" or _UUID_CLASSES in hexes) and hinted(kind):
                    self._hinted(regex, kind, value, key_kinds, confidence, out)
            if _HEX16_CLASSES in hexes and hinted("device_id"):
                self._device_ids(value, key_kinds, out)
        if b"@" in value:
            self._emails(value, lowered, out)
        if b"0000" in digits and hinted("phone_number"):
            self._phones(value, key_kinds, out)
        if "mcc" in key_kinds:
            self._mcc_field(key, value)
        if b"0000" in digits and hinted("account_id"):
            self._account_numbers(value, key_kinds, out)
        if key_kinds & _COORDINATE_KINDS or b"lat" in lowered or b".0000" in digits:
            self._coordinates(value, lowered, digits, key_kinds, out)
        return [m for m in out if not self.hints.is_placeholder(m.value)]

    def _text_kinds(self, value: bytes, lowered: bytes) -> frozenset[str]:
        """Kinds whose hint words occur in the text, spelled as normalised keys are; none
        without a `key=value` or `key: value` separator (see hints.local_key)."""
        if self._words is None or (b"=" not in value and b":" not in value):
            return frozenset()
        squeezed = lowered.replace(b"_", b"").replace(b"-", b"")
        return frozenset(self._word_kinds[index] for index, _, _ in
                         self._words.find_matches_as_indexes(squeezed, overlapping=True))

    def _kinds_at(self, value: bytes, start: int, key_kinds: frozenset[str]) -> frozenset[str]:
        return key_kinds | self.hints.kinds_of_normalised(local_key(value, start))

    def _digit_runs(self, key: str, value: bytes, digit_classes: bytes,
                    key_kinds: frozenset[str], out: list[PatternMatch]) -> None:
        for start, end in _runs_of_14_to_22(digit_classes):
            digits = value[start:end].decode("ascii")
            if _IMS_DOMAIN.match(value, end) and plausible_imsi(digits) and not \
                    value[max(0, start - 5):start].lower().endswith((b"sip:", b"sips:")):
                out.append(PatternMatch("imsi", digits, start, end, 0.9,
                                        "IMSI as the user of an IMS identity "
                                        "(user@...3gppnetwork.org)"))
                self.learn_mcc(digits[:3], "of an IMSI")
                continue  # a SIP URI's user is left to _uris
            kinds = self._kinds_at(value, start, key_kinds)
            found = classify_digits(digits, kinds)
            if found and not kinds & _NUMBER_KINDS and (
                    _inside_token(value, start, end) or
                    self._names_other_number(key, value, start)):
                continue  # a shape alone, inside a hex/alphanumeric token or under `order_id`
            if found:
                out.append(PatternMatch(found[0], digits, start, end, found[1], found[2]))
                if found[0] == "imsi":
                    self.learn_mcc(digits[:3], "of an IMSI")

    def _names_other_number(self, key: str, value: bytes, start: int) -> bool:
        """Whether the field's key, or the key written before `start`, names an order,
        payment or other number that is no identifier (rules/key-hints.yaml)."""
        names = self.hints.names_other_number
        return (len(value) <= _LONGEST_KEYED_VALUE and names(key)) or \
            names(local_key(value, start))

    def _imei_urns(self, value: bytes, out: list[PatternMatch]) -> None:
        for match in _IMEI_URN.finditer(value):
            digits = b"".join(match.groups()).decode("ascii")
            out.append(PatternMatch("imei", digits, match.start(), match.end(), 0.9,
                                    "urn:gsma:imei URI" + ("" if luhn_valid(digits)
                                                           else ", Luhn check fails")))

    def _uris(self, value: bytes, out: list[PatternMatch]) -> None:
        for match in _URI_USER.finditer(value):
            user = match.group(1).decode("ascii")
            scheme = match.group().split(b":", 1)[0].decode("ascii").lower()
            if scheme.startswith("sip") and user.isdigit() and plausible_imsi(user):
                out.append(PatternMatch("imsi", user, match.start(1), match.end(1), 0.9,
                                        "IMSI as the user of a SIP URI (IMS registration)"))
                self.learn_mcc(user[:3], "of an IMSI in a SIP URI")
                continue
            number = self._phone(user)
            if number:
                out.append(PatternMatch("phone_number", user, match.start(1), match.end(1),
                                        0.9, f"{scheme}: URI, {number}"))

    def _macs(self, value: bytes, key_kinds: frozenset[str], out: list[PatternMatch]) -> None:
        for regex in (_MAC_SEPARATED, _MAC_CISCO):
            for match in regex.finditer(value):
                hinted = "mac_address" in self._kinds_at(value, match.start(), key_kinds)
                text = match.group().decode("ascii")
                if text.lower().startswith(("ff:ff:ff:ff:ff:ff", "ff-ff-ff-ff-ff-ff")):
                    continue
                out.append(PatternMatch("mac_address", text, match.start(), match.end(),
                                        0.95 if hinted else 0.75,
                                        "MAC address" + (" under a MAC key" if hinted else "")))

    def _hinted(self, regex: re.Pattern[bytes], kind: str, value: bytes,
                key_kinds: frozenset[str], confidence: float, out: list[PatternMatch]) -> None:
        """A shape reported only under a key hint of `kind` (the field's, or the one
        written before the value)."""
        data_type = "imei" if kind == "meid" else kind
        for match in regex.finditer(value):
            if kind in self._kinds_at(value, match.start(), key_kinds):
                text = match.group().decode("ascii")
                out.append(PatternMatch(data_type, text, match.start(), match.end(),
                                        confidence, f"{_SHAPES[kind]} under a key naming it"))

    def _emails(self, value: bytes, lowered: bytes, out: list[PatternMatch]) -> None:
        for match in _EMAIL.finditer(value):
            if match.group(1).lower() in _FILE_SUFFIXES:
                continue  # icon@2x.png
            if _is_sip_address(lowered, match.start(), match.end()):
                continue  # its user is an IMSI or a number, found as such (_uris)
            address = match.group().decode("ascii")
            domain = address.rpartition("@")[2].lower()
            if domain not in _MAILBOX_PROVIDERS and _same_site(domain, self.receiver):
                continue  # the receiver's own address (support@vendor sent to the vendor)
            detail = "e-mail address" if not self.receiver else \
                f"e-mail address; its domain is not the receiver's ({self.receiver})" \
                if domain not in _MAILBOX_PROVIDERS else \
                "e-mail address at a mailbox provider"
            out.append(PatternMatch("email", address, match.start(), match.end(), 0.9,
                                    detail))

    def _phone(self, text: str) -> str:
        """The E.164 form of `text` if it is a valid number, else ''. Without a region,
        `0086...` and `86...` are read as international (a key already said "phone").

        Without the profile's region, a national number (`18611730452`) is read in the
        regions of the last numbers this capture sent written as international (`+86...`,
        `0086...`) — a phone sends its own number in several spellings, and its SIM's
        country is the likeliest — and only when it is a mobile number there; the
        description says so. Numbers before the first such one stay unread: a list of
        popular regions would make every 7-12 digit id under a `num` key a phone number
        somewhere, and a bare `86...` read as international teaches nothing for the same
        reason."""
        explicit = text.startswith(("+", "00"))
        if text.startswith("00"):
            text = "+" + text[2:]
        candidates = [text]
        if not text.startswith(("+", "0")) and text[:1].isdigit():
            candidates.append("+" + text)
        for candidate in candidates:
            e164 = e164_of(candidate, None if candidate.startswith("+") else self.region)
            if e164:
                if explicit and self.region is None:
                    self._learn_region(e164)
                return e164
        state = self._learned()
        if state.mcc is not None:
            e164 = _mobile_e164(text, state.mcc[0])
            if e164:
                return f"{e164} (read in {state.mcc[0]}, the country of {state.mcc[1]})"
        for region in state.regions:
            e164 = _mobile_e164(text, region)
            if e164:
                return f"{e164} (read in {region}, the country of earlier numbers)"
        return ""

    # -- the capture's likely region, and what it teaches ---------------------------------

    @contextmanager
    def learning(self, state: RegionState | None = None) -> Iterator[Lesson]:
        """Analyse one exchange with `state` (default: the finder's own, which the facts
        then update), recording in the `Lesson` yielded the facts it teaches and whether a
        decision consulted what was learned before."""
        saved = self.state, self._lesson, self._start
        if state is not None:
            self.state = state
        self._lesson = lesson = Lesson()
        self._start = self.state.copy()
        try:
            yield lesson
        finally:
            self.state, self._lesson, self._start = saved

    def learn(self, fact: Fact) -> None:
        """Apply a fact to the finder's state (and record it when `learning`)."""
        self.state.apply(fact)
        if self._lesson is not None:
            self._lesson.facts.append(fact)

    def _learned(self) -> RegionState:
        """The state, for a decision that depends on it (recorded when `learning`)."""
        lesson = self._lesson
        if lesson is not None and not lesson.consulted:
            lesson.consulted, lesson.start = True, self._start
        return self.state

    def learn_mcc(self, mcc: str, why: str) -> None:
        """An MCC seen in the capture: national numbers are read in its country after it."""
        region = MCC_REGIONS.get(mcc)
        if region:
            self.learn(("mcc", region, f"MCC {mcc} {why}"))

    def note_host(self, host: str) -> None:
        """The host of the next exchange: the receiver of what it carries, and — for a
        3GPP name (`ims.mnc001.mcc262.3gppnetwork.org`, often the phone's DNS query for
        its IMS or ePDG) — an MCC."""
        self.receiver = host
        if "3gppnetwork.org" in host:
            match = _MCC_HOST.search(host)
            if match:
                self.learn_mcc(match.group(1), f"in {host}")
        elif host:
            region = CARRIER_DOMAINS.get(_registrable(host.lower().rstrip(".")))
            if region:
                self.learn(("carrier", region, f"the carrier host {host}"))

    def likely_region(self) -> tuple[str, str] | None:
        """(region, why) national-form numbers are read in: the profile's, else the
        country of the last MCC seen, else of the last carrier host the phone talked to,
        else of the last international number sent."""
        if self.region:
            return self.region, "the device profile's region"
        state = self._learned()
        if state.mcc is not None:
            return state.mcc
        if state.carrier is not None:
            return state.carrier
        if state.regions:
            return state.regions[0], "the country of international numbers this capture sent"
        return None

    def _mcc_field(self, key: str, value: bytes) -> None:
        match = _MCC_VALUE.match(value)
        if match:
            self.learn_mcc(match.group(1).decode("ascii"), f"under the key `{key}`")

    def _account_numbers(self, value: bytes, key_kinds: frozenset[str],
                         out: list[PatternMatch]) -> None:
        """A mobile number in national form (or international without `+`) as an account
        or user id: the whole field under an account-id key, or after `userid=` in text."""
        if "account_id" in key_kinds and len(value) <= _LONGEST_PHONE_FIELD:
            whole = _ACCOUNT_NUMBER.fullmatch(value.strip())
            spans = [(value.find(whole.group()), len(whole.group()))] if whole else []
        else:
            spans = [(m.start(), m.end() - m.start()) for m in _ACCOUNT_NUMBER.finditer(value)
                     if "account_id" in self.hints.kinds_of_normalised(
                         local_key(value, m.start()))]
        taken = {(m.start, m.end) for m in out if m.data_type == "phone_number"}
        for start, size in spans:
            if (start, start + size) in taken:
                continue
            text = value[start:start + size].decode("ascii")
            found = self._national_mobile(text)
            if found:
                out.append(PatternMatch("phone_number", text, start, start + size, *found))

    def _national_mobile(self, text: str) -> tuple[float, str] | None:
        """(confidence, detail) when `text` is a mobile number of the likely region."""
        guess = self.likely_region()
        if guess is None or text.startswith(("+", "00")):
            return None
        region, why = guess
        digits = "".join(c for c in text if c.isdigit())
        code = str(phonenumbers.country_code_for_region(region))
        e164 = _mobile_e164(digits, region) or (
            _mobile_e164("+" + digits, region) if digits.startswith(code) else "")
        if not e164:
            return None
        number = phonenumbers.parse(e164)
        national = phonenumbers.national_significant_number(number)
        dialled = "".join(c for c in phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.NATIONAL) if c.isdigit())
        trunk = dialled[:len(dialled) - len(national)]  # "0" in DE; "" for mobiles in CN
        if trunk and digits == dialled:
            confidence, form = 0.75, f"national form with trunk prefix {trunk}"
        elif digits == national:
            confidence, form = (0.6, "national form without its trunk prefix") if trunk \
                else (0.7, "national form")
        elif digits == str(number.country_code) + national:
            confidence, form = 0.7, "international form without +"
        else:
            return None
        return confidence, (f"mobile number of {region} ({e164}) in {form}, under an "
                            f"account-id key; region from {why}")

    def _device_ids(self, value: bytes, key_kinds: frozenset[str],
                    out: list[PatternMatch]) -> None:
        """16 hex digits (an Android ID's shape) or a 32/40/64-hex digest under a generic
        device-id key. Only mixed letters and digits: an all-digit run is a number."""
        taken = {m.start for m in out}
        for match in _HEX_ID.finditer(value):
            text = match.group()
            if match.start() in taken or text.isdigit() or text.isalpha() or \
                    "device_id" not in self._kinds_at(value, match.start(), key_kinds):
                continue
            size = len(text)
            if size == 16:
                found = ("android_id", 0.75,
                         "16 hex digits, the shape of an Android ID, under a device-id key")
            else:
                why = f"{size} hex digits, the size of a {_DIGEST_NAMES[size]} digest, under " \
                    f"a device-id key: a hashed identifier whose pre-image is unknown"
                found = ("hashed_id", 0.7, why)
            out.append(PatternMatch(found[0], text.decode("ascii"), match.start(), match.end(),
                                    found[1], found[2]))

    def _learn_region(self, e164: str) -> None:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
        if region:
            self.learn(("number", region, ""))

    def _phones(self, value: bytes, key_kinds: frozenset[str],
                out: list[PatternMatch]) -> None:
        """A valid phone number under a phone key: the whole field, or after `msisdn=`."""
        if "phone_number" in key_kinds and len(value) <= _LONGEST_PHONE_FIELD and \
                _PHONEISH.fullmatch(value.strip()):
            text = value.decode("ascii", "replace").strip()
            number = self._phone(text)
            if number:
                out.append(PatternMatch("phone_number", text, 0, len(value), 0.95,
                                        f"valid number under a phone key, {number}"))
                return
        for match in _PHONEISH.finditer(value):
            if "phone_number" not in self.hints.kinds_of_normalised(
                    local_key(value, match.start())):
                continue
            text = match.group().decode("ascii")
            number = self._phone(text)
            if number:
                out.append(PatternMatch("phone_number", text, match.start(), match.end(), 0.9,
                                        f"valid number after a phone key, {number}"))

    def _coordinates(self, value: bytes, lowered: bytes, digits: bytes,
                     key_kinds: frozenset[str], out: list[PatternMatch]) -> None:
        """Latitude/longitude halves (paired per exchange by the detector) and text pairs."""
        for kind in ("latitude", "longitude"):
            if kind in key_kinds:
                text = value.decode("ascii", "replace").strip()
                if _COORDINATE.fullmatch(text) and _in_range(kind, text):
                    out.append(PatternMatch(kind, text, 0, len(value), 0.75,
                                            f"{kind} under a {kind} key"))
        if b"lat" in lowered:
            for match in _KEYED_COORDINATE.finditer(value):
                name = match.group(1).lower()
                kind = "latitude" if name.startswith(b"lat") else "longitude"
                text = match.group(2).decode("ascii")
                if _in_range(kind, text):
                    out.append(PatternMatch(kind, text, match.start(2), match.end(2), 0.75,
                                            f"{kind} after a {kind} key"))
        if b".0000" in digits and b"," in value:
            for match in _COORDINATE_PAIR.finditer(value):
                lat, lon = (g.decode("ascii") for g in match.groups())
                if _in_range("latitude", lat) and _in_range("longitude", lon):
                    out.append(PatternMatch("location", f"{lat},{lon}", match.start(),
                                            match.end(), 0.7, "latitude,longitude text pair"))


def _is_sip_address(lowered: bytes, start: int, end: int) -> bool:
    """`sip:user@host`, an IMS identity (`...@ims.mnc001.mcc460.3gppnetwork.org`), or an
    all-digit user in SIP text (`username="460011857302946@ims.example"`): addresses of a
    SIP/IMS account, not e-mail."""
    address = lowered[start:end]
    user, _, domain = address.rpartition(b"@")
    if lowered[max(0, start - 5):start].endswith((b"sip:", b"sips:")) or \
            domain == b"3gppnetwork.org" or domain.endswith(b".3gppnetwork.org"):
        return True
    return user.lstrip(b"+").isdigit() and (b"sip:" in lowered or b"sip/2.0" in lowered)


def _same_site(domain: str, host: str) -> bool:
    """Whether an e-mail domain and a host name belong to one registrable domain
    (`help.vendor.com` and `api.vendor.com`; `vendor.co.uk` and `www.vendor.co.uk`)."""
    if not host or not domain:
        return False
    return _registrable(domain) == _registrable(host.lower().rstrip("."))


def _registrable(name: str) -> str:
    labels = name.split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL \
        else 2
    return ".".join(labels[-keep:])


def e164_of(text: str, region: str | None) -> str:
    """The E.164 form of a valid phone number, or ''."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _inside_token(value: bytes, start: int, end: int) -> bool:
    """Whether the digits at [start, end) touch a letter: a run inside a hex digest, a
    token or a base64 string, which no handset writes an unlabelled IMEI or ICCID into."""
    return (start > 0 and value[start - 1:start].isalpha()) or value[end:end + 1].isalpha()


def _runs_of_14_to_22(digit_classes: bytes) -> list[tuple[int, int]]:
    """[start, end) of every run of 14 to 22 digits (what `(?<![0-9])[0-9]{14,22}(?![0-9])`
    finds), from a value translated with _DIGIT_CLASSES: `find` jumps to the start of the
    next run long enough, where a regex would try every position of the text."""
    out = []
    position = digit_classes.find(_DIGITS14)
    while position >= 0:
        # `find` from the end of the last run meets a run at its first digit
        end = _ZEROS.match(digit_classes, position).end()
        if end - position <= _LONGEST_DIGIT_RUN:
            out.append((position, end))
        position = digit_classes.find(_DIGITS14, end)
    return out


def _mobile_e164(text: str, region: str) -> str:
    """The E.164 form of `text` read in `region` if it is a valid mobile number there."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _in_range(kind: str, text: str) -> bool:
    number = float(text)
    return number != 0 and abs(number) <= (90 if kind == "latitude" else 180)


def classify_digits(digits: str, kinds: frozenset[str]) -> tuple[str, float, str] | None:
    """(data type, confidence, detail) for a run of 14-22 digits, or None.

    An IMSI can pass Luhn and an emulator IMEI can fail it, so the key decides first; with
    no key only a Luhn-valid IMEI with a reporting-body TAC, or an ICCID (89 + country code,
    Luhn), is reported — a bare 15-digit number starting with an MCC is as likely an order id.
    """
    length = len(digits)
    if "imei" in kinds and 14 <= length <= 16:
        if length != 15 and digits[:2] not in REPORTING_BODIES:
            return None  # every IMEI (and IMEISV) starts with a TAC of a reporting body
        if length == 15:
            valid = luhn_valid(digits)
            return "imei", 0.95 if valid else 0.8, "15 digits under an IMEI key" + (
                ", Luhn valid" if valid else ", Luhn check fails")
        return "imei", 0.8, ("14 digits (IMEI without check digit)" if length == 14
                             else "16 digits (IMEISV)") + " under an IMEI key"
    if "imsi" in kinds and plausible_imsi(digits):
        return "imsi", 0.95, f"IMSI under an IMSI key, MCC {digits[:3]}"
    if "iccid" in kinds and 18 <= length <= 22 and digits.startswith("89"):
        return "iccid", 0.95, "ICCID under an ICCID key"
    if "meid" in kinds and length == 18:
        return "imei", 0.8, "18-digit decimal MEID under an MEID key"
    if plausible_imei(digits):
        return "imei", 0.7, f"Luhn-valid 15 digits with reporting-body TAC {digits[:8]}"
    if plausible_iccid(digits):
        return "iccid", 0.8, "ICCID: 89 + country code, Luhn valid"
    return None

"""Pattern mode: identifiers found by their shape and the key they were sent under.

Each finder is a compiled regex run only when a cheap prefilter says it can match (an
`@` for e-mail, a `-` for UUIDs, a hint word for hint-only shapes). Shapes that are weak
evidence on their own (16 hex digits, a UUID, a bare phone-like number) are only reported
under a key hint (rules/key-hints.yaml): the field's key, or the key written just before
the value in unparsed text. Placeholders are never reported.

Confidence (in (0, 1)) says how much the shape alone proves:
  0.95  the key names the identifier and the shape fits it exactly (Luhn-valid IMEI, ...)
  0.9   a URI that says what it is (tel:, sip:, urn:gsma:imei:), e-mail addresses
  0.8   the key names it, the shape fits loosely (IMEI failing Luhn, 14 digits, MEID)
  0.75  a MAC with separators under no key hint; coordinates under lat/lon keys
  0.7   shape alone: Luhn-valid 15 digits with a reporting-body TAC; "lat,lon" text pairs
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from ahocorasick_rs import BytesAhoCorasick

from auditor.detect.hints import HINTED_KINDS, KeyHints, local_key
from auditor.detect.identifiers import luhn_valid, plausible_iccid, plausible_imei, plausible_imsi

_DIGIT_RUN = re.compile(rb"(?<![0-9])[0-9]{14,22}(?![0-9])")
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
_SHAPES = {"advertising_id": "advertising-ID UUID", "android_id": "Android ID (16 hex digits)",
           "meid": "MEID (14 hex digits)", "mac_address": "bare MAC (12 hex digits)"}


@dataclass(frozen=True, slots=True)
class PatternMatch:
    """Something that looks like an identifier at [start, end) of a field."""

    data_type: str  # a data type, or "latitude"/"longitude" awaiting its pair
    value: str  # as found
    start: int
    end: int
    confidence: float
    detail: str


def is_text(value: bytes) -> bool:
    """Whether a field is text worth searching for shapes (no control bytes up front)."""
    return not _BINARY.search(value, 0, 512)


class PatternFinder:
    """All pattern detectors over one field."""

    def __init__(self, hints: KeyHints, region: str = "") -> None:
        self.hints = hints
        self.region = region or None
        # hint words of 3+ letters, found in text with one automaton pass (shorter words
        # such as `mb` or `ia` occur in any text and only count as a field's own key)
        words = {w: kind for kind in HINTED_KINDS for w in hints.words(kind) if len(w) >= 3}
        self._word_kinds = list(words.values())
        self._words = BytesAhoCorasick(list(words)) if words else None

    def search(self, key: str, value: bytes, lowered: bytes) -> list[PatternMatch]:
        # a key names the field's value, not every number inside a long text under it
        key_kinds = self.hints.kinds_of(key) if len(value) <= _LONGEST_KEYED_VALUE \
            else frozenset()
        # Cheap gates: each regex runs only when a plain `in` over a translated copy of
        # the field (digits -> 0, hex digits -> h, separators kept) says it can match.
        digits = value.translate(_DIGIT_CLASSES)
        hexes = value.translate(_HEX_CLASSES)
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
            self._digit_runs(value, key_kinds, out)
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
        if b"@" in value:
            self._emails(value, out)
        if b"0000" in digits and hinted("phone_number"):
            self._phones(value, key_kinds, out)
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

    def _digit_runs(self, value: bytes, key_kinds: frozenset[str],
                    out: list[PatternMatch]) -> None:
        for match in _DIGIT_RUN.finditer(value):
            digits = match.group().decode("ascii")
            found = classify_digits(digits, self._kinds_at(value, match.start(), key_kinds))
            if found:
                out.append(PatternMatch(found[0], digits, match.start(), match.end(),
                                        found[1], found[2]))

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

    def _emails(self, value: bytes, out: list[PatternMatch]) -> None:
        for match in _EMAIL.finditer(value):
            before = value[max(0, match.start() - 5):match.start()].lower()
            if match.group(1).lower() in _FILE_SUFFIXES or before.endswith((b"sip:", b"sips:")):
                continue  # icon@2x.png; sip:user@host is a SIP address, its user an IMSI
            out.append(PatternMatch("email", match.group().decode("ascii"), match.start(),
                                    match.end(), 0.9, "e-mail address"))

    def _phone(self, text: str) -> str:
        """The E.164 form of `text` if it is a valid number, else ''. Without a region,
        `0086...` and `86...` are read as international (a key already said "phone")."""
        if text.startswith("00"):
            text = "+" + text[2:]
        candidates = [text]
        if not text.startswith(("+", "0")) and text[:1].isdigit():
            candidates.append("+" + text)
        for candidate in candidates:
            e164 = e164_of(candidate, None if candidate.startswith("+") else self.region)
            if e164:
                return e164
        return ""

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


def e164_of(text: str, region: str | None) -> str:
    """The E.164 form of a valid phone number, or ''."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
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

"""Every way a known value can appear in an upload: spellings x encodings x hashes.

Each profile value is spelled the ways phones and servers write it (a phone number has a
dozen spellings, a MAC eight), and each spelling is written plain, percent-encoded, as
hex of its UTF-8 bytes, inside base64, and hashed. The result is one flat list of
`Variant`s that the known-value matcher compiles into a single automaton.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import phonenumbers

from auditor.detect.profile import DeviceProfile

#: The digests ad SDKs and consent studies use; each is tried on every spelling.
HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b",
          "blake2s")
#: A hex digest is found by its first 16 hex characters, then followed as far as it goes.
HEX_PREFIX = 16
#: Windows of canary SMS text that count as the message leaving (issue 2.4).
SMS_WINDOW = 20
#: Shortest base64 text searched for; shorter runs match random base64 too often.
MIN_BASE64 = 8
#: Shortest spelling searched for at all (a 3-letter name is in every text), and the
#: shortest whose hex form is searched (hex of fewer bytes is in every hex string).
MIN_PLAIN = 4
MIN_HEX_BYTES = 6

_NUMERIC = re.compile(r"[0-9+\-. ()]+")
_HEXISH = re.compile(r"[0-9a-fA-F:.\-]+")
#: What people and apps put between the digits of a phone number.
PHONE_SEPARATORS = b" -.()/"
_LOOSE_SEPARATOR = rb"[ \-.()/]*"


@dataclass(frozen=True, slots=True)
class Variant:
    """One searchable form of one profile value."""

    data_type: str  # imei, phone_number, contacts, location, ...
    value: str  # the value as the profile has it
    pattern: bytes  # the bytes as they would appear (exact case for case-sensitive forms)
    spelling: str  # "" for the value as given, else e.g. "phone:national", "mac:dash"
    written: str  # plain | percent | hex | base64 | base64url | sha256:hex | md5:base64 ...
    detail: str  # what a reader is told: "sha256 (hex) of phone spelling 015627394810"
    hashed: bool = False
    case_sensitive: bool = False  # base64 forms; everything else is matched in either case
    boundary: str = ""  # digit | hex | alnum | "": what must not touch the match (see known.py)
    digest_hex: str = ""  # the full hex digest, for hex forms followed past their prefix
    subject: str = ""  # which contact / SMS / coordinate this belongs to
    window: bool = False  # a 20-character window of an SMS: merged with its neighbours


def boundary_of(text: str) -> str:
    """Which neighbours make a match of `text` part of something longer."""
    if _NUMERIC.fullmatch(text) and any(c.isdigit() for c in text):
        return "digit"
    if _HEXISH.fullmatch(text):
        return "hex"
    return "alnum"


def base64_cores(data: bytes) -> Iterator[tuple[bytes, int]]:
    """The base64 text of `data` that stays the same at each of the 3 byte alignments it can
    have inside a longer base64 string; (core, offset). Offset 0 is plain `b64(data)`."""
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data)
        # the chars mixing our bytes with the unknown bytes before or after them vary
        first = (0, 2, 3)[offset]
        # ... and so do those after it: a trailing byte or two leaves 1 or 2 settled chars
        total = offset + len(data)
        core = encoded[first:total // 3 * 4 + total % 3]
        if len(core) >= MIN_BASE64:
            yield core, offset


def _hash(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def encoded_variants(data_type: str, value: str, spelling: str, text: str, what: str,
                     subject: str = "", hashes: bool = True) -> Iterator[Variant]:
    """`text` (one spelling of `value`) plain, percent-encoded, hex, in base64, hashed."""
    raw = text.encode("utf-8")
    if len(raw) < MIN_PLAIN:
        return
    bound = boundary_of(text)
    common = {"data_type": data_type, "value": value, "spelling": spelling, "subject": subject}
    yield Variant(pattern=raw, written="plain", detail=f"{what} {text}", boundary=bound,
                  **common)
    for encoded in dict.fromkeys((quote(text, safe=""), quote_plus(text, safe=""))):
        if encoded == text:
            continue
        yield Variant(pattern=encoded.encode(), written="percent", boundary=bound,
                      detail=f"percent-encoded {what} {text}", **common)
    if len(raw) >= MIN_HEX_BYTES:
        yield Variant(pattern=raw.hex().encode(), written="hex", boundary="hex",
                      detail=f"hex of {what} {text}", **common)
    for core, offset in base64_cores(raw):
        for alphabet, written in ((b"+/", "base64"), (b"-_", "base64url")):
            if alphabet == b"-_" and not (b"+" in core or b"/" in core):
                continue
            where = " inside longer base64" if offset else ""
            yield Variant(pattern=core.translate(bytes.maketrans(b"+/", alphabet)),
                          written=written, case_sensitive=True,
                          detail=f"{written}{where} of {what} {text}", **common)
    if not hashes:
        return
    for name in HASHES:
        digest = _hash(name, raw)
        hex_digest = digest.hex()
        yield Variant(pattern=hex_digest[:HEX_PREFIX].encode(), written=f"{name}:hex",
                      detail=f"{name} (hex) of {what} {text}", hashed=True, boundary="hex",
                      digest_hex=hex_digest, **common)
        padded = base64.b64encode(digest)
        for alphabet, written in ((b"+/", "base64"), (b"-_", "base64url")):
            form = padded.rstrip(b"=").translate(bytes.maketrans(b"+/", alphabet))
            if alphabet == b"-_" and form == padded.rstrip(b"="):
                continue
            yield Variant(pattern=form, written=f"{name}:{written}", hashed=True,
                          case_sensitive=True, detail=f"{name} ({written}) of {what} {text}",
                          **common)


def case_spellings(value: str) -> list[str]:
    """The value as given, lower-cased and upper-cased (each hashes differently)."""
    return list(dict.fromkeys((value, value.lower(), value.upper())))


def phone_spellings(text: str, region: str) -> list[tuple[str, str]]:
    """(spelling token, text) for every way a phone or server writes this number."""
    number = phonenumbers.parse(text, region or None)
    fmt = phonenumbers.PhoneNumberFormat
    cc = str(number.country_code)
    nsn = phonenumbers.national_significant_number(number)
    national = phonenumbers.format_number(number, fmt.NATIONAL)
    international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
    national_digits = re.sub(r"\D", "", national)
    out: dict[str, str] = {}  # spelling -> token; the first token of a spelling stays
    for spelled, token in ((f"+{cc}{nsn}", "phone:e164"), (f"00{cc}{nsn}", "phone:00"),
                           (f"{cc}{nsn}", "phone:cc"), (national_digits, "phone:national"),
                           (nsn, "phone:nsn")):
        out.setdefault(spelled, token)
    intl_groups = re.findall(r"\d+", international)
    national_groups = re.findall(r"\d+", national)
    for sep, name in ((" ", "spaces"), ("-", "dashes"), (".", "dots")):
        out.setdefault("+" + sep.join(intl_groups), f"phone:international-{name}")
        out.setdefault(sep.join(national_groups), f"phone:national-{name}")
    out.setdefault(international, "phone:international")
    out.setdefault(national, "phone:national-formatted")
    if national_digits != nsn and national_digits.endswith(nsn):
        # "+49 (0)1512 3456789": the trunk prefix in parentheses, common in Europe
        rest = national[len(national_digits) - len(nsn):].lstrip()
        trunk = national_digits[:len(national_digits) - len(nsn)]
        out.setdefault(f"+{cc} ({trunk}){rest}", "phone:international-trunk")
    out.setdefault(text, "phone:as-given")
    return [(token, spelled) for spelled, token in out.items()]


@dataclass(frozen=True, slots=True)
class LoosePhone:
    """A phone number of the profile, to be found whatever separators sit between its
    digits (`+49 152 09384712`, `0152/093-847-12`): `variant.pattern`, its national
    significant number, is looked for in a copy of the fields with the separators
    deleted, and only on such a hit does `regex` look for it in the fields themselves."""

    variant: Variant
    regex: re.Pattern[bytes]


def _loose(digits: str) -> bytes:
    return _LOOSE_SEPARATOR.join(digit.encode() for digit in digits)


def loose_phone(data_type: str, value: str, text: str, region: str, what: str,
                subject: str = "") -> LoosePhone:
    """`text` (a number of the profile) as a regex that allows any run of separators
    between its digits, with or without country code (+, 00 or bare) or trunk prefix."""
    number = phonenumbers.parse(text, region or None)
    cc = str(number.country_code)
    nsn = phonenumbers.national_significant_number(number)
    national = re.sub(r"\D", "", phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL))
    trunk = national[:-len(nsn)] if national.endswith(nsn) else ""
    prefixes = [rb"(?:\+|00)?" + _LOOSE_SEPARATOR + _loose(cc) + _LOOSE_SEPARATOR
                + rb"(?:\(0\)" + _LOOSE_SEPARATOR + rb")?"]
    if trunk:
        prefixes.append(_loose(trunk) + _LOOSE_SEPARATOR)
    # a digit one separator away continues the number: `1 56 2739 4810 7` is not ours
    regex = re.compile(rb"(?<![0-9])(?<![0-9][ \-.()/])(?:" + b"|".join(prefixes) + rb")?"
                       + _loose(nsn) + rb"(?![0-9])(?![ \-.()/][0-9])")
    variant = Variant(data_type=data_type, value=value, pattern=nsn.encode(),
                      spelling="phone:any-separators", written="plain", boundary="digit",
                      detail=f"{what} {text} with other separators", subject=subject)
    return LoosePhone(variant, regex)


def loose_phones(profile: DeviceProfile) -> list[LoosePhone]:
    """The profile's own numbers and its canary contacts' numbers, separator-blind."""
    out = [loose_phone("phone_number", value, value, profile.region, "phone number")
           for value in profile.phone_number]
    out += [loose_phone("contacts", c.phone, c.phone, profile.region,
                        f"contact {c.name or c.phone}: number", c.name or c.phone)
            for c in profile.contacts if c.phone]
    return out


def mac_spellings(value: str) -> list[tuple[str, str]]:
    """A MAC with ':', '-', no separator and Cisco dots, in lower and upper case."""
    hex12 = re.sub(r"[^0-9a-fA-F]", "", value).lower()
    pairs = [hex12[i:i + 2] for i in range(0, 12, 2)]
    forms = {"mac:colon": ":".join(pairs), "mac:dash": "-".join(pairs), "mac:bare": hex12,
             "mac:cisco": ".".join(hex12[i:i + 4] for i in range(0, 12, 4))}
    return [(token, cased) for token, form in forms.items()
            for cased in (form, form.upper())]


def imei_spellings(value: str) -> list[tuple[str, str]]:
    """The IMEI, its 14 digits without check digit, and the `urn:gsma:imei` grouping —
    with the check digit, and with the spare digit 0 that 3GPP TS 23.003 puts in its place
    (what IMS clients send in `+sip.instance`)."""
    out = [("", value)]
    if len(value) >= 15:
        out.append(("imei:14", value[:14]))
    if len(value) == 15:
        out.append(("imei:urn", f"{value[:8]}-{value[8:14]}-{value[14]}"))
        if value[14] != "0":
            out.append(("imei:urn-spare", f"{value[:8]}-{value[8:14]}-0"))
    return out


def identifier_spellings(data_type: str, value: str, region: str) -> list[tuple[str, str]]:
    if data_type == "imei":
        return imei_spellings(value)
    if data_type == "phone_number":
        return phone_spellings(value, region)
    if data_type == "mac_address":
        return mac_spellings(value)
    if data_type == "email":
        return [("", value)] + ([("email:lower", value.strip().lower())]
                                if value.strip().lower() != value else [])
    spellings = [("", cased) for cased in case_spellings(value)]
    if data_type == "advertising_id" and "-" in value:
        spellings += [("uuid:nodash", cased) for cased in case_spellings(value.replace("-", ""))]
    return spellings


def _label(data_type: str, spelling: str) -> str:
    return spelling.replace(":", " spelling ", 1) if spelling else data_type


def profile_variants(profile: DeviceProfile) -> list[Variant]:
    """Every searchable form of every value in the profile."""
    out: list[Variant] = []
    for data_type in ("imei", "imsi", "iccid", "phone_number", "android_id", "advertising_id",
                      "mac_address", "serial_number", "email"):
        for value in getattr(profile, data_type):
            for spelling, text in identifier_spellings(data_type, value, profile.region):
                out.extend(encoded_variants(data_type, value, spelling, text,
                                            _label(data_type, spelling)))
    for index, contact in enumerate(profile.contacts):
        subject = contact.name or contact.phone
        if contact.name:
            out.extend(encoded_variants("contacts", contact.name, "contact:name", contact.name,
                                        f"contact {subject}: name", subject, hashes=False))
        if contact.phone:
            for spelling, text in phone_spellings(contact.phone, profile.region):
                out.extend(encoded_variants("contacts", contact.phone, spelling, text,
                                            f"contact {subject}: {_label('', spelling)}",
                                            subject))
    for index, text in enumerate(profile.sms, 1):
        subject = f"canary SMS {index}"
        out.extend(encoded_variants("sms", text, "", text, subject, subject))
        out.extend(sms_windows(text, subject))
    if profile.location:
        out.extend(location_variants(profile))
    return out


def sms_windows(text: str, subject: str) -> Iterator[Variant]:
    """Every run of 20 characters of a canary text: a part of it leaving counts."""
    for start in range(len(text) - SMS_WINDOW + 1 if len(text) > SMS_WINDOW else 0):
        window = text[start:start + SMS_WINDOW]
        yield Variant(data_type="sms", value=text, pattern=window.encode(), spelling="sms:part",
                      written="plain", detail=f"part of {subject}", subject=subject,
                      window=True)


def _decimals(text: str, places: int) -> set[str]:
    """`text` (a decimal number) truncated and rounded to `places` decimals."""
    whole, _, fraction = text.lstrip("+").partition(".")
    truncated = f"{whole}.{(fraction + '0' * places)[:places]}"
    rounded = f"{float(text):.{places}f}"
    return {truncated, rounded}


def location_variants(profile: DeviceProfile) -> Iterator[Variant]:
    """Latitude and longitude to 3 decimals (then followed as far as they go), and as E7
    integers. Both must be seen in one exchange; the matcher checks and pairs them."""
    location = profile.location
    value = f"{location.lat_text},{location.lon_text}"
    for subject, text in (("lat", location.lat_text), ("lon", location.lon_text)):
        for prefix in _decimals(text, 3):
            yield Variant(data_type="location", value=value, pattern=prefix.encode(),
                          spelling=f"location:{subject}", written="plain", boundary="digit",
                          detail=f"{subject} {text} to 3+ decimals", subject=subject)
        e7 = str(round(float(text) * 10**7))
        head = len(e7) - 4  # the digits down to 1e-3 degrees
        yield Variant(data_type="location", value=value, pattern=e7[:head].encode(),
                      spelling=f"location:{subject}", written="e7", boundary="digit",
                      detail=f"{subject} {text} as E7 integer", subject=f"{subject}:e7")

"""The device profile (`device.yaml`): what the handset under test knows about itself.

Values are read as the text the user typed, from YAML nodes rather than from YAML's
implicitly typed scalars: to YAML 1.1 an unquoted `12:34:56:12:34:56` is a base-60
integer, `0123` is 83 or 123, and `1e5` a float — none of them what the user meant.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import phonenumbers
import yaml

from auditor.model import InputError
from auditor.yamlcheck import quote, read_yaml_text


@dataclass(frozen=True, slots=True)
class Contact:
    """A canary address-book entry."""

    name: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Location:
    """Where the handset is; `text` keeps the decimals as written in the profile."""

    lat: float
    lon: float
    lat_text: str = ""
    lon_text: str = ""


@dataclass(frozen=True)
class DeviceProfile:
    """Identifiers and canary content of one handset; every part optional."""

    name: str = ""
    region: str = ""  # default region (ISO 3166 alpha-2) for national phone numbers
    vendor: str = ""  # the organisation whose firmware/app is under test
    imei: tuple[str, ...] = ()
    imsi: tuple[str, ...] = ()
    iccid: tuple[str, ...] = ()
    phone_number: tuple[str, ...] = ()
    android_id: tuple[str, ...] = ()
    advertising_id: tuple[str, ...] = ()
    mac_address: tuple[str, ...] = ()
    serial_number: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    sms: tuple[str, ...] = ()
    location: Location | None = None
    source_path: str = ""

    def identifiers(self) -> dict[str, tuple[str, ...]]:
        """Data type -> the profile's values of it (only types it has), for reports."""
        out: dict[str, tuple[str, ...]] = {}
        for name in IDENTIFIER_KEYS:
            values = getattr(self, name)
            if values:
                out[name] = values
        if self.contacts:
            out["contacts"] = tuple(" ".join(p for p in (c.name, c.phone) if p)
                                    for c in self.contacts)
        if self.sms:
            out["sms"] = self.sms
        if self.location:
            out["location"] = (f"{self.location.lat_text},{self.location.lon_text}",)
        return out


#: Keys whose value is one identifier or a list of them.
#: Limits of a device profile, checked on load (README, "Limits"): within them the
#: matcher's automaton builds in seconds (bench/profile_limits.py measures it).
MAX_VALUE_LENGTH = 256  # characters of one value (IMEI, name, e-mail, serial, ...)
MAX_SMS_LENGTH = 1000  # characters of one SMS text (about 7 concatenated parts)
MAX_VALUES = 16  # values of one identifier key (imei: [...]; dual-SIM phones have 2)
MAX_CONTACTS = 200  # canary contacts planted for the test, not an address book
MAX_SMS = 50

IDENTIFIER_KEYS = ("imei", "imsi", "iccid", "phone_number", "android_id", "advertising_id",
                   "mac_address", "serial_number", "email")
_TEXT_KEYS = ("name", "region", "vendor")
_KNOWN_KEYS = _TEXT_KEYS + IDENTIFIER_KEYS + ("contacts", "sms", "location")

_HEX12 = re.compile(r"[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class _Reader:
    """Reads one profile file's node tree, raising `file:line: ...` errors."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.region = ""

    def fail(self, node: yaml.Node, message: str) -> InputError:
        return InputError(f"{self.path}:{node.start_mark.line + 1}: {message}")

    def text(self, node: yaml.Node, key: str) -> str:
        """A scalar's source text; never YAML's reading of it."""
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"'{key}' must be a single value here")
        if node.style is None and node.value in ("", "~", "null", "Null", "NULL"):
            raise self.fail(node, f"'{key}' is empty; give a value or leave the key out")
        limit = MAX_SMS_LENGTH if key == "sms" else MAX_VALUE_LENGTH
        if len(node.value) > limit:
            raise self.fail(node, f"'{key}' is {len(node.value):,} characters long; the "
                                  f"limit is {limit:,} (see Limits in the README)")
        return node.value.strip()

    def texts(self, node: yaml.Node, key: str) -> list[tuple[yaml.Node, str]]:
        """A scalar or a list of scalars, each with its node (for line numbers)."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        self.count(node, key, len(items), MAX_SMS if key == "sms" else MAX_VALUES)
        return [(item, self.text(item, key)) for item in items]

    def count(self, node: yaml.Node, key: str, count: int, limit: int) -> None:
        if count > limit:
            raise self.fail(node, f"'{key}' has {count:,} entries; the limit is {limit:,} "
                                  f"(see Limits in the README)")

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of keys to values")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            if key not in allowed:
                # a transposition (imie) is the likeliest typo; difflib ranks it no higher
                close = [k for k in allowed if sorted(k) == sorted(key)] or \
                    difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else \
                    f"; known keys: {', '.join(allowed)}"
                raise self.fail(key_node, f"unknown key '{key}'{hint}")
            if key in out:
                raise self.fail(key_node, f"'{key}' given twice")
            out[key] = value_node
        return out

    # -- one reader per kind of value -----------------------------------------------------

    def identifier(self, key: str, node: yaml.Node, value: str) -> str:
        validate = getattr(self, f"check_{key}", None)
        if validate:
            return validate(node, value)
        return value

    def check_imei(self, node: yaml.Node, value: str) -> str:
        digits = value.replace("-", "").replace(" ", "")
        if not digits.isdigit() or not 14 <= len(digits) <= 16:
            raise self.fail(node, f"imei {quote(value)} is not 14-16 digits")
        return digits

    def check_imsi(self, node: yaml.Node, value: str) -> str:
        if not value.isdigit() or not 6 <= len(value) <= 15:
            raise self.fail(node, f"imsi {quote(value)} is not 6-15 digits")
        return value

    def check_iccid(self, node: yaml.Node, value: str) -> str:
        if not value.isalnum() or not 18 <= len(value) <= 22:
            raise self.fail(node, f"iccid {quote(value)} is not 18-22 digits")
        return value

    def check_mac_address(self, node: yaml.Node, value: str) -> str:
        if not _HEX12.fullmatch(re.sub(r"[:.\-]", "", value)):
            raise self.fail(node, f"mac_address {quote(value)} is not 6 hex bytes "
                                  f"(like \"64:09:80:3a:5c:7e\")")
        return value

    def check_email(self, node: yaml.Node, value: str) -> str:
        if "@" not in value:
            raise self.fail(node, f"email {quote(value)} has no '@'")
        return value

    def check_phone_number(self, node: yaml.Node, value: str) -> str:
        self.phone(node, value)
        return value

    def phone(self, node: yaml.Node, value: str) -> phonenumbers.PhoneNumber:
        try:
            number = phonenumbers.parse(value, self.region or None)
        except phonenumbers.NumberParseException as e:
            need = "" if self.region else "; give 'region' or write it with +country code"
            raise self.fail(node, f"phone number {quote(value)} cannot be read ({e}){need}") from None
        if not phonenumbers.is_possible_number(number):
            raise self.fail(node, f"phone number {quote(value)} is not a possible number "
                                  f"for its region")
        return number

    def check_region(self, node: yaml.Node, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise self.fail(node, f"region {quote(value)} is not a two-letter region code "
                                  f"phonenumbers knows (like CN, DE, US)")
        return region

    def contacts(self, node: yaml.Node) -> tuple[Contact, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "contacts must be a list of {name: ..., phone: ...}")
        out = []
        self.count(node, "contacts", len(node.value), MAX_CONTACTS)
        for item in node.value:
            entry = self.mapping(item, "a contact", ("name", "phone"))
            if not entry:
                raise self.fail(item, "a contact needs a name or a phone")
            name = self.text(entry["name"], "name") if "name" in entry else ""
            phone = self.text(entry["phone"], "phone") if "phone" in entry else ""
            if phone:
                self.phone(entry["phone"], phone)
            out.append(Contact(name=name, phone=phone))
        return tuple(out)

    def location(self, node: yaml.Node) -> Location:
        entry = self.mapping(node, "location", ("lat", "lon"))
        if set(entry) != {"lat", "lon"}:
            raise self.fail(node, "location needs both lat and lon")
        values = {}
        for key, limit in (("lat", 90.0), ("lon", 180.0)):
            text = self.text(entry[key], key)
            if not _NUMBER.fullmatch(text) or abs(float(text)) > limit:
                raise self.fail(entry[key], f"{key} {quote(text)} is not a number "
                                            f"between -{limit:g} and {limit:g}")
            values[key] = text
        return Location(float(values["lat"]), float(values["lon"]), values["lat"], values["lon"])

    def profile(self, root: yaml.Node) -> DeviceProfile:
        entries = self.mapping(root, "a device profile", _KNOWN_KEYS)
        if "region" in entries:
            self.region = self.check_region(entries["region"],
                                            self.text(entries["region"], "region"))
        values: dict[str, object] = {"source_path": self.path, "region": self.region}
        for key, node in entries.items():
            if key == "region":
                continue
            if key in ("name", "vendor"):
                values[key] = self.text(node, key)
            elif key in IDENTIFIER_KEYS:
                values[key] = tuple(dict.fromkeys(self.identifier(key, item, text)
                                                  for item, text in self.texts(node, key)))
            elif key == "sms":
                values[key] = tuple(text for _, text in self.texts(node, key))
            else:
                values[key] = getattr(self, key)(node)
        return DeviceProfile(**values)


def load_profile(path: str) -> DeviceProfile:
    """Read `device.yaml`. Raises InputError naming the file and line on bad input."""
    try:
        text = read_yaml_text(path, "device profile")
    except FileNotFoundError:
        raise InputError(f"{path}: no such device profile; check the --device path") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the device profile: {e.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"{mark.line + 1}:" if mark else ""
        raise InputError(f"{path}:{line} not valid YAML: {e.problem or e.context}; "
                         f"fix the syntax") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML: {e}") from None
    if root is None:
        return DeviceProfile(source_path=path)
    return _Reader(path).profile(root)

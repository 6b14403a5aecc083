"""Key hints and placeholders for pattern mode, read from `rules/key-hints.yaml`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from auditor import BUNDLED_RULES
from auditor.model import InputError
from auditor.yamlcheck import read_yaml_text

#: The bundled hint list (installed package data, or rules/ of the clone).
BUNDLED_HINTS = BUNDLED_RULES / "key-hints.yaml"

HINTED_KINDS = ("imei", "meid", "imsi", "iccid", "phone_number", "mac_address", "android_id",
                "advertising_id", "latitude", "longitude", "account_id", "device_id", "mcc")
STRUCTURE_ROLES = ("contact_name", "contact_phone", "sms_address", "sms_body", "sms_date")

_CACHE_LIMIT = 65536
_SEGMENT = re.compile(r"[^.\[\]/$]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
#: The key written just before a value in unparsed text: `imei=`, `"imei": "`, `imei: `.
_LOCAL_KEY_REACH = 48
_AFTER_SEPARATOR = b"\"' \t\n\r\f\v"
_LOCAL_KEY = re.compile(rb"([A-Za-z][A-Za-z0-9_\-]{0,40})[\"']?\s*[:=]\s*[\"']?\Z")


def normalise_key(key: str) -> str:
    """The last segment of a key path, lower-cased, letters and digits only. Protobuf
    field numbers (`pb:3.1`) name nothing."""
    if key.startswith("pb:"):
        return ""
    segments = [s for s in _SEGMENT.findall(key) if not s.isdigit()]
    return _NOT_ALNUM.sub("", segments[-1].lower()) if segments else ""


def local_key(text: bytes, start: int) -> str:
    """The key written immediately before position `start` in `text`, normalised."""
    # most values follow no key: a `:` or `=` must end the text before them (bar quotes
    # and spaces) before the regex, which tries every start position, is worth running
    window = max(0, start - _LOCAL_KEY_REACH)
    if not text[window:start].rstrip(_AFTER_SEPARATOR).endswith((b":", b"=")):
        return ""
    match = _LOCAL_KEY.search(text, window, start)
    return normalise_key(match.group(1).decode("ascii")) if match else ""


@dataclass
class KeyHints:
    """Which keys name which kind of identifier, and which values are placeholders."""

    exact: dict[str, frozenset[str]]  # kind -> normalised keys that must match exactly
    contains: dict[str, tuple[str, ...]]  # kind -> substrings of a normalised key
    placeholders: frozenset[str]
    structure: dict[str, frozenset[str]]  # role -> normalised field names
    source: str = ""
    #: normalised keys naming numbers of other kinds (orders, payments): exact, contains
    other_numbers: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())
    _kinds_cache: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _normalised_cache: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _other_cache: dict[str, bool] = field(default_factory=dict, repr=False)

    def kinds_of(self, key: str) -> frozenset[str]:
        """The kinds of identifier a (raw) key names."""
        kinds = self._kinds_cache.get(key)
        if kinds is None:
            if len(self._kinds_cache) >= _CACHE_LIMIT:  # array paths make keys unbounded
                self._kinds_cache.clear()
            kinds = self.kinds_of_normalised(normalise_key(key))
            self._kinds_cache[key] = kinds
        return kinds

    def kinds_of_normalised(self, name: str) -> frozenset[str]:
        """The kinds a normalised key names; cached, as the same keys come again and again."""
        kinds = self._normalised_cache.get(name)
        if kinds is None:
            if len(self._normalised_cache) >= _CACHE_LIMIT:
                self._normalised_cache.clear()
            kinds = frozenset(kind for kind in HINTED_KINDS
                              if name and (name in self.exact[kind]
                                           or any(p in name for p in self.contains[kind])))
            self._normalised_cache[name] = kinds
        return kinds

    def names_other_number(self, key: str) -> bool:
        """Whether a (raw) key names a number that is no identifier: `$.orders[0].id`,
        `order_no`, `invoiceId`. A shape alone under such a key is an order id, not an IMEI."""
        other = self._other_cache.get(key)
        if other is None:
            if len(self._other_cache) >= _CACHE_LIMIT:
                self._other_cache.clear()
            name = normalise_key(key)
            exact, contains = self.other_numbers
            other = bool(name) and (name in exact or any(p in name for p in contains))
            self._other_cache[key] = other
        return other

    def words(self, kind: str) -> tuple[bytes, ...]:
        """Every hint of a kind as lower-case bytes, for a cheap `in` prefilter over text
        lower-cased and stripped of '_' and '-' (as keys are normalised)."""
        return tuple(w.encode() for w in (*self.exact[kind], *self.contains[kind]))

    def is_placeholder(self, value: str) -> bool:
        """`unknown`, `02:00:00:00:00:00`, `000000000000000`, ...: never a leak."""
        lowered = value.strip().lower()
        return lowered in self.placeholders or len(set(_NOT_ALNUM.sub("", lowered))) <= 1


def _strings(path: str, where: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{path}: {where} must be a list of strings")
    return value


def load_key_hints(path: str | None = None) -> KeyHints:
    """Read a key-hints file (the bundled one without `path`). Raises InputError."""
    if path is None:
        path = str(BUNDLED_HINTS)
    try:
        data = yaml.safe_load(read_yaml_text(path, "key-hints file"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such key-hints file") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        raise InputError(f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML: "
                         f"{e.problem}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InputError(f"{path}: cannot read key hints: {e}") from None
    sections = {"hints", "placeholders", "structure", "other_numbers"}
    if not isinstance(data, dict) or set(data) - sections:
        raise InputError(f"{path}: expected the sections {', '.join(sorted(sections))}")
    hints = data.get("hints") or {}
    for name in ("hints", "structure"):
        if not isinstance(data.get(name) or {}, dict):
            raise InputError(f"{path}: {name} takes a mapping of kinds to their key lists")
    unknown = set(hints) - set(HINTED_KINDS)
    if unknown:
        raise InputError(f"{path}: unknown hint kind {min(unknown)!r}; "
                         f"known: {', '.join(HINTED_KINDS)}")
    exact, contains = {}, {}
    for kind in HINTED_KINDS:
        entry = hints.get(kind) or {}
        if not isinstance(entry, dict) or set(entry) - {"exact", "contains"}:
            raise InputError(f"{path}: hints.{kind} takes only 'exact' and 'contains' lists")
        exact[kind] = frozenset(_strings(path, f"hints.{kind}.exact", entry.get("exact", [])))
        contains[kind] = tuple(_strings(path, f"hints.{kind}.contains",
                                        entry.get("contains", [])))
    structure_data = data.get("structure") or {}
    structure = {role: frozenset(_strings(path, f"structure.{role}",
                                          structure_data.get(role, [])))
                 for role in STRUCTURE_ROLES}
    placeholders = frozenset(p.lower() for p in _strings(path, "placeholders",
                                                         data.get("placeholders", [])))
    other = data.get("other_numbers") or {}
    if not isinstance(other, dict) or set(other) - {"exact", "contains"}:
        raise InputError(f"{path}: other_numbers takes only 'exact' and 'contains' lists")
    other_numbers = (frozenset(_strings(path, "other_numbers.exact", other.get("exact", []))),
                     tuple(_strings(path, "other_numbers.contains", other.get("contains", []))))
    return KeyHints(exact, contains, placeholders, structure, source=path,
                    other_numbers=other_numbers)

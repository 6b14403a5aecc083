"""What an app declares (Google Play Data safety, Apple App Privacy) against what it sends.

A declaration file (`--declared FILE`, or `declared.yaml` in a case folder):

    kind: declaration
    store: google-play               # google-play | apple
    app: [com.example.weather, Weather]  # optional: the app it speaks for (package, app
                                     # name or uid:N globs; a PCAPdroid pcap trailer has only
                                     # the name); without it, every upload is judged
    first_party: [weather.example]   # optional: the developer's own domains or organisations
    collected: [Device or other IDs, Approximate location]   # google-play: "Data collected"
    shared: [Device or other IDs]                            # google-play: "Data shared"
    # apple instead lists its three sections, all of which count as collected:
    # tracking: [...]  linked: [...]  not_linked: [...]

Data types are written as the store names them; `auditor/data/declared-types.yaml` maps
them to the auditor's. The declaration becomes two rules, judged like any policy (offline,
in `check` and live):

- `undeclared-collection`: personal data leaves the app but is not declared as collected;
- `undeclared-sharing` (Google Play only; Apple's label has no "shared" section): personal
  data goes to a third party — a receiver the organisation map or the Exodus list names,
  other than the declared `first_party` — but is not declared as shared. Unnamed receivers
  are not judged: who runs them cannot be told.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from auditor.judge.rules import AppConditions, DestinationConditions, Rule
from auditor.model import DATA_GROUPS, InputError, Severity
from auditor.yamlcheck import check_yaml_text

TYPE_MAP_FILE = Path(__file__).resolve().parent.parent / "data" / "declared-types.yaml"
STORES = ("google-play", "apple")
_SECTIONS = {"google-play": ("collected", "shared"), "apple": ("tracking", "linked", "not_linked")}
_STORE_LABELS = {"google-play": "Google Play Data safety section", "apple": "App Store privacy label"}
_PERSONAL = frozenset(DATA_GROUPS["personal-data"])


@lru_cache(maxsize=1)
def type_map() -> dict[str, dict[str, tuple[str, ...]]]:
    """store → the store's data type → our data types (the bundled table)."""
    raw = yaml.safe_load(TYPE_MAP_FILE.read_text(encoding="utf-8"))
    return {store: {name: tuple(types or ()) for name, types in table.items()}
            for store, table in raw.items()}


@dataclass(frozen=True)
class Declaration:
    """One app's declaration, as read from its file."""

    path: str  # as given
    sha256: str  # of the file, so a reader can check which declaration was judged
    store: str  # google-play | apple
    app: tuple[str, ...]  # app globs, () for every upload
    sections: dict[str, tuple[str, ...]]  # section → the store's data types as written
    first_party: tuple[str, ...]

    @property
    def collected(self) -> frozenset[str]:
        """Our data types the declaration says are collected."""
        table = type_map()[self.store]
        return frozenset(t for section in _SECTIONS[self.store]
                         for name in self.sections.get(section, ()) for t in table[name])

    @property
    def shared(self) -> frozenset[str] | None:
        """Our data types declared as shared; None where the store has no such section."""
        if self.store != "google-play":
            return None
        table = type_map()[self.store]
        return frozenset(t for name in self.sections.get("shared", ()) for t in table[name])

    @property
    def description(self) -> str:
        """For reports: the file, its hash, the store and the app."""
        app = f", for {' / '.join(self.app)}" if self.app else ""
        return f"{self.path} ({self.store}{app}), SHA-256 {self.sha256}"

    def rules(self) -> list[Rule]:
        """The rules this declaration sets for the uploads of its app."""
        sender = AppConditions(apps=self.app)
        label = _STORE_LABELS[self.store]
        out = []
        undeclared = _PERSONAL - self.collected
        if undeclared:
            out.append(Rule(
                id="undeclared-collection", severity=Severity.HIGH, data=frozenset(undeclared),
                title=f"Personal data leaves the app, but its {label} does not declare it "
                      f"as collected",
                description=f"The {label} in {self.description} declares as collected: "
                            f"{_listing(self.collected)}. This upload carries other "
                            f"personal data.",
                sender=sender, policy_file=self.path))
        shared = self.shared
        if shared is not None and _PERSONAL - shared:
            out.append(Rule(
                id="undeclared-sharing", severity=Severity.HIGH,
                data=frozenset(_PERSONAL - shared),
                title=f"Personal data goes to a third party, but the {label} declares it as "
                      f"not shared",
                description=f"The {label} in {self.description} declares as shared: "
                            f"{_listing(shared)}. The receiver is named by the organisation "
                            f"map or the Exodus tracker list and is not a declared first "
                            f"party. Google exempts transfers to service providers that "
                            f"process data on the developer's behalf: check whether this "
                            f"receiver is one.",
                to=DestinationConditions(third_party_of=self.first_party),
                sender=sender, policy_file=self.path))
        return out


def _listing(types: frozenset[str]) -> str:
    return ", ".join(sorted(types)) or "nothing the auditor detects"


def load_declaration(path: str) -> Declaration:
    """Read and check a declaration file; InputError `file:line: what is wrong`."""
    file = Path(path)
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
        check_yaml_text(str(path), text)  # NUL bytes, nesting: as every YAML file the tool reads
        root = yaml.compose(text)
    except OSError as e:
        raise InputError(f"{path}: cannot read the declaration: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}:1: not UTF-8 text (byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"{path}:{mark.line + 1 if mark else 1}: malformed YAML: "
                         f"{getattr(e, 'problem', None) or e}") from None
    if not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}:1: a declaration is a mapping with 'store:' and its data "
                         f"types (see README, 'Declared versus observed')")
    fields = {k.value: (k, v) for k, v in root.value}
    store_node = fields.get("store", (None, None))[1]
    store = store_node.value if isinstance(store_node, yaml.ScalarNode) else None
    if store not in STORES:
        node = store_node or root
        raise InputError(f"{path}:{node.start_mark.line + 1}: 'store:' must be one of "
                         f"{', '.join(STORES)}")
    allowed = ("kind", "store", "app", "first_party", *_SECTIONS[store])
    for name, (key, value) in fields.items():
        if name not in allowed:
            raise InputError(f"{path}:{key.start_mark.line + 1}: unknown key {name!r} for "
                             f"store {store} (allowed: {', '.join(allowed)})")
        if name == "kind" and value.value != "declaration":
            raise InputError(f"{path}:{value.start_mark.line + 1}: kind must be 'declaration'")
    table = type_map()[store]
    sections = {}
    for section in _SECTIONS[store]:
        if section in fields:
            sections[section] = tuple(_types(path, fields[section][1], table, store))
    if not sections:
        raise InputError(f"{path}:1: no data types: give {' and/or '.join(_SECTIONS[store])} "
                         f"(an empty list [] declares nothing)")
    app = tuple(_scalars(path, fields["app"][1], "app")) if "app" in fields else ()
    first = tuple(_scalars(path, fields["first_party"][1], "first_party")) \
        if "first_party" in fields else ()
    return Declaration(path=path, sha256=hashlib.sha256(raw).hexdigest(), store=store,
                       app=app, sections=sections, first_party=first)


def _scalar(path: str, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise InputError(f"{path}:{node.start_mark.line + 1}: {what} must be one non-empty text")
    return str(node.value).strip()


def _scalars(path: str, node: yaml.Node, what: str) -> list[str]:
    if isinstance(node, yaml.ScalarNode) and node.value in ("", None):
        return []
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return [_scalar(path, item, f"each item of {what}") for item in items]


def _types(path: str, node: yaml.Node, table: dict, store: str) -> list[str]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    names = []
    for item in items:
        name = _scalar(path, item, "a data type")
        if name not in table:
            close = difflib.get_close_matches(name, list(table), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(f"{path}:{item.start_mark.line + 1}: unknown {store} data type "
                             f"{name!r} ({hint}see auditor/data/declared-types.yaml)")
        names.append(name)
    return names

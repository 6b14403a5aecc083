"""The domain → organisation map (`rules/organisations.yaml`): who runs a host.

A host belongs to an organisation when one of the organisation's domains is the host or a
suffix of it at a label boundary (`api.account.xiaomi.com` → `xiaomi.com`); the longest
listed suffix wins, so a map can give a subdomain its own owner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from auditor import BUNDLED_RULES
from auditor.model import InputError
from auditor.yamlcheck import read_yaml_text

BUNDLED_ORGANISATIONS = BUNDLED_RULES / "organisations.yaml"

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_ENTRY_KEYS = ("name", "aliases", "domains", "source", "notes")


@dataclass(frozen=True)
class Organisation:
    name: str
    aliases: tuple[str, ...]  # other names a device profile's `vendor:` may use
    domains: tuple[str, ...]
    source: tuple[str, ...]  # where the ownership of these domains is documented

    def is_named(self, name: str) -> bool:
        name = name.strip().lower()
        return name == self.name.lower() or name in (a.lower() for a in self.aliases)


class OrganisationMap:
    """Looks up the organisation behind a host name."""

    def __init__(self, organisations: list[Organisation]) -> None:
        self.organisations = organisations
        self._by_domain = {d: o for o in organisations for d in o.domains}

    def owner(self, host: str) -> Organisation | None:
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            owner = self._by_domain.get(".".join(labels[start:]))
            if owner:
                return owner
        return None

    def named(self, name: str) -> Organisation | None:
        """The organisation a name or alias (e.g. a profile's `vendor:`) refers to."""
        return next((o for o in self.organisations if o.is_named(name)), None)


def load_organisations(path: str | Path | None = None) -> OrganisationMap:
    """Read a map file (default: the bundled one). Raises InputError with file:line."""
    path = Path(path) if path else BUNDLED_ORGANISATIONS
    try:
        # UTF-8, NUL bytes, nesting: checked as every YAML file the tool reads
        root = yaml.compose(read_yaml_text(path, "organisation map"))
    except OSError as e:
        raise InputError(f"{path}: cannot read the organisation map: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"{path}:{mark.line + 1 if mark else 1}: malformed YAML: "
                         f"{getattr(e, 'problem', None) or e}") from None
    entries = _top_entries(path, root)
    organisations, owners = [], {}
    for node in entries.value:
        organisation = _entry(path, node)
        for domain in organisation.domains:
            if domain in owners:
                raise InputError(f"{path}:{node.start_mark.line + 1}: domain {domain!r} is "
                                 f"already listed for {owners[domain]}")
            owners[domain] = organisation.name
        organisations.append(organisation)
    return OrganisationMap(organisations)


def _fail(path: Path, node: yaml.Node, message: str) -> InputError:
    return InputError(f"{path}:{node.start_mark.line + 1}: {message}")


def _top_entries(path: Path, root: yaml.Node | None) -> yaml.SequenceNode:
    if not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}:1: an organisation map is a mapping with 'organisations:'")
    top = {k.value: v for k, v in root.value}
    unknown = set(top) - {"kind", "organisations", "description"}
    if unknown:
        key = next(k for k, _ in root.value if k.value in unknown)
        raise _fail(path, key, f"unknown key {key.value!r} (allowed: kind, description, "
                               f"organisations)")
    entries = top.get("organisations")
    if not isinstance(entries, yaml.SequenceNode):
        raise _fail(path, entries or root, "'organisations' must be a list of entries")
    return entries


def _entry(path: Path, node: yaml.Node) -> Organisation:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node, "each organisation is a mapping with name, domains, source")
    fields: dict[str, tuple[str, ...]] = {}
    for key, value in node.value:
        if key.value not in _ENTRY_KEYS:
            raise _fail(path, key, f"unknown key {key.value!r} (allowed: "
                                   f"{', '.join(_ENTRY_KEYS)})")
        items = value.value if isinstance(value, yaml.SequenceNode) else [value]
        if not all(isinstance(i, yaml.ScalarNode) for i in items):
            raise _fail(path, value, f"{key.value} must be text or a list of texts")
        fields[key.value] = tuple(str(i.value).strip() for i in items)
    for required in ("name", "domains", "source"):
        if not fields.get(required):
            raise _fail(path, node, f"an organisation needs '{required}:'")
    for domain in fields["domains"]:
        if not _DOMAIN.match(domain):
            raise _fail(path, node, f"{domain!r} is not a lower-case domain name")
    return Organisation(name=fields["name"][0], aliases=fields.get("aliases", ()),
                        domains=fields["domains"], source=fields["source"])

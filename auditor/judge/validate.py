"""`auditor rules validate`: policy files, organisation maps and key-hints files, each told
from its content (not its name), every mistake as `file:line: what is wrong`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from auditor.model import InputError
from auditor.yamlcheck import read_yaml_text

POLICY, ORGANISATIONS, KEY_HINTS = "policy", "organisations", "key-hints"
_KEY_HINT_SECTIONS = frozenset({"hints", "placeholders", "structure", "other_numbers"})


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    files: dict[str, list[str]] = field(default_factory=dict)  # kind → shown paths
    rules: int = 0
    organisations: int = 0

    def summary(self) -> str:
        """`2 policy files (9 rules), 1 organisation map (40 organisations), 1 key-hints file`."""
        parts = []
        for kind, one, many in ((POLICY, "policy file", "policy files"),
                                (ORGANISATIONS, "organisation map", "organisation maps"),
                                (KEY_HINTS, "key-hints file", "key-hints files")):
            n = len(self.files.get(kind, []))
            if not n:
                continue
            text = f"{n} {one if n == 1 else many}"
            if kind == POLICY:
                text += f" ({self.rules} rule{'s' * (self.rules != 1)})"
            if kind == ORGANISATIONS:
                text += f" ({self.organisations} organisations)"
            parts.append(text)
        return ", ".join(parts) or "no files"


def kind_of(path: Path) -> str:
    """What a YAML file is, from its top level: `kind: organisations` or an `organisations:`
    list, the sections of a key-hints file, else a policy (whose reader reports mistakes)."""
    try:
        root = yaml.compose(read_yaml_text(path))  # checked: no recursion on deep nesting
    except (yaml.YAMLError, OSError, InputError):
        return POLICY
    if not isinstance(root, yaml.MappingNode):
        return POLICY
    keys = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    kind = keys.get("kind")
    declared = kind.value if isinstance(kind, yaml.ScalarNode) else ""
    if declared == ORGANISATIONS or (not declared and "organisations" in keys):
        return ORGANISATIONS
    if declared == KEY_HINTS or (not declared and keys and set(keys) <= _KEY_HINT_SECTIONS):
        return KEY_HINTS
    return POLICY


def _expand(paths: list[str]) -> list[tuple[Path, str]]:
    out = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += [(child, os.path.join(raw, child.name)) for child in sorted(path.iterdir())
                    if child.is_file() and child.suffix in (".yaml", ".yml")]
        elif path.is_file():
            out.append((path, raw))
        else:
            raise InputError(f"{raw}: no such file or folder")
    return out


def validate(paths: list[str]) -> Validation:
    """Every file named (folders expanded, not recursively), each checked as what it is."""
    from auditor.detect.hints import load_key_hints
    from auditor.judge.loader import validate_files
    from auditor.judge.organisations import load_organisations

    result = Validation()
    policies = []
    for path, shown in _expand(paths):
        kind = kind_of(path)
        result.files.setdefault(kind, []).append(shown)
        if kind == POLICY:
            policies.append(shown)
            continue
        try:
            if kind == ORGANISATIONS:
                result.organisations += len(load_organisations(path).organisations)
            else:
                load_key_hints(str(path))
        except InputError as e:
            result.errors.append(str(e))
    if policies:
        from auditor.judge.loader import load_policies

        errors = validate_files(policies)
        result.errors += errors
        if not errors:
            result.rules = len(load_policies(policies).rules)
    return result

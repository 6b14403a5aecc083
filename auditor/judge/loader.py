"""Reading policy files, with `file:line: what is wrong` for every mistake.

Files are parsed with `yaml.compose`, so every value keeps its line, and values are taken
as the text that was written (YAML 1.1 would read the country code `NO` as false).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from auditor import BUNDLED_RULES
from auditor.judge.countries import COUNTRY_GROUPS, ISO_COUNTRIES, expand_countries
from auditor.judge.hosts import host_glob_problem, path_glob_problem
from auditor.judge.rules import (
    CONSENTS,
    ENCODINGS,
    MATCHES,
    PARTIES,
    TRANSPORTS,
    AppConditions,
    DestinationConditions,
    OptInMatcher,
    PolicySet,
    Rule,
)
from auditor.judge.trackers import CATEGORIES
from auditor.model import DATA_GROUPS, DATA_TYPES, InputError, Severity, expand_data
from auditor.yamlcheck import check_yaml_text, quote, read_yaml_text

#: Files in a rules folder that are data, not policies (they declare another `kind:`).
DATA_FILE_NAMES = frozenset({"key-hints.yaml", "organisations.yaml"})

_TOP_KEYS = ("kind", "name", "description", "consent", "rules")
_RULE_KEYS = ("id", "title", "severity", "description", "when", "references", "false_positives")
_WHEN_KEYS = ("data", "consent", "transport", "encoding", "match", "to", "from")
_TO_KEYS = ("hosts", "not_hosts", "countries", "not_countries", "organisations",
            "not_organisations", "party", "trackers", "categories")
_FROM_KEYS = ("apps", "not_apps")
_OPT_IN_KEYS = ("method", "host", "path", "query", "body")
_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class PolicyError(Exception):
    """One mistake in a policy file, at a line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    # Swapped letters are the commonest typo; difflib alone ranks 'imie' nearer 'imsi'.
    swapped = [c for c in choices if sorted(c) == sorted(word)]
    close = swapped or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def suggest(word: str, choices: list[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or ""."""
    hint = _suggest(word, list(choices))
    return f" ({hint.strip()})" if hint else ""


class _FileReader:
    """Validates one composed policy file, collecting every error instead of stopping."""

    def __init__(self, shown_path: str) -> None:
        self.path = shown_path
        self.errors: list[PolicyError] = []

    def error(self, node: yaml.Node, message: str) -> None:
        self.errors.append(PolicyError(_line(node), message))

    # -- node helpers ---------------------------------------------------------------------

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]
                ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping's entries by key; unknown and repeated keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping of keys to values")
            return {}
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in allowed:
                self.error(key_node, f"unknown key {quote(key)} in {what} "
                                     f"({_suggest(key, allowed)}allowed: {', '.join(allowed)})")
            elif key in entries:
                self.error(key_node, f"{quote(key)} given twice in {what}")
            else:
                entries[key] = (key_node, value_node)
        return entries

    def scalar(self, node: yaml.Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, f"{what} must be a single value")
            return None
        return str(node.value)

    def scalars(self, node: yaml.Node, what: str) -> list[tuple[yaml.Node, str]]:
        """A list of scalars (a lone scalar counts as a list of one), with their nodes."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for item in items:
            text = self.scalar(item, f"each item of {what}")
            if text is not None:
                out.append((item, text))
        return out

    def choice(self, node: yaml.Node, what: str, choices: tuple[str, ...]) -> str | None:
        text = self.scalar(node, what)
        if text is not None and text not in choices:
            self.error(node, f"bad {what} {quote(text)} ({_suggest(text, choices)}"
                             f"one of: {', '.join(choices)})")
            return None
        return text

    # -- the file -------------------------------------------------------------------------

    def read(self, root: yaml.Node) -> tuple[list[Rule], list[OptInMatcher]]:
        top = self.mapping(root, "a policy file", _TOP_KEYS)
        if "kind" in top and top["kind"][1].value != "policy":
            self.error(top["kind"][1], f"kind {quote(top['kind'][1].value)} is not a policy; "
                                       f"a policy file has 'kind: policy' or no kind")
        if isinstance(root, yaml.MappingNode) and "rules" not in top and "consent" not in top:
            self.error(root, "not a policy: no 'rules:' and no 'consent:'")
        opt_in = self.consent(top["consent"][1]) if "consent" in top else []
        rules: list[Rule] = []
        if "rules" in top:
            node = top["rules"][1]
            if isinstance(node, yaml.SequenceNode):
                rules = [r for r in (self.rule(item) for item in node.value) if r]
            else:
                self.error(node, "'rules' must be a list of rules (each starting with '- id:')")
        return rules, opt_in

    def consent(self, node: yaml.Node) -> list[OptInMatcher]:
        entries = self.mapping(node, "consent", ("opt_in",))
        if "opt_in" not in entries:
            return []
        listing = entries["opt_in"][1]
        if not isinstance(listing, yaml.SequenceNode):
            self.error(listing, "consent.opt_in must be a list of requests, "
                                "e.g. - {method: POST, host: '*.example.com', path: '/consent*'}")
            return []
        matchers = []
        for item in listing.value:
            parts = self.mapping(item, "an opt_in entry", _OPT_IN_KEYS)
            values = {k: self.scalar(v, f"opt_in {k}") or "" for k, (_, v) in parts.items()}
            if not parts and isinstance(item, yaml.MappingNode):
                self.error(item, "an empty opt_in entry would match every request")
            for key, check in (("host", host_glob_problem), ("path", path_glob_problem)):
                if values.get(key) and (problem := check(values[key])):
                    self.error(parts[key][1], problem)
            matchers.append(OptInMatcher(**values, policy_file=self.path, line=_line(item)))
        return matchers

    def rule(self, node: yaml.Node) -> Rule | None:
        errors_before = len(self.errors)
        entries = self.mapping(node, "a rule", _RULE_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        for required in ("id", "title", "severity", "when"):
            if required not in entries:
                self.error(node, f"a rule needs '{required}:'")
        values = {k: self.scalar(v, k) for k, (_, v) in entries.items()
                  if k in ("id", "title", "description")}
        rule_id = values.get("id")
        if rule_id is not None and not _KEBAB.match(rule_id):
            self.error(entries["id"][1], f"rule id {quote(rule_id)} must be kebab-case "
                                         f"(lower-case words joined by '-')")
        severity = None
        if "severity" in entries:
            names = tuple(str(s) for s in Severity)
            text = self.choice(entries["severity"][1], "severity", names)
            severity = Severity.parse(text) if text else None
        when = self.when(entries["when"][1]) if "when" in entries else None
        lists = {k: tuple(t for _, t in self.scalars(entries[k][1], k))
                 for k in ("references", "false_positives") if k in entries}
        if len(self.errors) > errors_before or when is None or severity is None:
            return None
        return Rule(id=rule_id or "", title=values.get("title") or "", severity=severity,
                    description=" ".join((values.get("description") or "").split()),
                    **when, references=lists.get("references", ()),
                    false_positives=lists.get("false_positives", ()),
                    policy_file=self.path, line=_line(entries["id"][1]))

    def when(self, node: yaml.Node) -> dict | None:
        entries = self.mapping(node, "when", _WHEN_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        if "data" not in entries:
            self.error(node, "'when' needs 'data:' (data types or groups)")
            return None
        known = tuple(DATA_GROUPS) + DATA_TYPES
        names = []
        for item, name in self.scalars(entries["data"][1], "data"):
            if name in known:
                names.append(name)
            else:
                self.error(item, f"unknown data type {quote(name)} ({_suggest(name, known)}"
                                 f"known: {', '.join(known)})")
        out: dict = {"data": expand_data(names)}
        for key, choices in (("consent", CONSENTS), ("transport", TRANSPORTS),
                             ("encoding", ENCODINGS), ("match", MATCHES)):
            if key in entries:
                out[key] = self.choice(entries[key][1], key, choices) or "any"
        if "to" in entries:
            out["to"] = self.destination(entries["to"][1])
        if "from" in entries:
            out["sender"] = self.sender(entries["from"][1])
        return out

    def sender(self, node: yaml.Node) -> AppConditions:
        entries = self.mapping(node, "from", _FROM_KEYS)
        values: dict = {}
        for key in _FROM_KEYS:
            if key in entries:
                globs = self.scalars(entries[key][1], key)
                for item, glob in globs:
                    if not glob.strip():
                        self.error(item, f"an empty app in from.{key} would name no app; give "
                                         f"a package (com.example.app), an app name or uid:N")
                values[key] = tuple(g.strip() for _, g in globs if g.strip())
        return AppConditions(**values)

    def destination(self, node: yaml.Node) -> DestinationConditions:
        entries = self.mapping(node, "to", _TO_KEYS)
        values: dict = {}
        for key in ("hosts", "not_hosts"):
            if key in entries:
                globs = self.scalars(entries[key][1], key)
                for item, glob in globs:
                    if problem := host_glob_problem(glob):
                        self.error(item, problem)
                values[key] = tuple(g.lower() for _, g in globs)
        for key in ("countries", "not_countries"):
            if key in entries:
                values[key] = expand_countries(self.countries(entries[key][1], key))
        for key in ("organisations", "not_organisations"):
            if key in entries:
                values[key] = frozenset(o.lower() for _, o in self.scalars(entries[key][1], key))
        if "party" in entries:
            values["party"] = self.choice(entries["party"][1], "party", PARTIES)
        if "trackers" in entries:
            values["trackers"] = self.tracker_names(entries["trackers"][1])
        if "categories" in entries:
            values["categories"] = frozenset(
                c for item, c in self.scalars(entries["categories"][1], "categories")
                if self.choice(item, "tracker category", CATEGORIES))
        return DestinationConditions(**values)

    def tracker_names(self, node: yaml.Node) -> frozenset[str]:
        """SDK names of the Exodus list, checked against it (case-insensitive)."""
        from auditor.judge.trackers import bundled_trackers

        known = bundled_trackers().by_name
        names = set()
        for item, name in self.scalars(node, "trackers"):
            if name.lower() in known:
                names.add(name.lower())
            else:
                choices = [t.name for t in known.values()]
                self.error(item, f"unknown tracker {name!r} ({_suggest(name, choices)}give an "
                                 f"SDK name of the Exodus list, see `auditor trackers list`)")
        return frozenset(names)

    def countries(self, node: yaml.Node, what: str) -> list[str]:
        codes = []
        choices = tuple(sorted(ISO_COUNTRIES)) + tuple(COUNTRY_GROUPS)
        for item, code in self.scalars(node, what):
            if code.upper() in ISO_COUNTRIES or code.upper() in COUNTRY_GROUPS:
                codes.append(code)
            else:
                self.error(item, f"unknown country {quote(code)} in {what} "
                                 f"({_suggest(code.upper(), choices)}give ISO 3166 "
                                 f"alpha-2 codes such as DE or CN, or a group: EU, EEA)")
        return codes


# --- files and folders ------------------------------------------------------------------


def _shown(path: Path) -> str:
    """A path as users should read it: bundled files relative to the project."""
    try:
        return str(path.resolve().relative_to(BUNDLED_RULES.parent))
    except ValueError:
        return str(path)


def _policy_files(paths: list[str]) -> Iterator[tuple[Path, str]]:
    """Every policy file named, folders expanded (sorted, not recursive, data files
    skipped), each with how it is shown. A missing path raises InputError."""
    for raw in paths:
        path = Path(raw)
        shown = _shown(path) if path.is_absolute() else raw
        if path.is_dir():
            for child in sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")):
                if child.is_file() and child.name not in DATA_FILE_NAMES \
                        and not _declares_other_kind(child):
                    yield child, os.path.join(shown, child.name)
        elif path.is_file():
            yield path, shown
        else:
            raise InputError(f"{raw}: no such policy file or folder; check the --policy path")


def _sha256(path: Path) -> str:
    """The file's SHA-256, so a report can say exactly which policy judged it."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _declares_other_kind(path: Path) -> bool:
    """Whether a file's top level says `kind: <something other than policy>`."""
    try:
        root = yaml.compose(read_yaml_text(path))  # checked: no recursion on deep nesting
    except (yaml.YAMLError, OSError, InputError):
        return False  # reading it as a policy reports the problem properly
    if not isinstance(root, yaml.MappingNode):
        return False
    return any(k.value == "kind" and isinstance(v, yaml.ScalarNode) and v.value != "policy"
               for k, v in root.value)


def _read_file(path: Path, shown: str) -> tuple[list[Rule], list[OptInMatcher], list[str]]:
    """One file's rules and opt-in matchers, and its errors as `file:line: message`."""
    try:
        text = path.read_text(encoding="utf-8")
        check_yaml_text(shown, text)
    except UnicodeDecodeError as e:
        return [], [], [f"{shown}:1: not UTF-8 text (byte {e.start}); save it as UTF-8"]
    except InputError as e:
        return [], [], [str(e)]
    except OSError as e:
        return [], [], [f"{shown}:1: cannot read: {e.strerror}"]
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        return [], [], [f"{shown}:{line}: malformed YAML: {problem}"]
    if root is None:
        return [], [], [f"{shown}:1: the file is empty; a policy needs 'rules:' or 'consent:'"]
    reader = _FileReader(shown)
    rules, opt_in = reader.read(root)
    errors = sorted(reader.errors, key=lambda e: e.line)
    return rules, opt_in, [f"{shown}:{e.line}: {e.message}" for e in errors]


def _read_all(paths: list[str]) -> tuple[PolicySet, list[str]]:
    policies, errors = PolicySet(), []
    first_seen: dict[str, Rule] = {}
    for path, shown in _policy_files(paths):
        rules, opt_in, file_errors = _read_file(path, shown)
        errors.extend(file_errors)
        policies.files.append(shown)
        policies.digests[shown] = _sha256(path)
        policies.opt_in.extend(opt_in)
        for rule in rules:
            if rule.id in first_seen:
                first = first_seen[rule.id]
                errors.append(f"{shown}:{rule.line}: duplicate rule id {quote(rule.id)}, already "
                              f"defined at {first.policy_file}:{first.line}; ids are unique")
                continue
            first_seen[rule.id] = rule
            policies.rules.append(rule)
    return policies, errors


def load_policies(paths: list[str] | None) -> PolicySet:
    """The rules of the given files and folders; none given → the bundled `rules/` folder.
    Raises InputError naming the first mistake (and how many more there are)."""
    policies, errors = _read_all([str(p) for p in paths] if paths else [str(BUNDLED_RULES)])
    if errors:
        more = f" (and {len(errors) - 1} more; run `auditor rules validate`)" \
            if len(errors) > 1 else ""
        raise InputError(errors[0] + more)
    if not policies.files:
        raise InputError(f"{', '.join(paths or [str(BUNDLED_RULES)])}: no policy files "
                         f"(*.yaml) found")
    return policies


def validate_files(paths: list[str]) -> list[str]:
    """Every mistake in every file, as `file:line: message`; empty when all are valid."""
    try:
        return _read_all(paths)[1]
    except InputError as e:
        return [str(e)]

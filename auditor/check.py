"""`auditor check`: every case folder held to its `expect.yaml`.

A case folder holds a capture (pcap, pcapng, mitmproxy flows or HAR; a key log beside it is
used), a `device.yaml` and an `expect.yaml`:

```yaml
policies: [../../rules]          # relative to this file; default: the bundled rules/
device: device.yaml              # default: device.yaml beside this file
opt_in_at: null                  # ISO 8601 or epoch seconds; default: from the policies
captures: [capture.pcap]         # default: every capture file in the folder
keylog: [keys.log]               # default: keys.log / *.keylog / sslkeylog*.txt beside it
allow_unexpected: false          # a finding no entry matches fails the case
declared: declared.yaml          # what the app declares (Data safety / privacy label);
                                 # default: declared.yaml beside this file, when present
expect:
  - {rule: no-identifiers-before-opt-in, host: "*.xiaomi.com", data: [imei], consent: before-opt-in}
  - {rule: no-cleartext-personal-data, count: 0}
```

Each `expect:` entry filters the findings by rule, host (glob), data (all listed types
present) and consent; without `count` it needs at least one such finding, with `count: N`
exactly N. A finding that no entry names is unexpected and fails the case: a new leak must
break the build.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from auditor.engine import AuditResult, analyze_files, build_audit
from auditor.model import DATA_GROUPS, DATA_TYPES, Finding, InputError, expand_data
from auditor.sources import sniff_kind
from auditor.suppress import GateResult, Suppression, apply_gates
from auditor.yamlcheck import compose_yaml, quote

EXPECT_FILE = "expect.yaml"
_CAPTURE_SUFFIXES = {".pcap", ".pcapng", ".cap", ".mitm", ".flows", ".flow", ".har"}
_KEYLOG_GLOBS = ("keys.log", "*.keylog", "sslkeylog*.txt", "keylog*.txt")
_TOP_KEYS = {"declared", "policies", "device", "opt_in_at", "captures", "keylog", "allow_unexpected",
             "expect", "description"}
_ENTRY_KEYS = {"rule", "host", "data", "consent", "count"}
_CONSENTS = {"before-opt-in", "after-opt-in"}


@dataclass(frozen=True)
class Expectation:
    """One `expect:` entry."""

    line: int
    rule: str | None = None
    host: str | None = None
    data: tuple[str, ...] = ()  # types, or groups (any type of the group counts)
    consent: str | None = None
    count: int | None = None

    def matches(self, finding: Finding) -> bool:
        if self.rule and not fnmatch.fnmatchcase(finding.rule, self.rule):
            return False
        if self.host and not fnmatch.fnmatch(finding.host.lower(), self.host.lower()):
            return False
        if self.consent and finding.consent != self.consent:
            return False
        present = set(finding.data_types)
        return all(expand_data([name]) & present for name in self.data)

    def describe(self) -> str:
        parts = [f"rule={self.rule}" if self.rule else "any rule"]
        if self.host:
            parts.append(f"host={self.host}")
        if self.data:
            parts.append(f"data={','.join(self.data)}")
        if self.consent:
            parts.append(f"consent={self.consent}")
        parts.append(f"count={self.count}" if self.count is not None else "at least one")
        return " ".join(parts)


@dataclass
class Case:
    """A case folder as its expect.yaml describes it."""

    name: str
    folder: Path
    expect_file: Path
    captures: list[str]
    keylogs: list[str]
    device: str | None
    policies: list[str] | None
    opt_in_at: str | None
    expectations: list[Expectation]
    allow_unexpected: bool = False
    declared: list[str] = field(default_factory=list)  # declaration files (judge/declared.py)


@dataclass
class CaseResult:
    case: Case
    result: AuditResult | None = None
    failed_expectations: list[tuple[Expectation, int]] = field(default_factory=list)  # (it, found)
    unexpected: list[Finding] = field(default_factory=list)
    gate: GateResult | None = None
    error: str = ""  # bad input: the case could not be run

    @property
    def passed(self) -> bool:
        expired = bool(self.gate and self.gate.expired)
        return not (self.error or self.failed_expectations or self.unexpected or expired)

    def problems(self) -> list[str]:
        """What failed, one line each, for terminal output and test failures."""
        lines = [f"error: {self.error}"] if self.error else []
        for exp, found in self.failed_expectations:
            want = f"exactly {exp.count}" if exp.count is not None else "at least 1"
            lines.append(f"{self.case.expect_file}:{exp.line}: expected {want} finding(s) "
                         f"with {exp.describe()}, found {found}")
        for finding in self.unexpected:
            lines.append(f"unexpected finding {finding.id} [{finding.severity}] {finding.rule} "
                         f"to {finding.host}: {', '.join(finding.data_types)} "
                         f"({finding.consent}) — {_evidence(finding)} — "
                         f"fingerprint {finding.fingerprint}")
        for s in self.gate.expired if self.gate else []:
            lines.append(f"{s.origin}: suppression expired on {s.expires} "
                         f"({s.reason}); review it or renew it")
        return lines


def _evidence(finding: Finding) -> str:
    obs = finding.observations[0] if finding.observations else None
    if obs is None:
        return "no evidence recorded"
    chain = " → ".join(obs.encodings)
    place = f"{obs.where}:{obs.key}" if obs.key else obs.where
    return f"{obs.data_type} in {place} via {chain}"


def discover_cases(root: str | Path) -> list[Path]:
    """Every expect.yaml under root (root itself may be a case folder or an expect.yaml)."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root}: no such folder; `auditor check` takes a folder of "
                         f"case folders (default captures/)")
    return sorted(root.rglob(EXPECT_FILE))


def load_case(expect_file: str | Path) -> Case:
    path = Path(expect_file)
    # one parse gives both the nodes (for line numbers) and the values
    root, data = compose_yaml(path, "expect.yaml")
    data = data or {}
    top = _mapping(path, root) if root is not None else {}
    for key, (knode, _) in top.items():
        if key not in _TOP_KEYS:
            raise InputError(f"{path}:{knode.start_mark.line + 1}: unknown key '{key}' "
                             f"(known: {', '.join(sorted(_TOP_KEYS))})")
    folder = path.parent

    def rel(items: object, what: str) -> list[str]:
        items = [items] if isinstance(items, str) else items
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            line = top[what][0].start_mark.line + 1
            raise InputError(f"{path}:{line}: '{what}' takes a path or a list of paths")
        return [str((folder / i).resolve()) for i in items]

    policies = rel(data["policies"], "policies") if data.get("policies") else None
    device = data.get("device", "device.yaml")
    device_path = str(folder / device) if device else None
    if device_path and not Path(device_path).is_file():
        if "device" in data:
            raise InputError(f"{path}:{top['device'][0].start_mark.line + 1}: device file "
                             f"{device_path} does not exist")
        device_path = None
    captures = rel(data["captures"], "captures") if "captures" in data else _find_captures(folder)
    if not captures:
        raise InputError(f"{path}: no capture file beside it (.pcap, .pcapng, .mitm, .har); "
                         f"add one or list them under `captures:`")
    keylogs = rel(data["keylog"], "keylog") if "keylog" in data else _find_keylogs(folder)
    opt_in = data.get("opt_in_at")
    declared = rel(data["declared"], "declared") if data.get("declared") else (
        [str(folder / "declared.yaml")] if (folder / "declared.yaml").is_file() else [])
    entries = top["expect"][1] if "expect" in top else None
    expectations = [] if entries is None else _expectations(path, entries)
    return Case(name=folder.name, folder=folder, expect_file=path, captures=captures,
                keylogs=keylogs, device=device_path, policies=policies,
                opt_in_at=None if opt_in is None else str(opt_in),
                expectations=expectations, allow_unexpected=bool(data.get("allow_unexpected")),
                declared=declared)


def _mapping(path: Path, node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise InputError(f"{path}:{node.start_mark.line + 1}: expected a mapping")
    return {k.value: (k, v) for k, v in node.value}


def _expectations(path: Path, node: yaml.Node) -> list[Expectation]:
    if not isinstance(node, yaml.SequenceNode):
        raise InputError(f"{path}:{node.start_mark.line + 1}: 'expect' takes a list of "
                         f"entries like {{rule: ID, host: GLOB, data: [TYPES], count: N}}")
    out = []
    for entry in node.value:
        line = entry.start_mark.line + 1
        fields = _mapping(path, entry)
        values = {}
        for key, (knode, vnode) in fields.items():
            if key not in _ENTRY_KEYS:
                raise InputError(f"{path}:{knode.start_mark.line + 1}: unknown key '{key}' in "
                                 f"an expectation (known: {', '.join(sorted(_ENTRY_KEYS))})")
            # the node's value as YAML reads it, constructed in place: serialising a node
            # and parsing that again fails on an empty value (`{host:, ...}`, a null)
            values[key] = yaml.constructor.SafeConstructor().construct_object(vnode, deep=True)
        data = values.get("data") or []
        if isinstance(data, str):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(d, str) for d in data):
            raise InputError(f"{path}:{line}: data takes a data type or a list of them, "
                             f"like [imei, phone_number]")
        for key in ("rule", "host"):  # one word each; a mapping or list is a typo
            if isinstance(values.get(key), dict | list):
                raise InputError(f"{path}:{line}: {key} takes one value, not "
                                 f"{quote(values[key])}")
            if values.get(key) is not None:
                values[key] = str(values[key])
        unknown = [d for d in data if d not in DATA_TYPES and d not in DATA_GROUPS]
        if unknown:
            raise InputError(f"{path}:{line}: unknown data type '{unknown[0]}' "
                             f"(known: {', '.join(DATA_TYPES)} and groups)")
        consent = values.get("consent")
        if consent is not None and (not isinstance(consent, str) or consent not in _CONSENTS):
            raise InputError(f"{path}:{line}: consent is before-opt-in or after-opt-in, "
                             f"not {quote(consent)}")
        count = values.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise InputError(f"{path}:{line}: count takes a whole number >= 0")
        out.append(Expectation(line=line, rule=values.get("rule"), host=values.get("host"),
                               data=tuple(data),
                               consent=consent, count=count))
    return out


def _find_captures(folder: Path) -> list[str]:
    found = []
    for item in sorted(folder.iterdir()):
        if item.is_file() and item.suffix.lower() in _CAPTURE_SUFFIXES:
            sniff_kind(str(item))  # a file named like a capture that is not one is an error
            found.append(str(item))
    return found


def _find_keylogs(folder: Path) -> list[str]:
    return sorted({str(p) for pattern in _KEYLOG_GLOBS for p in folder.glob(pattern)})


def check_rules_exist(case: Case, rule_ids: list[str]) -> None:
    """An expectation naming a rule no loaded policy defines is a mistake, not a pass
    (`count: 0` of a misspelt rule is always true). Raises InputError at its line."""
    from auditor.judge.loader import suggest

    for exp in case.expectations:
        if exp.rule and not any(fnmatch.fnmatchcase(r, exp.rule) for r in rule_ids):
            raise InputError(f"{case.expect_file}:{exp.line}: no policy defines rule "
                             f"'{exp.rule}'{suggest(exp.rule, rule_ids)}")


def run_case(case: Case, *, baseline: set[str] | None = None,
             suppressions: list[Suppression] | None = None) -> CaseResult:
    """Analyse the case's captures and hold the findings to its expectations."""
    outcome = CaseResult(case=case)
    try:
        audit = build_audit(device=case.device, policies=case.policies, opt_in_at=case.opt_in_at,
                            declared=case.declared)
        check_rules_exist(case, [r.id for r in audit.policies.rules])
        outcome.result = analyze_files(case.captures, audit, keylogs=case.keylogs)
    except InputError as e:
        outcome.error = str(e)
        return outcome
    findings = outcome.result.findings
    for exp in case.expectations:
        found = sum(1 for f in findings if exp.matches(f))
        if (exp.count is None and found == 0) or (exp.count is not None and found != exp.count):
            outcome.failed_expectations.append((exp, found))
    outcome.gate = apply_gates(findings, baseline=baseline, suppressions=suppressions)
    outcome.result.suppressed = [f for f, _ in outcome.gate.suppressed]
    if not case.allow_unexpected:
        named = [e for e in case.expectations if e.count != 0]
        outcome.unexpected = [f for f in outcome.gate.active
                              if not any(e.matches(f) for e in named)]
    return outcome

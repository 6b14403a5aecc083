"""Baselines and suppressions: findings a team has already seen and accepted.

A baseline is an earlier JSON report; a suppression file (`.auditor-ignore.yaml`) lists
fingerprints or rule + host globs, each with the reason it is accepted and, optionally, the
date the acceptance runs out. Findings are matched by their stable fingerprint (rule, host,
data types, where and key — never ids, ports or times), so a baseline survives re-recording.

```yaml
suppressions:
  - fingerprint: 9c1f0e2a7b3d4c5e
    reason: Crash reporter, reviewed in PRIV-112
    expires: 2027-03-31
  - rule: unreadable-uploads-before-opt-in
    host: "*.googleapis.com"
    reason: Play services check-in; pinned, cannot be inspected
```
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from auditor.model import Finding, InputError
from auditor.yamlcheck import quote, read_yaml_text

DEFAULT_IGNORE_FILE = ".auditor-ignore.yaml"
_ENTRY_KEYS = {"fingerprint", "rule", "host", "reason", "expires"}


@dataclass(frozen=True)
class Suppression:
    """One accepted finding (by fingerprint) or family of findings (by rule and host glob)."""

    reason: str
    fingerprint: str = ""
    rule: str = ""
    host: str = ""
    expires: dt.date | None = None
    origin: str = ""  # "file:line", for messages

    def matches(self, finding: Finding) -> bool:
        if self.fingerprint:
            return finding.fingerprint == self.fingerprint
        if self.rule and not fnmatch.fnmatchcase(finding.rule, self.rule):
            return False
        return not self.host or fnmatch.fnmatch(finding.host.lower(), self.host.lower())

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


class Baseline(set):
    """Fingerprints of the findings of an earlier JSON report (a set of str), with where it
    came from and what each fingerprint was (`rule @ host`), for the stale-entry list."""

    path: str = ""
    described: dict[str, str]


def load_baseline(path: str) -> Baseline:
    """Fingerprints of the findings in an earlier JSON report."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such baseline file; write one with "
                         f"`auditor analyze ... --format json --output {path}`") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a JSON report ({e}); a baseline is the output of "
                         f"`auditor analyze --format json`") from None
    findings = report.get("findings") if isinstance(report, dict) else None
    if not isinstance(findings, list):
        raise InputError(f"{path}: not an auditor JSON report (no \"findings\" list)")
    entries = [f for f in findings if isinstance(f, dict) and f.get("fingerprint")]
    baseline = Baseline(f["fingerprint"] for f in entries)
    baseline.path = path
    baseline.described = {f["fingerprint"]: f"{f.get('rule', '?')} @ {f.get('host', '?')}"
                          for f in entries}
    return baseline


def load_suppressions(path: str) -> list[Suppression]:
    """Read a suppression file; every entry needs a reason and a fingerprint or a rule."""
    try:
        text = read_yaml_text(path, "suppression file")
    except FileNotFoundError:
        raise InputError(f"{path}: no such suppression file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the suppression file: {e.strerror}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise InputError(f"{path}:{line}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}:{root.start_mark.line + 1}: expected a mapping with "
                         f"a `suppressions:` list")
    entries_node = None
    for key, value in root.value:
        if key.value != "suppressions":
            raise InputError(f"{path}:{key.start_mark.line + 1}: unknown key '{key.value}' "
                             f"(expected 'suppressions')")
        entries_node = value
    if entries_node is None or not isinstance(entries_node, yaml.SequenceNode):
        raise InputError(f"{path}:1: expected `suppressions:` followed by a list")
    return [_suppression(path, node) for node in entries_node.value]


def _suppression(path: str, node: yaml.Node) -> Suppression:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise InputError(f"{path}:{line}: each suppression is a mapping "
                         f"(fingerprint or rule/host, reason, expires)")
    values: dict[str, str] = {}
    for key, value in node.value:
        if key.value not in _ENTRY_KEYS:
            raise InputError(f"{path}:{key.start_mark.line + 1}: unknown key '{key.value}' "
                             f"(known: {', '.join(sorted(_ENTRY_KEYS))})")
        if not isinstance(value, yaml.ScalarNode):
            raise InputError(f"{path}:{value.start_mark.line + 1}: '{key.value}' takes "
                             f"a single value")
        values[key.value] = value.value
    if not values.get("reason", "").strip():
        raise InputError(f"{path}:{line}: a suppression needs a `reason` saying why "
                         f"the finding is accepted")
    if not values.get("fingerprint") and not values.get("rule"):
        raise InputError(f"{path}:{line}: a suppression names a `fingerprint` or a `rule` "
                         f"(with an optional `host` glob)")
    expires = None
    if values.get("expires"):
        try:
            expires = dt.date.fromisoformat(values["expires"])
        except ValueError:
            raise InputError(f"{path}:{line}: expires: {quote(values['expires'])} is not a date "
                             f"(YYYY-MM-DD)") from None
    return Suppression(reason=values["reason"].strip(), fingerprint=values.get("fingerprint", ""),
                       rule=values.get("rule", ""), host=values.get("host", ""),
                       expires=expires, origin=f"{path}:{line}")


@dataclass
class GateResult:
    """Findings split into those that count and those a baseline or suppression accepts."""

    active: list[Finding]
    suppressed: list[tuple[Finding, str]]  # with why: "baseline" or the suppression's reason
    expired: list[Suppression]  # suppressions past their date: they fail the run
    used_suppressions: set[Suppression] = field(default_factory=set)  # matched a finding
    used_baseline: set[str] = field(default_factory=set)  # fingerprints that matched


def apply_gates(findings: list[Finding], *, baseline: set[str] | None = None,
                suppressions: list[Suppression] | None = None,
                today: dt.date | None = None) -> GateResult:
    today = today or dt.date.today()
    live = [s for s in suppressions or [] if not s.expired(today)]
    expired = [s for s in suppressions or [] if s.expired(today)]
    result = GateResult(active=[], suppressed=[], expired=expired)
    for finding in findings:
        matching = [s for s in live if s.matches(finding)]
        result.used_suppressions.update(matching)  # used, even where the baseline came first
        if baseline and finding.fingerprint in baseline:
            result.suppressed.append((finding, "baseline"))
            result.used_baseline.add(finding.fingerprint)
            continue
        match = matching[0] if matching else None
        if match:
            result.suppressed.append((finding, f"suppressed: {match.reason} ({match.origin})"))
            result.used_suppressions.add(match)
        else:
            result.active.append(finding)
    return result


def default_ignore_file(start: Path) -> str | None:
    """`.auditor-ignore.yaml` in `start` or the current folder, when there is one."""
    for folder in (start, Path.cwd()):
        candidate = folder / DEFAULT_IGNORE_FILE
        if candidate.is_file():
            return str(candidate)
    return None


def stale_entries(suppressions: list[Suppression], baseline: set[str] | None,
                  gates: list[GateResult], rule_ids: list[str]) -> list[str]:
    """Suppressions and baseline entries that took nothing out of the verdict, one line
    each: a rule no policy defines, or nothing matched in any of `gates`. Expired
    suppressions are reported as expired instead."""
    from auditor.judge.loader import suggest

    used = set().union(*(g.used_suppressions for g in gates))
    used_baseline = set().union(*(g.used_baseline for g in gates))
    expired = set().union(*(g.expired for g in gates))
    lines = []
    for s in suppressions:
        if s in used or s in expired:
            continue
        if s.rule and not any(fnmatch.fnmatchcase(r, s.rule) for r in rule_ids):
            lines.append(f"{s.origin}: stale suppression: no policy defines rule '{s.rule}'"
                         f"{suggest(s.rule, rule_ids)}")
        else:
            what = f"fingerprint {s.fingerprint}" if s.fingerprint else \
                f"rule {s.rule}" + (f" host {s.host}" if s.host else "")
            lines.append(f"{s.origin}: stale suppression: {what} matched no finding; "
                         f"remove it")
    if baseline:
        described = getattr(baseline, "described", {})
        source = getattr(baseline, "path", "") or "baseline"
        for fp in sorted(set(baseline) - used_baseline):
            what = f" ({described[fp]})" if fp in described else ""
            lines.append(f"{source}: stale baseline entry: fingerprint {fp}{what} matched no "
                         f"finding")
    return lines

"""Hits grouped into findings, and the fingerprints that keep a finding recognisable
from one run to the next."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace

from auditor.judge.confidence import pattern_severity
from auditor.judge.evaluate import Hit
from auditor.judge.hosts import strip_port
from auditor.model import Exchange, Finding

_ARRAY_INDEX = re.compile(r"\[\d+\]")


def fingerprint(rule_id: str, host: str, data_types: Iterable[str],
                places: Iterable[tuple[str, str]], app: str = "") -> str:
    """A stable id for a finding: the same leak in another capture gets the same one.

    Built from the rule, the host (lower-case, no port), the data types and the places
    (where, key) — never from exchange ids, ports or times — with array indexes in keys
    dropped (`$.contacts[3].phone` → `$.contacts[].phone`): which element leaked varies.
    """
    normal_places = sorted({(where, _ARRAY_INDEX.sub("[]", key)) for where, key in places})
    canonical = "\n".join([
        rule_id,
        strip_port(host.lower()).rstrip("."),
        ",".join(sorted(set(data_types))),
        *(f"{where}\t{key}" for where, key in normal_places),
        *([f"app\t{app}"] if app else []),  # only captures that name the app have one
    ])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def build_findings(hits: list[Hit], exchanges: list[Exchange]) -> list[Finding]:
    """One finding per (rule, host, consent phase, sending app when the input names it),
    most severe first, then earliest; ids `F1`, `F2`, ... in that order."""
    arrival = {e.id: index for index, e in enumerate(exchanges)}
    groups: dict[tuple[str, str, str, str], list[Hit]] = {}
    for hit in hits:
        app = hit.exchange.app.label if hit.exchange.app is not None else ""
        groups.setdefault((hit.rule.id, hit.exchange.host, hit.consent, app), []).append(hit)
    # the app in a fingerprint is its package or name: a uid differs from phone to phone
    stable = {h.exchange.app.label: h.exchange.app.package or h.exchange.app.name
              or h.exchange.app.label for h in hits if h.exchange.app is not None}
    drafts = []
    for (rule_id, host, consent, app), group in groups.items():
        group.sort(key=lambda h: (h.exchange.time, arrival.get(h.exchange.id, 0)))
        rule = group[0].rule
        observations = tuple(o for h in group for o in h.observations)
        data_types = tuple(sorted({o.data_type for o in observations}))
        severity, severity_note = pattern_severity(rule.severity, rule.match, observations)
        drafts.append(Finding(
            id="", rule=rule_id, severity=severity, title=rule.title, host=host,
            data_types=data_types,
            exchanges=tuple(dict.fromkeys(h.exchange.id for h in group)),
            observations=observations, first_seen=group[0].exchange.time, consent=consent,
            description=rule.description, references=rule.references,
            policy_file=rule.policy_file,
            fingerprint=fingerprint(rule_id, host, data_types,
                                    ((o.where, o.key) for o in observations),
                                    stable.get(app, "")),
            severity_note=severity_note,
            app=app,
        ))
    drafts.sort(key=lambda f: (-f.severity, f.first_seen, f.rule, f.host, f.consent, f.app))
    return [replace(f, id=f"F{n}") for n, f in enumerate(drafts, 1)]

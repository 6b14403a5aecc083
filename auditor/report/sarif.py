"""SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

A capture has no source lines, but GitHub rejects a result without a region: every result
points at the capture file with `region.startLine: 1`, which stands for "the whole file";
the exact exchange (packet or flow) is named in `logicalLocations` and in `properties`.
`partialFingerprints["auditorFingerprint/v1"]` is the finding's stable fingerprint, so a
dashboard tracks one leak across runs. Baselined or suppressed findings are written as
results with an external suppression, as SARIF intends.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from auditor.model import Finding, Severity
from auditor.report.attribution import finding_app, receiver_label, sources
from auditor.report.common import (
    PROJECT_URL,
    data_label,
    destination_label,
    fingerprint,
    input_path_of,
    iso_time,
    join_words,
    reference_parts,
    severity_of,
    sorted_findings,
)
from auditor.report.facts import display_filter, finding_subject, frames_label
from auditor.report.mask import Masker
from auditor.report.view import masker_for

if TYPE_CHECKING:
    from auditor.engine import AuditResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: GitHub ranks alerts by this score: critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low < 4.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def render_sarif(result: AuditResult, *, reveal: bool = False) -> str:
    return json.dumps(sarif_log(result, reveal=reveal), indent=2, ensure_ascii=False) + "\n"


def sarif_log(result: AuditResult, *, reveal: bool = False) -> dict[str, Any]:
    """The SARIF log as plain data."""
    masker = masker_for(result, reveal)
    rules = _rules(result)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [_result(f, result, masker, index) for f in sorted_findings(result.findings)]
    results += [_result(f, result, masker, index, suppressed=True)
                for f in sorted_findings(result.suppressed)]
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": result.tool.get("name", "handset-auditor"),
            "version": result.tool.get("version", ""),
            "informationUri": PROJECT_URL,
            "rules": rules,
        }},
        "invocations": [_invocation(result, masker)],
        "artifacts": [_artifact(info) for info in result.inputs],
        "results": results,
        "properties": {"geoData": result.geo_data, "optInSource": result.opt_in_source,
                       "optInAt": iso_time(result.opt_in_at),
                       "attribution": sources(result)},  # where app/SDK/org names came from
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule_name(rule_id: str) -> str:
    """`no-identifiers-before-opt-in` -> `NoIdentifiersBeforeOptIn` (SARIF's name style)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule_id))


def _rules(result: AuditResult) -> list[dict[str, Any]]:
    """Every rule of the policy set, and any rule a finding names that the set lacks."""
    entries: dict[str, dict[str, Any]] = {}
    for rule in result.policies.rules:
        entries[rule.id] = _rule(rule.id, rule.title, rule.description,
                                 tuple(rule.references), severity_of(rule.severity))
    for finding in [*result.findings, *result.suppressed]:
        if finding.rule not in entries:
            entries[finding.rule] = _rule(finding.rule, finding.title, finding.description,
                                          finding.references, severity_of(finding.severity))
    return list(entries.values())


def _rule(rule_id: str, title: str, description: str, references: tuple[str, ...],
          severity: Severity) -> dict[str, Any]:
    full = (description or title).strip()
    help_text = full + ("\n\nReferences:\n" + "\n".join(references) if references else "")
    parts = [reference_parts(r) for r in references]
    help_markdown = full + ("\n\n**References**\n\n"
                            + "\n".join(f"- <{url}>{rest}" if url else f"- {rest}"
                                        for url, rest in parts) if parts else "")
    entry: dict[str, Any] = {
        "id": rule_id,
        "name": _rule_name(rule_id),
        "shortDescription": {"text": title or rule_id},
        "fullDescription": {"text": full or rule_id},
        "help": {"text": help_text or rule_id, "markdown": help_markdown or rule_id},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[severity],
            "tags": ["security", "privacy"],
            "precision": "high",  # known values are matched exactly
        },
    }
    links = [url for url, _ in parts if url]
    if links:
        entry["helpUri"] = links[0]
    return entry


def _result(finding: Finding, result: AuditResult, masker: Masker, index: dict[str, int],
            *, suppressed: bool = False) -> dict[str, Any]:
    severity = severity_of(finding.severity)
    host = masker.text(finding.host)
    destination = result.destinations.get(finding.exchanges[0]) if finding.exchanges else None
    label = destination_label(destination)
    places = sorted({f"{o.where} {masker.text(o.key)}".strip() for o in finding.observations})
    types = finding_subject(result, finding) if "unreadable" not in finding.data_types \
        else join_words(data_label(t) for t in finding.data_types)
    app = finding_app(finding)
    message = (f"{types} sent{f' by {app}' if app else ''} to {host}"
               f"{f' ({label})' if label else ''} in "
               f"{join_words(places) or 'the connection'}, {finding.consent} "
               f"[{finding.rule}].")
    exchanges = [result.exchange(i) for i in finding.exchanges]
    paths = sorted({input_path_of(e, result.inputs) for e in exchanges}) or ["live"]
    entry: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index[finding.rule],
        "level": LEVELS[severity],
        "message": {"text": message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": quote(path or "live", safe="/:")},
                "region": {"startLine": 1},  # the whole capture: it has no source lines
            },
            "logicalLocations": [{"name": f"exchange {e.id}",
                                  "fullyQualifiedName": _where(e),
                                  "kind": "resource"} for e in exchanges[:10]],
        } for path in paths],
        "partialFingerprints": {"auditorFingerprint/v1": fingerprint(finding)},
        "properties": {
            "findingId": finding.id,
            "severity": str(severity),
            "host": host,
            "destination": label,
            "dataTypes": list(finding.data_types),
            "exchanges": list(finding.exchanges),
            "sources": [e.source for e in exchanges],
            # [first, last] Wireshark frame numbers of each exchange (null without frames)
            "frames": [list(e.frames) if len(e.frames) == 2 else None for e in exchanges],
            "displayFilters": [display_filter(e) for e in exchanges[:10]],
            "requests": [masker.text(e.request_line) for e in exchanges[:10]],
            "firstSeen": iso_time(finding.first_seen),
            "consent": finding.consent,
            "app": app or None,  # the sending app, when the capture names it
            "receiver": masker.text(receiver_label(destination)),  # organisation, SDKs, sources
        },
    }
    if suppressed:
        entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                  "justification": "baselined or listed in an ignore file"}]
    return entry


def _where(exchange: Any) -> str:
    """`capture.pcap, frames 6–8` where the input has frames, else the exchange's source."""
    label = frames_label(exchange)
    if label and exchange.source:
        return f"{exchange.source.split('#', 1)[0]}, {label}"
    return exchange.source or f"exchange {exchange.id}"


def _invocation(result: AuditResult, masker: Masker) -> dict[str, Any]:
    notifications = [{
        "level": "warning",
        "message": {"text": masker.text(warning)},
        "locations": [{"physicalLocation": {"artifactLocation": {
            "uri": quote(info.path, safe="/:")}}}],
    } for info in result.inputs for warning in info.warnings]
    # not successful when uploads were not analysed (live); the notifications name them
    return {"executionSuccessful": not getattr(result, "incomplete", ()),
            "toolExecutionNotifications": notifications}


def _artifact(info: Any) -> dict[str, Any]:
    artifact: dict[str, Any] = {"location": {"uri": quote(info.path, safe="/:")},
                                "length": info.size, "roles": ["analysisTarget"]}
    if info.sha256:
        artifact["hashes"] = {"sha-256": info.sha256}
    return artifact

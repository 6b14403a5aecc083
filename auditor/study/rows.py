"""The rows a study's tables hold, made from one capture's audit.

No values of the device go into a row: only where they went, in which encoding and under
which rule. Hosts and keys are masked as the capture's report masks them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from auditor.detect.variants import HASHES
from auditor.judge.evaluate import consent_phase
from auditor.report.common import iso_time, severity_of, sorted_findings
from auditor.report.view import masker_for

if TYPE_CHECKING:
    from auditor.engine import AuditResult

#: Columns of observations.csv/.parquet after `capture` and the labels, in order.
OBSERVATION_COLUMNS = ("exchange", "time", "host", "organisation", "country", "party",
                       "transport", "data_type", "where", "key", "encoding", "encodings",
                       "match", "consent")
#: Columns of findings.csv/.parquet after `capture` and the labels: one row per finding
#: and data type (a finding about IMEI and IMSI is two rows with the same `finding`).
FINDING_COLUMNS = ("finding", "rule", "severity", "title", "host", "organisation", "country",
                   "party", "data_type", "encoding", "consent", "first_seen", "exchanges")
#: Decoding steps that only say where a value sat, not how it was written.
_PLACE_STEPS = ("plain", "text", "url")


def encoding_label(encodings: Iterable[str]) -> str:
    """How a value was written when it left, in a word or two: "plain", "base64",
    "sha256", "gzip + base64". Places (json:$.a, form:imei) and spellings (phone:e164)
    are left out; a hash is named without its text form (sha256:hex → sha256)."""
    steps = []
    for step in encodings:
        name, _, form = step.partition(":")
        if name in HASHES:
            steps.append(name)
        elif not form and step not in _PLACE_STEPS and not step.startswith("pb"):
            steps.append(step)
    return " + ".join(steps) or "plain"


def observation_rows(result: AuditResult, *, reveal: bool = False) -> list[dict[str, Any]]:
    masker = masker_for(result, reveal)
    rows = []
    for obs in result.observations:
        exchange = result.exchange(obs.exchange)
        rows.append({
            "exchange": obs.exchange,
            "time": iso_time(exchange.time),
            "host": masker.text(exchange.host),
            **_destination(result, obs.exchange),
            "transport": exchange.transport,
            "data_type": obs.data_type,
            "where": obs.where,
            "key": masker.text(obs.key),
            "encoding": encoding_label(obs.encodings),
            "encodings": " > ".join(masker.text(e) for e in obs.encodings),
            "match": obs.match,
            "consent": consent_phase(exchange.time, result.opt_in_at),
        })
    return rows


def finding_rows(result: AuditResult, *, reveal: bool = False) -> list[dict[str, Any]]:
    masker = masker_for(result, reveal)
    rows = []
    for finding in sorted_findings(result.findings):
        first = finding.exchanges[0] if finding.exchanges else 0
        for data_type in finding.data_types:
            encodings = sorted({encoding_label(o.encodings) for o in finding.observations
                                if o.data_type == data_type})
            rows.append({
                "finding": finding.id,
                "rule": finding.rule,
                "severity": str(severity_of(finding.severity)),
                "title": finding.title,
                "host": masker.text(finding.host),
                **_destination(result, first),
                "data_type": data_type,
                "encoding": ", ".join(encodings),
                "consent": finding.consent,
                "first_seen": iso_time(finding.first_seen),
                "exchanges": len(finding.exchanges),
            })
    return rows


def _destination(result: AuditResult, exchange_id: int) -> dict[str, str]:
    destination = result.destinations.get(exchange_id)
    return {"organisation": getattr(destination, "organisation", "") or "",
            "country": getattr(destination, "country", "") or "",
            "party": getattr(destination, "party", "") or ""}

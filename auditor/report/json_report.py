"""The JSON report, schema `auditor-report/1` (DESIGN.md). Fields may be added in later
versions; none of these may change meaning. Keys are written in a fixed order, indent 2.

Top level:
  schema        "auditor-report/1"
  tool          {name, version} of the tool that wrote the report
  inputs        one record per capture read (see `_input`)
  consent       {opt_in_at: ISO-8601 | null, source}: when the user opted in, and how that was
                determined ("--opt-in-at", "policy consent: <request line>", "live", "none")
  exchanges     every upload, in arrival order (see `_exchange`)
  observations  every piece of device data seen leaving (see `_observation`)
  findings      every policy violation, most severe first (see `_finding`)
  summary       counts and verdict (see `_summary`)
  geo_data      which geolocation data named countries and networks, with its date
  suppressed    findings a baseline or an ignore file took out of the verdict (as `findings`)
  attribution   where the app, SDK, organisation and declaration names came from: the
                capture's app metadata, the tracker list (version, SHA-256), the organisation
                map, each declaration file (SHA-256); see report/attribution.py
  rules         every rule of the policy set and its result (see `_rule`)
  provenance    {tool: {name, version}, files: [{role, path, sha256}]}: every input the
                report rests on — captures, device profile, key logs, each policy file

Times are ISO 8601 in UTC with milliseconds. Values of the device (observation values, and
the same values inside URLs and hosts) are masked unless --reveal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from auditor.model import Exchange, Finding, InputInfo, Observation, Severity
from auditor.report.attribution import app_record, finding_app, sources
from auditor.report.common import (
    counts_by_severity,
    destination_record,
    fingerprint,
    iso_time,
    profile_note,
    severity_of,
    sorted_findings,
    verdict,
)
from auditor.report.facts import counts_of, display_filter, provenance
from auditor.report.fastjson import dumps_indented
from auditor.report.mask import Masker
from auditor.report.outcomes import RuleOutcome, rule_outcomes
from auditor.report.view import headline, masker_for

if TYPE_CHECKING:
    from auditor.engine import AuditResult

SCHEMA = "auditor-report/1"


def report_dict(result: AuditResult, *, reveal: bool = False,
                fail_on: Severity = Severity.HIGH, skip: tuple[str, ...] = (),
                masker: Masker | None = None) -> dict[str, Any]:
    """The report as plain data, in schema order; lists named in `skip` are left empty."""
    masker = masker or masker_for(result, reveal)
    findings = sorted_findings(result.findings)
    return {
        "schema": SCHEMA,
        "tool": {"name": result.tool.get("name", ""), "version": result.tool.get("version", "")},
        "inputs": [_input(info, masker) for info in result.inputs],
        "consent": {"opt_in_at": iso_time(result.opt_in_at), "source": result.opt_in_source},
        "exchanges": [] if "exchanges" in skip else
        [_exchange(e, result, masker) for e in result.exchanges],
        "observations": [] if "observations" in skip else
        [_observation(o, masker) for o in result.observations],
        "findings": [_finding(f, result, masker) for f in findings],
        "summary": _summary(result, findings, fail_on, masker),
        "geo_data": result.geo_data,
        "suppressed": [_finding(f, result, masker) for f in sorted_findings(result.suppressed)],
        "attribution": sources(result),
        "rules": [_rule(r) for r in rule_outcomes(result, findings)],
        "provenance": {
            "tool": {"name": result.tool.get("name", ""),
                     "version": result.tool.get("version", "")},
            "files": [{"role": p.role, "path": p.path, "sha256": p.sha256}
                      for p in provenance(result)],
        },
    }


def render_json(result: AuditResult, *, reveal: bool = False,
                fail_on: Severity = Severity.HIGH) -> str:
    return "".join(iter_json(result, reveal=reveal, fail_on=fail_on))


_LONG_LISTS = ("exchanges", "observations")


def iter_json(result: AuditResult, *, reveal: bool = False,
              fail_on: Severity = Severity.HIGH) -> Iterator[str]:
    """The report's text in pieces, byte-for-byte what `json.dumps(report_dict(...),
    indent=2)` gives, but with the long lists (one record per exchange and observation)
    made one record at a time, so writing the report of a 1 GB capture does not hold
    every record in memory at once."""
    masker = masker_for(result, reveal)
    items = {
        "exchanges": lambda: (_exchange(e, result, masker) for e in result.exchanges),
        "observations": lambda: (_observation(o, masker) for o in result.observations),
    }
    document = report_dict(result, reveal=reveal, fail_on=fail_on, skip=_LONG_LISTS,
                           masker=masker)
    text = dumps_indented(document)
    for name in _LONG_LISTS:
        marker = f'"{name}": []'
        before, text = text.split(marker, 1)
        yield before
        yield f'"{name}": ['
        first = True
        for record in items[name]():
            body = dumps_indented(record).replace("\n", "\n    ")
            yield ("\n    " if first else ",\n    ") + body
            first = False
        yield "]" if first else "\n  ]"
    yield text + "\n"


def _input(info: InputInfo, masker: Masker) -> dict[str, Any]:
    return {
        "path": info.path,  # as given on the command line
        "kind": info.kind,  # pcap | pcapng | mitm | har | live
        "packets": info.packets,  # packets (or flows) read
        "exchanges": info.exchanges,  # exchanges produced from it
        "warnings": [masker.text(w) for w in info.warnings],  # what was skipped, and where
        "size": info.size,  # bytes
        "sha256": info.sha256,  # of the whole file, so a reader can check it is the same
        "first_time": iso_time(info.first_time),  # first packet
        "last_time": iso_time(info.last_time),  # last packet
    }


def _exchange(exchange: Exchange, result: AuditResult, masker: Masker) -> dict[str, Any]:
    return {
        "id": exchange.id,  # 1..n in arrival order; observations and findings refer to it
        "time": iso_time(exchange.time),  # first byte of the upload
        "client": exchange.client,  # ip:port of the phone ("" when unknown)
        "server": exchange.server,  # ip:port of the server ("" when unknown)
        "host": masker.text(exchange.host),  # Host / SNI / DNS name, else the server IP
        "transport": exchange.transport,  # http | https | tls | dns | ws | wss | tcp | udp ...
        "method": exchange.method,  # HTTP method; QUERY for DNS; "" for raw streams
        "url": masker.text(exchange.url),  # device values inside are masked unless --reveal
        "bytes_up": exchange.bytes_up,  # bytes the phone sent (headers + body on the wire)
        "decrypted": exchange.decrypted,  # read from inside TLS (key log or proxy)
        "readable": exchange.readable,  # false: content could not be read (TLS without keys)
        "status": exchange.status,  # HTTP response status, null when no response was seen
        "bytes_down": exchange.bytes_down,  # bytes the server answered with (counted only)
        "server_ip": exchange.server_ip,  # "" when unknown (HAR without serverIPAddress)
        # country (ISO code, "" when unknown or not public), scope (public | private |
        # loopback | documentation ...), asn (number or null), as_name, organisation (from
        # the domain map), party (first | third | "" when no vendor was given)
        "destination": destination_record(result.destinations.get(exchange.id)),
        # the app that sent it, {uid, package, name, source}, or null when the input has no
        # app metadata (only PCAPdroid captures have it)
        "app": app_record(exchange.app),
        # [first, last] frame numbers in the capture, 1-based as Wireshark numbers them;
        # `last` is where Wireshark's HTTP dissector shows the request (see model.Exchange);
        # null for inputs without frames (flow files, HAR, live)
        "frames": list(exchange.frames) if len(exchange.frames) == 2 else None,
        # a Wireshark display filter that shows this exchange's connection only
        "display_filter": display_filter(exchange) or None,
        # the tunnels the packets came through, outermost first; only when there were any
        **({"tunnel": exchange.tunnel} if exchange.tunnel else {}),
        # bytes of the request are missing from the capture (snaplen, lost segments)
        **({"incomplete": True} if exchange.incomplete else {}),
    }


def _rule(outcome: RuleOutcome) -> dict[str, Any]:
    return {
        "id": outcome.id,
        # failed | passed | covered (a pattern rule whose candidates were all the device's
        # own values, judged by `covered_by`) | nothing to judge (no data in its scope)
        "result": outcome.status,
        "covered_by": outcome.twin or None,
        "findings": outcome.findings,  # ids of its findings when failed
        "explanation": outcome.text,
    }


def _observation(observation: Observation, masker: Masker) -> dict[str, Any]:
    return {
        "exchange": observation.exchange,  # exchange id
        "data_type": observation.data_type,  # imei, imsi, phone_number, contacts, ...
        "where": observation.where,  # query | path | header | cookie | body | dns | ...
        "key": masker.text(observation.key),  # key, header name or JSON path; "" if bare
        "encodings": list(observation.encodings),  # decode chain, outermost first
        "match": observation.match,  # known (device profile) | pattern (looks like one)
        "value": masker.value(observation.value, observation.data_type),  # masked by default
        "hashed": observation.hashed,  # only a one-way digest of the value left the phone
        "confidence": observation.confidence,  # 1.0 for known values, below for patterns
        "detail": masker.text(observation.detail),  # e.g. "sha256 of E.164 spelling"
        # the value among the bytes around it in its field (as the upload carried it),
        # device values masked unless --reveal
        "context": masker.context_text(observation.excerpt, hashed=observation.hashed),
    }


def _finding(finding: Finding, result: AuditResult, masker: Masker) -> dict[str, Any]:
    first = finding.exchanges[0] if finding.exchanges else None
    return {
        "id": finding.id,  # F1, F2, ... in report order
        "rule": finding.rule,  # rule id
        "severity": str(severity_of(finding.severity)),  # info | low | medium | high | critical
        "title": finding.title,  # the rule's title
        "host": masker.text(finding.host),
        "data_types": list(finding.data_types),  # sorted
        "exchanges": list(finding.exchanges),  # exchange ids, in time order
        "first_seen": iso_time(finding.first_seen),
        "consent": finding.consent,  # before-opt-in | after-opt-in
        "fingerprint": fingerprint(finding),  # stable across runs: for baselines and SARIF
        "destination": destination_record(result.destinations.get(first) if first else None),
        # why the severity is not the rule's (a pattern match's confidence); absent if it is
        **({"severity_note": finding.severity_note} if finding.severity_note else {}),
        "app": finding_app(finding) or None,  # the sending app's label, null when unknown
    }


def _summary(result: AuditResult, findings: list[Finding], fail_on: Severity,
             masker: Masker) -> dict[str, Any]:
    missing = getattr(result, "incomplete", ())
    counts = counts_of(result)
    return {
        # fail | pass against fail_on; incomplete (live): no failing finding, but uploads
        # were not analysed, named in `not_analysed` (only then present), so it cannot pass
        "verdict": verdict(findings, fail_on, incomplete=bool(missing)).lower(),
        **({"not_analysed": [masker.text(item) for item in missing]} if missing else {}),
        "fail_on": str(fail_on),  # the severity from which findings fail the run
        "headline": headline(result, findings, masker),  # one sentence about the worst finding
        "findings": len(findings),
        "findings_by_severity": counts_by_severity(findings),  # critical .. info
        "exchanges": len(result.exchanges),
        "observations": len(result.observations),
        "unreadable_uploads": counts.unreadable,
        "hosts": counts.hosts,  # distinct hosts contacted (names, else server addresses)
        "suppressed": len(result.suppressed),  # baselined or ignored findings
        "capture_start": iso_time(result.start_time),  # first exchange
        # without --device: what that means for the verdict (absent with a profile)
        **({"no_profile": note} if (note := profile_note(result)) else {}),
        "uploads": counts.uploads,  # exchanges other than DNS queries
        "dns_queries": counts.dns_queries,  # DNS queries (they go to a resolver)
        "bytes_up": counts.bytes_up,  # bytes the phone sent in uploads (DNS not included)
        "dns_bytes_up": counts.dns_bytes_up,  # bytes of the DNS queries
        "unreadable_bytes_up": counts.unreadable_bytes,  # bytes of the unreadable uploads
    }

"""What every report says, computed once so all formats agree.

`build_view` turns an `AuditResult` into plain records of display-ready strings — masked
unless revealing, sorted most severe first, times relative to the capture start and to
the opt-in — which terminal, Markdown, HTML and JUnit only lay out. The headline and the
masker of a result live here too, so JSON and SARIF say the same.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditor.model import CLEARTEXT_TRANSPORTS, Exchange, Finding, Observation, Severity
from auditor.report.attribution import apps_of, finding_app, receiver_label, source_lines
from auditor.report.common import (
    PERSONAL_DATA,
    country_label,
    counts_by_severity,
    data_label,
    destination_label,
    duration,
    iso_time,
    join_words,
    party_label,
    plural,
    profile_note,
    reference_parts,
    relative_to_opt_in,
    severity_of,
    since_start,
    sorted_findings,
    verdict,
)
from auditor.report.facts import (
    Counts,
    InputDigest,
    counts_of,
    data_phrases,
    display_filter,
    frames_label,
    host_key,
    is_dns,
    provenance,
)
from auditor.report.mask import MASKING_NOTE, Masker, Segment
from auditor.report.outcomes import RuleOutcome, reasons_not_broken, rule_outcomes

if TYPE_CHECKING:
    from auditor.engine import AuditResult


def headline(result: AuditResult, findings: list[Finding], masker: Masker) -> str:
    """The one sentence a headline would quote, about the most severe finding: what was
    sent, exactly (`a contact's phone number (1 of 2 canary contacts)`), how, to whom and
    when."""
    start = result.start_time
    if not findings:
        checked = f"{counts_of(result).sentence} checked"
        missing = getattr(result, "incomplete", ())
        if missing:  # INCOMPLETE: never a sentence that reads as a clean result
            return (f"The analysis is incomplete: {plural(len(missing), 'upload')} seen but not "
                    f"analysed (listed in the report); no finding among the {checked}.")
        if result.suppressed:
            return (f"No new finding: {plural(len(result.suppressed), 'finding')} baselined or "
                    f"suppressed, none other; {checked}.")
        return f"No upload broke the policies: {checked}."
    top = findings[0]
    observations = list(top.observations)
    exchanges = [result.exchange(i) for i in top.exchanges if 0 < i <= len(result.exchanges)]
    clear = any(e.transport in CLEARTEXT_TRANSPORTS for e in exchanges)
    how = "in clear text" if clear else "over an encrypted connection"
    if observations and all(o.hashed for o in observations):
        how = "hashed, " + how
    destination = result.destinations.get(top.exchanges[0]) if top.exchanges else None
    where = masker.text(top.host)
    label = destination_label(destination)
    if label:
        where += f" ({label})"
    when = ""
    if start is not None:
        when = f" {duration(top.first_seen - start)} after the capture started"
    if result.opt_in_at is None:
        consent = "before any opt-in"
    elif top.first_seen < result.opt_in_at:
        consent = f"{duration(result.opt_in_at - top.first_seen)} before the user opted in"
    else:
        consent = f"{duration(top.first_seen - result.opt_in_at)} after the user opted in"
    if set(top.data_types) == {"unreadable"}:
        return f"An upload the audit could not read went to {where}{when}, {consent}."
    subject = join_words(data_phrases(result, top.data_types, observations))
    return f"The handset sent {subject} {how} to {where}{when}, {consent}."


# --- the view -----------------------------------------------------------------------------


@dataclass
class EvidenceView:
    """One observation as a reader checks it by hand."""

    exchange: int
    time: str  # since capture start
    request_line: str
    where: str
    key: str
    chain: str  # decode chain, outermost first, joined with " → "
    data_type: str
    value: str
    match: str  # "known" or "pattern (confidence 0.80)"
    hashed: bool
    detail: str
    excerpt: list[Segment]
    source: str
    headers: list[tuple[str, str]]


@dataclass
class FindingView:
    """One finding with everything a report shows about it."""

    finding: Finding
    id: str
    severity: str
    rule: str
    title: str
    description: str
    references: list[tuple[str, str]]  # (link or "", the rest of the text)
    host: str
    server_ip: str
    destination: str  # country, ASN, organisation
    country: str  # country code, or the scope of a non-public address
    party: str
    since_start: str
    opt_in: str  # relative to opt-in
    data_types: list[str]  # human labels
    exchanges: int
    consent: str
    evidence: list[EvidenceView]
    app: str = ""  # the sending app, when the capture names it (PCAPdroid)
    receiver: str = ""  # organisation, SDKs and which source named them
    subject: str = ""  # what was sent, in exact words (facts.data_phrases)
    exchange_ids: list[int] = field(default_factory=list)  # its uploads, in the evidence


@dataclass
class HostView:
    """Every host the phone sent something to."""

    host: str
    destination: str
    server_ips: list[str]
    exchanges: int
    unreadable: int
    bytes_up: int
    bytes_down: int
    transports: list[str]
    unreadable_transports: list[str]  # transports of the uploads that could not be read
    data_types: list[str]
    first: str  # since capture start
    dns_queries: int = 0  # DNS queries for this name (they went to a resolver)
    resolvers: list[str] = field(default_factory=list)  # where those queries went
    unreadable_bytes: int = 0  # bytes up of the uploads that could not be read


@dataclass
class ObservationView:
    """One value seen leaving, in the evidence of its exchange."""

    data_type: str  # human label
    where: str
    key: str
    chain: str  # decode chain, outermost first, joined with " → "
    value: str  # masked unless revealing
    match: str
    hashed: bool
    detail: str
    context: list[Segment]  # the bytes around the value in its decoded field, masked
    broke: list[str]  # ids of the findings this observation is evidence for
    not_broken: list[tuple[str, str]]  # (rule id, why it did not break it)


@dataclass
class ExchangeView:
    """One exchange that carried something a rule looks at, shown once; findings refer to
    it by `anchor`."""

    id: int
    anchor: str  # "x2": the HTML id findings link to
    time: str  # since capture start
    request_line: str
    host: str
    server: str  # ip:port the request went to
    destination: str
    transport: str
    bytes_up: int
    frames: str  # "frames 6–8", "" without frames
    display_filter: str  # Wireshark display filter isolating its connection
    source: str
    headers: list[tuple[str, str]]
    notes: list[str]
    observations: list[ObservationView]
    findings: list[str]  # ids of the findings it is evidence for


@dataclass
class ExchangeLine:
    """An exchange that carried nothing a rule looks at, in one line."""

    id: int
    time: str
    request_line: str
    frames: str
    bytes_up: int


#: Uploads without evidence listed by name; the JSON report has all of them.
OTHERS_SHOWN = 50


@dataclass
class ReportView:
    """Everything the human-readable formats lay out."""

    verdict: str
    fail_on: str
    counts: dict[str, int]
    headline: str
    findings: list[FindingView]
    hosts: list[HostView]
    unreadable_hosts: list[HostView]
    unreadable_count: int
    warnings: list[tuple[str, str]]  # (input path, warning)
    suppressed: list[FindingView] = field(default_factory=list)  # baselined or ignored
    reveal: bool = False
    opt_in: str = ""  # when the user opted in and how that was determined
    geo_data: str = ""  # which geolocation data named countries and networks
    profile_note: str = ""  # no --device: what that means for the verdict (else "")
    apps: list[tuple[str, int, int]] = field(default_factory=list)  # (app, uploads, findings)
    attribution: list[str] = field(default_factory=list)  # where each attribution came from
    totals: Counts | None = None  # uploads, DNS queries, hosts, bytes (facts.counts_of)
    rules: list[RuleOutcome] = field(default_factory=list)  # every rule and its result
    exchanges: list[ExchangeView] = field(default_factory=list)  # the evidence, once each
    provenance: list[InputDigest] = field(default_factory=list)  # SHA-256 of every input
    masking: str = ""  # how values are masked ("" when revealed)
    others: list[ExchangeLine] = field(default_factory=list)  # uploads without evidence
    others_left_out: int = 0  # more of them than OTHERS_SHOWN


def secrets_of(result: AuditResult) -> list[tuple[str, str]]:
    """Every value of the device a report might quote: profile and observed values."""
    values: list[tuple[str, str]] = []
    profile = result.profile
    if profile is not None:
        for data_type, items in profile.identifiers().items():
            values.extend((str(v), data_type) for v in items)
        for contact in getattr(profile, "contacts", ()) or ():
            for part in (getattr(contact, "name", ""), getattr(contact, "phone", "")):
                if part:
                    values.append((str(part), "contacts"))
        values.extend((str(text), "sms") for text in getattr(profile, "sms", ()) or ())
        location = getattr(profile, "location", None)
        if location is not None:
            values.extend((str(getattr(location, a)), "location") for a in ("lat", "lon"))
    values.extend((o.value, o.data_type) for o in result.observations
                  if o.value and o.data_type in PERSONAL_DATA)
    return values


def masker_for(result: AuditResult, reveal: bool) -> Masker:
    return Masker(secrets_of(result), reveal=reveal)


def match_label(observation: Observation) -> str:
    if observation.match == "pattern":
        return f"pattern (confidence {observation.confidence:.2f})"
    return observation.match


def build_view(result: AuditResult, *, reveal: bool = False,
               fail_on: Severity = Severity.HIGH, masker: Masker | None = None) -> ReportView:
    """The display-ready view of a result, shared by terminal, Markdown and HTML."""
    masker = masker or masker_for(result, reveal)
    findings = sorted_findings(result.findings)
    start = result.start_time
    views = [_finding_view(result, f, masker, start) for f in findings]
    hosts = host_views(result, masker)
    unreadable = [h for h in hosts if h.unreadable]
    warnings = [(info.path, masker.text(w)) for info in result.inputs for w in info.warnings]
    return ReportView(
        verdict=verdict(findings, fail_on,
                        incomplete=bool(getattr(result, "incomplete", ()))),
        fail_on=str(fail_on),
        counts=counts_by_severity(findings),
        headline=headline(result, findings, masker),
        findings=views,
        hosts=hosts,
        unreadable_hosts=unreadable,
        unreadable_count=sum(h.unreadable for h in unreadable),
        warnings=warnings,
        suppressed=[_finding_view(result, f, masker, start)
                    for f in sorted_findings(result.suppressed)],
        reveal=reveal,
        opt_in=opt_in_label(result, masker),
        geo_data=result.geo_data,
        profile_note=profile_note(result),
        apps=apps_of(result),
        attribution=source_lines(result),
        totals=counts_of(result),
        rules=rule_outcomes(result, findings),
        exchanges=(evidence := exchange_views(result, findings, masker)),
        others=(others := other_exchanges(result, {x.id for x in evidence}, masker)),
        others_left_out=len(result.exchanges) - len(evidence) - len(others),
        provenance=provenance(result),
        masking="" if reveal else MASKING_NOTE,
    )


def opt_in_label(result: AuditResult, masker: Masker) -> str:
    """`+41.0 s (policy consent: POST ...)` or `none seen: ...`."""
    if result.opt_in_at is None:
        return "none seen: the whole capture counts as before opt-in"
    start = result.start_time
    when = since_start(result.opt_in_at, start)
    moment = iso_time(result.opt_in_at)
    return f"{when} ({moment}), from {masker.text(result.opt_in_source)}".strip()


def _finding_view(result: AuditResult, finding: Finding, masker: Masker,
                  start: float | None) -> FindingView:
    first_exchange = result.exchange(finding.exchanges[0]) if finding.exchanges else None
    destination = result.destinations.get(first_exchange.id) if first_exchange else None
    evidence = []
    for observation in finding.observations:
        exchange = result.exchange(observation.exchange)
        evidence.append(EvidenceView(
            exchange=exchange.id,
            time=since_start(exchange.time, start),
            request_line=masker.text(exchange.request_line),
            where=observation.where,
            key=masker.text(observation.key),
            chain=" → ".join(observation.encodings),
            data_type=observation.data_type,
            value=masker.value(observation.value, observation.data_type),
            match=match_label(observation),
            hashed=observation.hashed,
            detail=masker.text(observation.detail),
            excerpt=masker.segments(observation.excerpt),
            source=exchange.source,
            headers=[(name, masker.text(value)) for name, value in exchange.headers],
        ))
    return FindingView(
        finding=finding,
        id=finding.id,
        severity=str(severity_of(finding.severity)),
        rule=finding.rule,
        title=finding.title,
        description=finding.description,
        references=[reference_parts(r) for r in finding.references],
        host=masker.text(finding.host),
        server_ip=", ".join(sorted({result.exchange(i).server_ip for i in finding.exchanges
                                    if result.exchange(i).server_ip})),
        destination=destination_label(destination),
        country=country_label(destination),
        party=party_label(destination),
        since_start=since_start(finding.first_seen, start),
        opt_in=relative_to_opt_in(finding.first_seen, result.opt_in_at),
        data_types=[data_label(t) for t in finding.data_types],
        exchanges=len(finding.exchanges),
        consent=finding.consent,
        evidence=evidence,
        app=finding_app(finding),
        receiver=masker.text(receiver_label(destination)),
        subject=join_words(data_phrases(result, finding.data_types, finding.observations)),
        exchange_ids=list(finding.exchanges),
    )


def other_exchanges(result: AuditResult, shown: set[int], masker: Masker) -> list[ExchangeLine]:
    """The first OTHERS_SHOWN exchanges without evidence, so a report also says what was
    sent that broke nothing and carried no value of the device."""
    start = result.start_time
    out = []
    for exchange in result.exchanges:
        if exchange.id in shown:
            continue
        if len(out) == OTHERS_SHOWN:
            break
        out.append(ExchangeLine(exchange.id, since_start(exchange.time, start),
                                masker.text(exchange.request_line), frames_label(exchange),
                                exchange.bytes_up))
    return out


def exchange_views(result: AuditResult, findings: list[Finding],
                   masker: Masker) -> list[ExchangeView]:
    """Every exchange with an observation, once, in time order, each observation with the
    findings it is evidence for or why it broke no rule."""
    start = result.start_time
    by_exchange: dict[int, list[Observation]] = defaultdict(list)
    for observation in result.observations:
        by_exchange[observation.exchange].append(observation)
    for finding in findings:  # evidence the judge added (an unreadable upload)
        for observation in finding.observations:
            if observation not in by_exchange[observation.exchange]:
                by_exchange[observation.exchange].append(observation)
    views = []
    for exchange_id in sorted(i for i, found in by_exchange.items() if found):
        exchange = result.exchange(exchange_id)
        observations = []
        for o in by_exchange[exchange_id]:
            broke = _by_number([f.id for f in findings if o in f.observations])
            observations.append(ObservationView(
                data_type=data_label(o.data_type), where=o.where, key=masker.text(o.key),
                chain=" → ".join(o.encodings), value=masker.value(o.value, o.data_type),
                match=match_label(o), hashed=o.hashed, detail=masker.text(o.detail),
                context=masker.context(o.excerpt, hashed=o.hashed), broke=broke,
                not_broken=[] if broke else reasons_not_broken(result, o)))
        views.append(ExchangeView(
            id=exchange.id, anchor=f"x{exchange.id}", time=since_start(exchange.time, start),
            request_line=masker.text(exchange.request_line), host=masker.text(exchange.host),
            server=exchange.server,
            destination=destination_label(result.destinations.get(exchange.id)),
            transport=exchange.transport, bytes_up=exchange.bytes_up,
            frames=frames_label(exchange), display_filter=display_filter(exchange),
            source=exchange.source,
            headers=[(name, masker.text(value)) for name, value in exchange.headers],
            notes=[masker.text(n) for n in exchange.notes],
            observations=observations,
            findings=_by_number([f.id for f in findings if exchange.id in f.exchanges])))
    return views


def host_views(result: AuditResult, masker: Masker) -> list[HostView]:
    """Every host contacted, those that received personal data first, then by first time.
    Uploads, bytes and server addresses are those of the uploads; DNS queries for the
    name are counted apart, with the resolvers they went to."""
    by_host: dict[str, list[Exchange]] = defaultdict(list)
    for exchange in result.exchanges:
        by_host[host_key(exchange)].append(exchange)
    types_by_exchange: dict[int, set[str]] = defaultdict(set)
    for observation in result.observations:
        if observation.data_type in PERSONAL_DATA:
            types_by_exchange[observation.exchange].add(observation.data_type)
    start = result.start_time
    keyed: list[tuple[tuple[bool, float], HostView]] = []
    for host, exchanges in by_host.items():
        types = sorted({t for e in exchanges for t in types_by_exchange.get(e.id, ())})
        first = min(e.time for e in exchanges)
        uploads = [e for e in exchanges if not is_dns(e)]
        queries = [e for e in exchanges if is_dns(e)]
        unread = [e for e in uploads if not e.readable]
        receiver = uploads[0] if uploads else exchanges[0]
        keyed.append(((not types, first), HostView(
            host=masker.text(host),
            destination=destination_label(result.destinations.get(receiver.id))
            if uploads else "",
            server_ips=sorted({e.server_ip for e in uploads if e.server_ip}),
            exchanges=len(uploads),
            unreadable=len(unread),
            bytes_up=sum(e.bytes_up for e in uploads),
            bytes_down=sum(e.bytes_down for e in uploads),
            transports=sorted({e.transport for e in uploads}),
            unreadable_transports=sorted({e.transport for e in unread}),
            data_types=[data_label(t) for t in types],
            first=since_start(first, start),
            dns_queries=len(queries),
            resolvers=sorted({e.server_ip for e in queries if e.server_ip}),
            unreadable_bytes=sum(e.bytes_up for e in unread),
        )))
    keyed.sort(key=lambda pair: pair[0])
    return [view for _, view in keyed]


def _by_number(ids: list[str]) -> list[str]:
    """Finding ids in number order (F9 before F10), as the report lists the findings."""
    return sorted(ids, key=lambda i: int(i[1:]) if i[1:].isdigit() else 0)

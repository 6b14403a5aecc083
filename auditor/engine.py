"""The one engine behind `analyze`, `proxy` and `check`.

Exchanges go in one at a time (from a capture reader or from the live addon); each is
decoded and searched at once, its body dropped, and only what a report needs is kept:
the exchange without its body, and its observations. Judging happens at the end (offline,
when the opt-in moment is known) or per exchange (live, with the opt-in known so far) —
through the same function, so the same upload gives the same findings either way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time as _time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from auditor import __version__
from auditor.decode import fields_of
from auditor.detect import Detector
from auditor.detect.profile import DeviceProfile
from auditor.judge import Hit, PolicySet, build_findings, evaluate
from auditor.judge.destination import Destination, DestinationResolver
from auditor.judge.trackers import TrackerList
from auditor.model import Exchange, Finding, InputError, InputInfo, Observation
from auditor.sources import ProgressCallback

if TYPE_CHECKING:
    from auditor.detect.patterns import Fact, RegionState
    from auditor.jobs import Workers

#: One exchange's analysis: observations, notes, the region facts it taught, and the region
#: state it began with when it consulted it (`analyse_learning`).
Analysis = tuple[list[Observation], list[str], tuple["Fact", ...], "RegionState | None"]

#: How many characters of an exchange's headers a report keeps as evidence.
_HEADER_EVIDENCE_LIMIT = 4096


@dataclass(frozen=True)
class InputFile:
    """A file besides the captures that the audit read: its provenance in the report."""

    role: str  # "device profile" | "key log" | "policy"
    path: str  # as given (policy files: as the loader shows them)
    sha256: str  # of the file's bytes when the audit read it


@dataclass
class AuditResult:
    """Everything a report renders. Exchanges are kept without their bodies."""

    inputs: list[InputInfo]
    exchanges: list[Exchange]
    observations: list[Observation]
    findings: list[Finding]
    opt_in_at: float | None  # epoch seconds, or None: the whole capture is before opt-in
    opt_in_source: str  # "--opt-in-at", "policy consent: POST host/path", "live", "none"
    profile: DeviceProfile | None
    policies: PolicySet
    destinations: dict[int, Destination] = field(default_factory=dict)  # by exchange id
    tool: dict[str, str] = field(default_factory=lambda: {"name": "handset-auditor",
                                                          "version": __version__})
    geo_data: str = ""  # which geolocation data was used, with its date
    suppressed: list[Finding] = field(default_factory=list)  # baselined or ignored findings
    generated_at: float = field(default_factory=_time.time)
    pattern_mode: bool = True  # False with --no-patterns: only profile values were searched
    #: Uploads that were seen but not analysed (live: the analysis process could not be
    #: kept running); when any, the verdict is INCOMPLETE, never PASS.
    incomplete: list[str] = field(default_factory=list)
    trackers: TrackerList | None = None  # the Exodus list that named SDKs (for the evidence)
    organisations_path: str = ""  # the organisation map that named organisations
    files: list[InputFile] = field(default_factory=list)  # profile, key logs, policies

    @property
    def start_time(self) -> float | None:
        times = [e.time for e in self.exchanges]
        return min(times) if times else None

    def exchange(self, exchange_id: int) -> Exchange:
        return self.exchanges[exchange_id - 1]


class Audit:
    """Feed exchanges in, get observations and (live) hits out, finish into a result."""

    def __init__(
        self,
        profile: DeviceProfile | None,
        policies: PolicySet,
        *,
        opt_in_at: float | None = None,
        resolver: DestinationResolver | None = None,
        pattern_mode: bool = True,
    ) -> None:
        self.profile = profile
        self.policies = policies
        self.detector = Detector(profile, pattern_mode=pattern_mode)
        self.pattern_mode = pattern_mode
        self.resolver = resolver or DestinationResolver(vendor=profile.vendor if profile else "")
        self.inputs: list[InputInfo] = []
        self.exchanges: list[Exchange] = []
        self.observations: dict[int, list[Observation]] = {}
        self.destinations: dict[int, Destination] = {}
        self.opt_in_at = opt_in_at
        self.opt_in_source = "--opt-in-at" if opt_in_at is not None else "none"
        self.opt_in_offset: float | None = None  # --opt-in-at +SECONDS: from the first upload
        self.opt_in_frame: int | None = None  # --opt-in-at frame:N: of the first capture
        self.files: list[InputFile] = [InputFile("policy", shown, digest) for shown, digest
                                       in getattr(policies, "digests", {}).items()]

    def record_file(self, role: str, path: str | Path) -> None:
        """Note a file the audit read (device profile, key log) with its SHA-256."""
        path = str(path)
        if any(f.role == role and f.path == path for f in self.files):
            return
        try:
            digest = file_digest(path)
        except OSError:
            digest = ""  # the reader of that file says what is wrong with it
        self.files.insert(sum(f.role != "policy" for f in self.files),
                          InputFile(role, path, digest))

    # -- feeding --------------------------------------------------------------------------

    def add_input(self, info: InputInfo) -> InputInfo:
        self.inputs.append(info)
        return info

    def add(self, exchange: Exchange) -> tuple[Exchange, list[Observation]]:
        """Analyse one exchange; returns it as the audit keeps it (with its id, without its
        body, headers trimmed to the evidence kept) and its observations."""
        kept = self.admit(exchange)
        observations, notes = analyse(self.detector, exchange, kept)
        self.record(kept, observations, notes)
        return kept, observations

    def admit(self, exchange: Exchange) -> Exchange:
        """The part of `add` that depends on capture order: a consent request seen here is
        applied, the exchange gets its id and is kept (without its body) with its
        destination. `analyse` and `record` finish it, here or in a worker (auditor.jobs)."""
        if self.policies.is_opt_in(exchange):
            self.mark_opt_in(exchange.time, f"policy consent: {exchange.request_line}")
        kept = keep(exchange, len(self.exchanges) + 1)
        self.destinations[kept.id] = self.resolver.resolve(exchange.host, exchange.server_ip)
        self.exchanges.append(kept)
        return kept

    def record(self, kept: Exchange, observations: list[Observation], notes: list[str],
               info: InputInfo | None = None, at: int | None = None) -> None:
        """An admitted exchange's observations, and its analysis notes as warnings of its
        input (`info`, default the last one; at index `at`, default the end)."""
        if info is None and self.inputs:
            info = self.inputs[-1]
        if notes and info is not None:
            lines = [f"{kept.source}: {n}" for n in notes]
            if at is None:
                info.warnings.extend(lines)
            else:
                info.warnings[at:at] = lines
        if observations:
            self.observations[kept.id] = observations

    def mark_opt_in(self, when: float, source: str) -> None:
        """The user opted in at `when`; the earliest opt-in wins (an explicit one stays)."""
        if self.opt_in_source == "--opt-in-at":
            return
        if self.opt_in_at is None or when < self.opt_in_at:
            self.opt_in_at = when
            self.opt_in_source = source

    def hits_for(self, exchange: Exchange) -> list[Hit]:
        """The rules this exchange breaks given the opt-in known now (live output)."""
        return evaluate(self.policies, exchange, self.observations.get(exchange.id, []),
                        self.opt_in_at, self.destinations.get(exchange.id))

    # -- finishing ------------------------------------------------------------------------

    def finish(self) -> AuditResult:
        if self.opt_in_offset is not None and self.exchanges:
            self.opt_in_at = min(e.time for e in self.exchanges) + self.opt_in_offset
        hits: list[Hit] = []
        for exchange in self.exchanges:
            hits.extend(self.hits_for(exchange))
        return AuditResult(
            inputs=self.inputs,
            exchanges=self.exchanges,
            observations=[o for e in self.exchanges for o in self.observations.get(e.id, [])],
            findings=build_findings(hits, self.exchanges),
            opt_in_at=self.opt_in_at,
            opt_in_source=self.opt_in_source,
            profile=self.profile,
            policies=self.policies,
            destinations=self.destinations,
            geo_data=self.resolver.data_description,
            pattern_mode=self.pattern_mode,
            trackers=self.resolver.trackers,
            organisations_path=self.resolver.organisations_path,
            files=list(self.files),
        )


def keep(exchange: Exchange, exchange_id: int) -> Exchange:
    """The copy of an exchange an audit keeps, and detection and judging see: its id, no
    body, headers trimmed to the evidence kept."""
    return dataclasses.replace(exchange, id=exchange_id, body=b"",
                               headers=_trim_headers(exchange.headers))


def analyse(detector: Detector, exchange: Exchange,
            kept: Exchange) -> tuple[list[Observation], list[str]]:
    """Decode and search one exchange (`kept` is its `keep` copy): its observations and
    the notes of its analysis. Depends on nothing but its arguments, so it runs the same
    in a worker process."""
    notes: list[str] = []
    try:
        observations = detector.observe(kept, fields_of(exchange, warnings=notes))
    except Exception as error:  # noqa: BLE001 - one odd upload must not end the audit
        observations = []
        notes.append(f"analysis failed ({type(error).__name__}: {error}); this upload "
                     f"was not searched — please report it with the capture")
    return observations, notes


def analyse_learning(detector: Detector, exchange: Exchange, kept: Exchange,
                     state: RegionState | None = None) -> Analysis:
    """`analyse`, with what pattern mode learned from the exchange about the capture's
    region (`PatternFinder.learning`): its observations, notes, facts (in order), and the
    region state it began with if a decision consulted it (else None). `state`: the state
    to analyse with, default the detector's own (which the facts then update)."""
    if detector.patterns is None:
        return (*analyse(detector, exchange, kept), (), None)
    with detector.patterns.learning(state) as lesson:
        observations, notes = analyse(detector, exchange, kept)
    return observations, notes, tuple(lesson.facts), lesson.start


def _trim_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if sum(len(name) + len(value) for name, value in headers) <= _HEADER_EVIDENCE_LIMIT:
        return headers  # the usual case: nothing to cut, no copy
    kept, size = [], 0
    for name, value in headers:
        size += len(name) + len(value)
        if size > _HEADER_EVIDENCE_LIMIT:
            break
        kept.append((name, value))
    return tuple(kept)


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def analyze_files(
    paths: Iterable[str],
    audit: Audit,
    *,
    keylogs: Iterable[str] = (),
    progress: ProgressCallback | None = None,
    workers: Workers | None = None,
) -> AuditResult:
    """Read every capture into `audit` and finish it; exchanges are analysed by `workers`
    when given (`auditor.jobs.workers_for`), else here. Raises InputError for unreadable
    input."""
    from auditor.sources import open_capture

    keylogs = list(keylogs)
    paths = list(paths)
    if audit.opt_in_frame is not None and paths:
        from auditor.sources import frame_time

        audit.opt_in_at = frame_time(paths[0], audit.opt_in_frame)
    for keylog in keylogs:
        audit.record_file("key log", keylog)
    for path in paths:
        info, exchanges = open_capture(path, keylogs=keylogs, progress=progress)
        audit.add_input(info)
        for exchange in exchanges:
            if workers is None:
                audit.add(exchange)
            else:
                workers.add(exchange, info)
        if not info.sha256:  # the pcap reader hashes as it reads; other readers do not
            info.sha256 = file_digest(path)
    if workers is not None:
        workers.finish()
    return audit.finish()


_TIME_FORMS = ("ISO 8601 with a zone (2014-08-01T10:00:03Z, 2014-08-01T18:00:03+08:00), "
               "epoch seconds (1406887203), +SECONDS from the capture start (+41.5) or "
               "frame:N (the time of packet N of the first capture)")


def parse_time(text: str, *, what: str = "--opt-in-at") -> float:
    """An ISO 8601 time with a zone, or epoch seconds, as epoch seconds. A time without a
    zone is refused: whose clock it was read from cannot be guessed."""
    from datetime import datetime

    text = str(text).strip()
    if not text.startswith("+"):
        try:
            return float(text)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a time; give {_TIME_FORMS}") from None
    if moment.tzinfo is None:
        raise InputError(f"{what}: {text!r} has no time zone, so whose clock it is cannot be "
                         f"known; write it as {moment.isoformat()}Z for UTC or with the "
                         f"offset of its clock ({moment.isoformat()}+08:00), or give epoch "
                         f"seconds, +SECONDS from the capture start or frame:N")
    return moment.timestamp()


def parse_opt_in(text: str) -> tuple[float | None, float | None, int | None]:
    """--opt-in-at as (epoch seconds, seconds after the capture start, frame number): one
    of the three is set. `+41.5` counts from the first upload, as the report's `+41.5 s`
    labels do; `frame:N` is packet N of the first capture (Wireshark's numbering)."""
    text = str(text).strip()
    if text.startswith("+"):
        try:
            offset = float(text[1:])
        except ValueError:
            raise InputError(f"--opt-in-at: {text!r} is not +SECONDS; give "
                             f"{_TIME_FORMS}") from None
        return None, offset, None
    if text.lower().startswith("frame:"):
        number = text[6:].strip()
        if not number.isdigit() or int(number) < 1:
            raise InputError(f"--opt-in-at: {text!r}: frame:N takes a packet number from 1, "
                             f"as Wireshark shows it (frame:1234)")
        return None, None, int(number)
    return parse_time(text), None, None


def build_audit(
    *,
    device: str | None = None,
    policies: list[str] | None = None,
    opt_in_at: str | float | None = None,
    geoip: str | None = None,
    pattern_mode: bool = True,
    declared: list[str] | str | None = None,
    trackers: str | None = None,
) -> Audit:
    """An `Audit` from the options every front-end shares. Raises InputError on bad input.

    `declared`: declaration files (what the app says it collects and shares); `trackers`:
    a refreshed Exodus tracker list instead of the bundled one."""
    from auditor.detect.profile import load_profile
    from auditor.judge import load_policies
    from auditor.judge.declared import load_declaration
    from auditor.judge.trackers import load_trackers

    profile = load_profile(device) if device else None
    policy_set = load_policies(list(policies) if policies else None)
    for path in [declared] if isinstance(declared, str) else (declared or []):
        policy_set.add_declaration(load_declaration(path))
    when, offset, frame = (parse_opt_in(str(opt_in_at)) if opt_in_at not in (None, "")
                           else (None, None, None))
    resolver = DestinationResolver(vendor=profile.vendor if profile else "", geoip_path=geoip,
                                   trackers=load_trackers(trackers))
    audit = Audit(profile, policy_set, opt_in_at=when, resolver=resolver,
                  pattern_mode=pattern_mode)
    if offset is not None or frame is not None:
        audit.opt_in_source = "--opt-in-at"  # explicit: a policy's consent matcher yields
        audit.opt_in_offset, audit.opt_in_frame = offset, frame
    if device:
        audit.record_file("device profile", device)
    return audit

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
from datetime import UTC
from pathlib import Path

from auditor import __version__
from auditor.decode import fields_of
from auditor.detect import Detector
from auditor.detect.profile import DeviceProfile
from auditor.judge import Hit, PolicySet, build_findings, evaluate
from auditor.judge.destination import Destination, DestinationResolver
from auditor.model import Exchange, Finding, InputError, InputInfo, Observation
from auditor.sources import ProgressCallback

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
        self.resolver = resolver or DestinationResolver(vendor=profile.vendor if profile else "")
        self.inputs: list[InputInfo] = []
        self.exchanges: list[Exchange] = []
        self.observations: dict[int, list[Observation]] = {}
        self.destinations: dict[int, Destination] = {}
        self.opt_in_at = opt_in_at
        self.opt_in_source = "--opt-in-at" if opt_in_at is not None else "none"
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
        if self.policies.is_opt_in(exchange):
            self.mark_opt_in(exchange.time, f"policy consent: {exchange.request_line}")
        # one copy per exchange: what is kept is also what detection and judging see
        kept = dataclasses.replace(exchange, id=len(self.exchanges) + 1, body=b"",
                                   headers=_trim_headers(exchange.headers))
        notes: list[str] = []
        try:
            observations = self.detector.observe(kept, fields_of(exchange, warnings=notes))
        except Exception as error:  # noqa: BLE001 - one odd upload must not end the audit
            observations = []
            notes.append(f"analysis failed ({type(error).__name__}: {error}); this upload "
                         f"was not searched — please report it with the capture")
        if notes and self.inputs:
            self.inputs[-1].warnings.extend(f"{exchange.source}: {n}" for n in notes)
        self.destinations[kept.id] = self.resolver.resolve(exchange.host, exchange.server_ip)
        self.exchanges.append(kept)
        if observations:
            self.observations[kept.id] = observations
        return kept, observations

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
            files=list(self.files),
        )


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
) -> AuditResult:
    """Read every capture into `audit` and finish it. Raises InputError for unreadable input."""
    from auditor.sources import open_capture

    keylogs = list(keylogs)
    for keylog in keylogs:
        audit.record_file("key log", keylog)
    for path in paths:
        info, exchanges = open_capture(path, keylogs=keylogs, progress=progress)
        audit.add_input(info)
        for exchange in exchanges:
            audit.add(exchange)
        if not info.sha256:  # the pcap reader hashes as it reads; other readers do not
            info.sha256 = file_digest(path)
    return audit.finish()


def parse_time(text: str, *, what: str = "--opt-in-at") -> float:
    """An ISO 8601 time (naive means UTC) or epoch seconds, as epoch seconds."""
    from datetime import datetime

    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a time; give ISO 8601 "
                         f"(2014-08-01T10:00:03Z) or epoch seconds (1406887203)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def build_audit(
    *,
    device: str | None = None,
    policies: list[str] | None = None,
    opt_in_at: str | float | None = None,
    geoip: str | None = None,
    pattern_mode: bool = True,
) -> Audit:
    """An `Audit` from the options every front-end shares. Raises InputError on bad input."""
    from auditor.detect.profile import load_profile
    from auditor.judge import load_policies

    profile = load_profile(device) if device else None
    policy_set = load_policies(list(policies) if policies else None)
    when = parse_time(str(opt_in_at)) if opt_in_at not in (None, "") else None
    resolver = DestinationResolver(vendor=profile.vendor if profile else "", geoip_path=geoip)
    audit = Audit(profile, policy_set, opt_in_at=when, resolver=resolver,
                  pattern_mode=pattern_mode)
    if device:
        audit.record_file("device profile", device)
    return audit

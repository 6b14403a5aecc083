"""Rule evaluation: which rules one exchange and its observations break."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.judge.destination import Destination
from auditor.judge.rules import PolicySet, Rule
from auditor.model import CLEARTEXT_TRANSPORTS, ENCRYPTED_TRANSPORTS, Exchange, Observation


@dataclass(frozen=True)
class Hit:
    """One rule broken by one exchange, with the observations that break it."""

    rule: Rule
    exchange: Exchange
    observations: tuple[Observation, ...]
    consent: str  # "before-opt-in" | "after-opt-in"


def consent_phase(time: float, opt_in_at: float | None) -> str:
    """Before opt-in when no opt-in is known or it came later; the opt-in request itself
    is after opt-in (it is the user's agreement)."""
    return "before-opt-in" if opt_in_at is None or time < opt_in_at else "after-opt-in"


def _transport_fits(rule: Rule, exchange: Exchange) -> bool:
    if rule.transport == "cleartext":
        return exchange.transport in CLEARTEXT_TRANSPORTS
    if rule.transport == "encrypted":
        return exchange.transport in ENCRYPTED_TRANSPORTS
    return True


def _confirmed(observations: list[Observation]) -> set[tuple[str, str, str]]:
    """(data type, where, key) of the known matches: a pattern match at the same place is
    the same value, already judged as known."""
    return {(o.data_type, o.where, o.key) for o in observations if o.match == "known"}


def _unreadable_observation(exchange: Exchange) -> Observation:
    """Evidence for an upload the auditor could not read, when the detector made none."""
    return Observation(exchange=exchange.id, data_type="unreadable",
                       where="udp" if exchange.transport in ("quic", "h3", "udp") else "sni",
                       key="", encodings=(exchange.transport,), match="known",
                       value=exchange.host or exchange.server,
                       detail=f"{exchange.bytes_up} bytes up, not readable")


def _with_unreadable(exchange: Exchange, observations: list[Observation]) -> list[Observation]:
    if exchange.readable or any(o.data_type == "unreadable" for o in observations):
        return observations
    return [*observations, _unreadable_observation(exchange)]


def evaluate(
    policies: PolicySet,
    exchange: Exchange,
    observations: list[Observation],
    opt_in_at: float | None,
    destination: Destination | None,
) -> list[Hit]:
    """Every rule of `policies` this exchange breaks, each with its fitting observations.

    An exchange the auditor could not read (`readable` False) carries an `unreadable`
    observation even when the detector reported none, so rules on `unreadable` see it.
    """
    observations = _with_unreadable(exchange, observations)
    if not observations:
        return []
    phase = consent_phase(exchange.time, opt_in_at)
    confirmed = _confirmed(observations)
    hits = []
    for rule in policies.rules:
        if rule.consent not in ("any", phase) or not _transport_fits(rule, exchange):
            continue
        fitting = tuple(
            o for o in observations
            if o.data_type in rule.data
            and rule.encoding in ("any", o.encoding_class)
            and rule.match in ("any", o.match)
            and not (o.match == "pattern" and (o.data_type, o.where, o.key) in confirmed)
        )
        if fitting and rule.to.fits(exchange.host, destination) \
                and rule.sender.fits(exchange.app):
            hits.append(Hit(rule, exchange, fitting, phase))
    return hits

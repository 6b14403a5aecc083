"""What each rule's result means, and why data that was sent broke no rule.

A rule either failed (it has findings), was covered by its known-value twin (a `match:
pattern` rule whose candidates were all confirmed as the device's own values, which the
twin judges), had nothing to judge (no upload carried data in its scope), or passed (it
judged data and none broke it). For a passing report, `reasons_not_broken` says for each
observation which condition of each rule on its data type let it through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.model import CLEARTEXT_TRANSPORTS, ENCRYPTED_TRANSPORTS, Observation
from auditor.report.common import plural, severity_of

if TYPE_CHECKING:
    from auditor.engine import AuditResult

FAILED, COVERED, NOTHING, PASSED = "failed", "covered", "nothing to judge", "passed"


@dataclass
class RuleOutcome:
    id: str
    title: str
    severity: str
    file: str
    status: str  # failed | covered | nothing to judge | passed
    text: str  # what the status means here, in a sentence fragment
    findings: list[str] = field(default_factory=list)  # finding ids when failed
    twin: str = ""  # the known-value rule that covers a pattern rule


def _phase(time: float, opt_in_at: float | None) -> str:
    return "before-opt-in" if opt_in_at is None or time < opt_in_at else "after-opt-in"


def _in_scope(rule: Any, result: AuditResult, o: Observation) -> bool:
    """Whether the rule judges this observation's data type, consent phase, transport and
    destination (its encoding and match conditions aside)."""
    exchange = result.exchange(o.exchange)
    if o.data_type not in rule.data or rule.consent not in ("any", _phase(exchange.time,
                                                                          result.opt_in_at)):
        return False
    if rule.transport == "cleartext" and exchange.transport not in CLEARTEXT_TRANSPORTS:
        return False
    if rule.transport == "encrypted" and exchange.transport not in ENCRYPTED_TRANSPORTS:
        return False
    return rule.to.fits(exchange.host, result.destinations.get(exchange.id))


def _same_scope(a: Any, b: Any) -> bool:
    return (a.data, a.consent, a.transport, a.encoding, a.to) == \
        (b.data, b.consent, b.transport, b.encoding, b.to)


def _twin(rule: Any, rules: Iterable[Any]) -> Any | None:
    """The `match: known` rule judging the same data in the same scope as a pattern rule."""
    if getattr(rule, "match", "any") != "pattern":
        return None
    return next((r for r in rules if r is not rule and r.match == "known"
                 and _same_scope(r, rule)), None)


def _judgeable(rule: Any) -> bool:
    return all(hasattr(rule, a) for a in ("data", "consent", "transport", "encoding",
                                          "match", "to"))


def rule_outcomes(result: AuditResult, findings: Iterable[Any]) -> list[RuleOutcome]:
    """One outcome per rule of the policy set, in policy order."""
    by_rule: dict[str, list[str]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding.id)
    rules = list(result.policies.rules)
    out = []
    for rule in rules:
        outcome = RuleOutcome(id=rule.id, title=rule.title,
                              severity=str(severity_of(rule.severity)),
                              file=getattr(rule, "policy_file", ""), status=PASSED, text="")
        out.append(outcome)
        if rule.id in by_rule:
            outcome.status, outcome.findings = FAILED, by_rule[rule.id]
            outcome.text = "broken: see " + ", ".join(by_rule[rule.id])
            continue
        if not _judgeable(rule):
            outcome.text = "no upload broke it"
            continue
        scope = [o for o in result.observations if _in_scope(rule, result, o)]
        twin = _twin(rule, rules)
        if rule.match == "pattern" and twin is not None and scope and all(
                o.match == "known" for o in scope):
            outcome.status, outcome.twin = COVERED, twin.id
            outcome.text = (f"covered by {twin.id}: " + (
                "its one candidate is the device's own value, judged there" if len(scope) == 1
                else f"{'both' if len(scope) == 2 else f'all {len(scope)}'} candidates in its "
                     f"scope are the device's own values, judged there"))
        elif not scope:
            outcome.status = NOTHING
            outcome.text = "no upload carried data in its scope"
        else:
            outcome.text = (f"judged {plural(len(scope), 'observation')}; none broke it "
                            f"({_why_all(rule, scope)})")
    return out


def _why_all(rule: Any, scope: list[Observation]) -> str:
    reasons = sorted({_why(rule, o) for o in scope})
    return "; ".join(reasons)


def _why(rule: Any, o: Observation) -> str:
    if rule.encoding not in ("any", o.encoding_class):
        return "hashed" if o.hashed else "readable, the rule is about hashed values"
    if rule.match not in ("any", o.match):
        return ("a known value, judged by known-value rules" if o.match == "known"
                else "only shaped like the data, judged by pattern rules")
    return "a pattern match at a place where the known value was found"


def reasons_not_broken(result: AuditResult, observation: Observation) -> list[tuple[str, str]]:
    """(rule id, why this observation did not break it) for every rule on its data type
    that it did not break; a reader of a passing report sees what kept each value legal."""
    exchange = result.exchange(observation.exchange)
    broken = {f.rule for f in result.findings if observation in f.observations}
    out = []
    for rule in result.policies.rules:
        if rule.id in broken or not _judgeable(rule) or observation.data_type not in rule.data:
            continue
        phase = _phase(exchange.time, result.opt_in_at)
        if rule.match not in ("any", observation.match):
            continue  # the other kind of rule judges it; saying so for each is noise
        if rule.consent not in ("any", phase):
            why = "sent after the user opted in" if phase == "after-opt-in" \
                else "sent before the user opted in"
        elif rule.transport == "cleartext" and exchange.transport not in CLEARTEXT_TRANSPORTS:
            why = "sent encrypted"
        elif rule.transport == "encrypted" and exchange.transport not in ENCRYPTED_TRANSPORTS:
            why = "sent in clear text"
        elif rule.encoding not in ("any", observation.encoding_class):
            why = "only a hash of it was sent" if observation.hashed else "sent readable"
        elif not rule.to.fits(exchange.host, result.destinations.get(exchange.id)):
            party = getattr(result.destinations.get(exchange.id), "party", "")
            why = f"to a {party} party the rule does not cover" if party else \
                "to a receiver the rule does not cover"
        else:
            why = "at a place where the known value was judged"
        out.append((rule.id, why))
    return out

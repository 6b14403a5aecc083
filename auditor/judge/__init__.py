"""Judging: policies loaded and validated, the consent timeline, rules evaluated against
each exchange's observations and destination, and hits grouped into findings."""

from auditor.judge.destination import Destination, DestinationResolver
from auditor.judge.evaluate import Hit, consent_phase, evaluate
from auditor.judge.findings import build_findings, fingerprint
from auditor.judge.loader import load_policies, validate_files
from auditor.judge.rules import DestinationConditions, OptInMatcher, PolicySet, Rule

__all__ = [
    "Destination",
    "DestinationConditions",
    "DestinationResolver",
    "Hit",
    "OptInMatcher",
    "PolicySet",
    "Rule",
    "build_findings",
    "consent_phase",
    "evaluate",
    "fingerprint",
    "load_policies",
    "validate_files",
]

"""Severity from confidence: how sure a pattern match is decides how severe its finding is.

A rule with `match: pattern` judges values no device profile confirms. Its declared
severity is for an ordinary pattern match; the strongest observation behind a finding
moves it (see README, "Severity of pattern matches"):

- confidence >= 0.95, *evidence*: the key names the identifier and the value passes the
  identifier's own check (a Luhn-valid IMEI with a real TAC under `imei`, an IMSI with a
  real MCC under `imsi`, a valid phone number under `phone`, ...). Chance rarely does
  that, so it is judged one step above the declared severity — the severity the bundled
  policies give the same leak of a known value;
- 0.8 <= confidence < 0.95, *likely*: the declared severity;
- confidence < 0.8, *hint* (shape alone, e.g. 15 Luhn-valid digits under no key, which
  may be an order id): one step below it.

Rules that match known values (or `match: any`) keep their declared severity.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.model import Observation, Severity

EVIDENCE = 0.95
LIKELY = 0.8


def pattern_severity(declared: Severity, match: str,
                     observations: Iterable[Observation]) -> tuple[Severity, str]:
    """(severity, why it differs from the declared one, or "")."""
    if match != "pattern":
        return declared, ""
    strongest = max((o.confidence for o in observations if o.match == "pattern"), default=None)
    if strongest is None:
        return declared, ""
    if strongest >= EVIDENCE and declared < Severity.CRITICAL:
        raised = Severity(declared + 1)
        return raised, (f"{raised}, one step above the rule's {declared}: a pattern match at "
                        f"confidence {strongest:.2f} (a key naming the identifier and a value "
                        f"of exactly its form) is evidence")
    if strongest < LIKELY and declared > Severity.INFO:
        lowered = Severity(declared - 1)
        return lowered, (f"{lowered}, one step below the rule's {declared}: the strongest "
                         f"pattern match has confidence {strongest:.2f} (shape alone)")
    return declared, ""

"""Words, times, destinations and verdicts, as every report format writes them."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from auditor.model import DATA_GROUPS, Exchange, Finding, Severity
from auditor.report.attribution import receiver_parts

#: Where the project lives; SARIF and HTML point readers to it.
PROJECT_URL = "https://github.com/handset-auditor/handset-auditor"

#: Human names of data types, as a headline would write them.
DATA_LABELS: dict[str, str] = {
    "imei": "IMEI",
    "imsi": "IMSI",
    "iccid": "ICCID",
    "phone_number": "phone number",
    "android_id": "Android ID",
    "advertising_id": "advertising ID",
    "mac_address": "MAC address",
    "serial_number": "serial number",
    "email": "e-mail address",
    "contacts": "contact data",
    "sms": "SMS",
    "location": "location",
    "unreadable": "unreadable upload",
}

#: Data types whose values are personal data (`unreadable` names a host, not a value).
PERSONAL_DATA = frozenset(DATA_GROUPS["personal-data"])

#: Severities most severe first, as every table lists them.
SEVERITIES_DESC: tuple[Severity, ...] = tuple(sorted(Severity, reverse=True))


def severity_of(value: Any) -> Severity:
    """A severity from a `Severity`, its name or its number (rules from other modules)."""
    if isinstance(value, Severity):
        return value
    if isinstance(value, int):
        return Severity(value)
    return Severity.parse(str(value))


def data_label(data_type: str) -> str:
    return DATA_LABELS.get(data_type, data_type.replace("_", " "))


def join_words(words: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def reference_parts(reference: str) -> tuple[str, str]:
    """`("https://x", " (title)")` from `https://x (title)`; ("", text) when it is no link."""
    text = str(reference)
    url, _, rest = text.partition(" ")
    if url.startswith(("https://", "http://")):
        return url, (" " + rest) if rest else ""
    return "", text


def plural(count: int, word: str) -> str:
    """`1 upload`, `2 uploads`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- time ---------------------------------------------------------------------------------


def iso_time(epoch: float | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, e.g. `2014-08-01T10:00:03.412Z`."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """`3.2 s`, `2 min 5 s`, `1 h 4 min` — as a reader says it."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60} min"


def signed(seconds: float) -> str:
    """`+3.2 s`, or `-3.2 s` for a moment before the reference."""
    return ("-" if seconds < 0 else "+") + duration(seconds)


def since_start(epoch: float, start: float | None) -> str:
    """`+3.2 s` after the first exchange of the capture."""
    return signed(epoch - start) if start is not None else ""


def relative_to_opt_in(epoch: float, opt_in_at: float | None) -> str:
    """`38 s before opt-in`, `2.0 s after opt-in`, or `no opt-in seen`."""
    if opt_in_at is None:
        return "no opt-in seen"
    delta = epoch - opt_in_at
    if abs(delta) < 0.05:
        return "at opt-in"
    return f"{duration(delta)} {'before' if delta < 0 else 'after'} opt-in"


# --- destinations -------------------------------------------------------------------------


def asn_label(destination: Any) -> str:
    """`AS4808 China Unicom` (or the name alone when the data has no number)."""
    asn = getattr(destination, "asn", None)
    if asn in (None, "", 0):
        return getattr(destination, "as_name", "") or ""
    number = str(asn)
    number = number if number.upper().startswith("AS") else f"AS{number}"
    return f"{number} {getattr(destination, 'as_name', '') or ''}".strip()


def country_label(destination: Any) -> str:
    """`CN`, or `private` for an address that has no country."""
    if destination is None:
        return ""
    return getattr(destination, "country", "") or getattr(destination, "scope", "") or ""


def party_label(destination: Any) -> str:
    """`first` or `third` (party of the receiver to the vendor), "" when not known."""
    party = getattr(destination, "party", "") or ""
    return party if party in ("first", "third") else ""


def destination_label(destination: Any) -> str:
    """`CN, AS4808 China Unicom, Xiaomi` — country (or scope), network, organisation."""
    if destination is None:
        return ""
    parts = []
    country = getattr(destination, "country", "") or ""
    scope = getattr(destination, "scope", "") or ""
    if country:
        parts.append(country)
    elif scope and scope not in ("public", "unknown"):
        parts.append(f"{scope} address")
    network = asn_label(destination)
    if network:
        parts.append(network)
    organisation = getattr(destination, "organisation", "") or ""
    if organisation and organisation not in network:
        parts.append(organisation)
    return ", ".join(parts)


def destination_record(destination: Any) -> dict[str, Any] | None:
    """The JSON form of a destination (see json_report for the meaning of each field)."""
    if destination is None:
        return None
    asn = getattr(destination, "asn", None)
    return {
        "country": getattr(destination, "country", "") or "",
        "scope": getattr(destination, "scope", "") or "",
        "asn": asn if asn not in ("", 0) else None,
        "as_name": getattr(destination, "as_name", "") or "",
        "organisation": getattr(destination, "organisation", "") or "",
        "party": getattr(destination, "party", "") or "",
        **receiver_parts(destination),  # Exodus SDKs, their categories, who named whom
    }


# --- verdict ------------------------------------------------------------------------------


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then earliest first."""
    return sorted(findings, key=lambda f: (-severity_of(f.severity), f.first_seen, f.id))


def verdict(findings: Iterable[Finding], fail_on: Severity, *, incomplete: bool = False) -> str:
    """`FAIL` when any finding is at or above `fail_on`; else `INCOMPLETE` when uploads
    were not analysed (live: `AuditResult.incomplete`), never `PASS` then; else `PASS`."""
    if any(severity_of(f.severity) >= fail_on for f in findings):
        return "FAIL"
    return "INCOMPLETE" if incomplete else "PASS"


def counts_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(str(severity_of(f.severity)) for f in findings)
    return {str(s): counts.get(str(s), 0) for s in SEVERITIES_DESC}


def fingerprint(finding: Finding) -> str:
    """The finding's stable fingerprint; derived from rule, host, data types and places when
    the judge left it empty, so SARIF and baselines always have one."""
    if finding.fingerprint:
        return finding.fingerprint
    places = sorted({f"{o.where}:{o.key}" for o in finding.observations})
    text = "|".join([finding.rule, finding.host, ",".join(finding.data_types), *places])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def input_path_of(exchange: Exchange, inputs: list[Any]) -> str:
    """The capture file an exchange came from (its `source` starts with the path)."""
    source = exchange.source or ""
    for info in inputs:
        if source == info.path or source.startswith(info.path + "#"):
            return info.path
    if len(inputs) == 1:
        return inputs[0].path
    return source.split("#", 1)[0]


def profile_note(result: Any) -> str:
    """What an audit without a device profile means for its verdict; "" with one."""
    if getattr(result, "profile", None) is not None:
        return ""
    if not getattr(result, "pattern_mode", True):
        return ("no device profile (--device) and no pattern matches (--no-patterns): no "
                "personal data was searched for; only unreadable uploads could be judged")
    return ("no device profile (--device): only values that look like identifiers were "
            "found (pattern mode), none confirmed as this phone's; each finding's severity "
            "follows its confidence, and what only a profile reveals (hashed values, a single "
            "contact name or message text) was not searched, so a PASS is no proof of a "
            "clean phone")

"""Who sent each upload and who got it, and where each of those names came from — as every
report format writes it (JSON, SARIF, Markdown, HTML, terminal, JUnit).

Kept apart from the renderers: each of them adds these pieces beside what it already says.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor import PROJECT_ROOT
from auditor.model import App, Exchange, Finding

if TYPE_CHECKING:
    from auditor.engine import AuditResult


def app_record(app: App | None) -> dict[str, Any] | None:
    """The JSON form of the app that sent an upload; null when the input does not say."""
    if app is None:
        return None
    return {"uid": app.uid, "package": app.package, "name": app.name, "source": app.source}


def finding_app(finding: Finding) -> str:
    """`Weather (com.example.weather, uid 10123)`, "" when the input names no app."""
    return getattr(finding, "app", "") or ""


def receiver_parts(destination: Any) -> dict[str, Any]:
    """The attribution fields of a destination (see `destination_record`)."""
    return {
        "trackers": list(getattr(destination, "trackers", ()) or ()),
        "tracker_categories": list(getattr(destination, "tracker_categories", ()) or ()),
        "tracker_note": getattr(destination, "tracker_note", "") or "",
        "named_by": list(getattr(destination, "named_by", ()) or ()),
    }


def tracker_label(destination: Any) -> str:
    """`Google Firebase Analytics [Analytics]`, `one of: Facebook Ads, … ` or ""."""
    trackers = tuple(getattr(destination, "trackers", ()) or ())
    if not trackers:
        return ""
    names = trackers[0] if len(trackers) == 1 else "one of: " + ", ".join(trackers)
    categories = tuple(getattr(destination, "tracker_categories", ()) or ())
    return f"{names} [{', '.join(categories)}]" if categories else names


def receiver_label(destination: Any) -> str:
    """`Google; SDK Google Firebase Analytics [Analytics] (named by: organisation map, Exodus
    tracker list)` — the organisation, the SDKs, and which source named them."""
    if destination is None:
        return ""
    parts = []
    organisation = getattr(destination, "organisation", "") or ""
    if organisation:
        parts.append(organisation)
    sdk = tracker_label(destination)
    if sdk:
        parts.append(f"SDK {sdk}")
    named_by = tuple(getattr(destination, "named_by", ()) or ())
    if not parts:
        return ""
    return "; ".join(parts) + (f" (named by: {', '.join(named_by)})" if named_by else "")


def sources(result: AuditResult) -> dict[str, Any]:
    """Where every attribution of the report came from, so a reader can check it."""
    apps = sorted({(e.app.source, _input_of(e)) for e in result.exchanges if e.app is not None})
    trackers = getattr(result, "trackers", None)
    declarations = getattr(result.policies, "declarations", []) or []
    return {
        # how the capture named the app of each upload (PCAPdroid metadata), per input
        "app_metadata": [{"source": s, "input": i} for s, i in apps],
        # the Exodus Privacy tracker list that named SDKs: version, file and SHA-256
        "tracker_list": None if trackers is None else {
            "version": trackers.version, "path": _shown(trackers.path),
            "sha256": trackers.sha256, "trackers": len(trackers.trackers),
            "licence": "ODbL 1.0, Exodus Privacy (https://reports.exodus-privacy.eu.org/)"},
        # the domain → organisation map that named organisations
        "organisation_map": getattr(result, "organisations_path", "") or
        "rules/organisations.yaml",
        # what the app declared, with the file's SHA-256
        "declarations": [{"path": d.path, "sha256": d.sha256, "store": d.store,
                          "app": list(d.app)} for d in declarations],
    }


def source_lines(result: AuditResult) -> list[str]:
    """The same as `sources`, as sentences for the human-readable formats."""
    facts = sources(result)
    lines = []
    for item in facts["app_metadata"]:
        lines.append(f"App metadata: {item['source']} in {item['input']}")
    tracker_list = facts["tracker_list"]
    if tracker_list:
        lines.append(f"SDKs: {tracker_list['version']} ({tracker_list['trackers']} trackers, "
                     f"SHA-256 {tracker_list['sha256']}), {tracker_list['licence']}")
    lines.append(f"Organisations: {facts['organisation_map']}")
    for d in facts["declarations"]:
        app = f" for {' / '.join(d['app'])}" if d["app"] else ""
        lines.append(f"Declaration: {d['path']} ({d['store']}{app}), SHA-256 {d['sha256']}")
    return lines


def apps_of(result: AuditResult) -> list[tuple[str, int, int]]:
    """(app label, uploads, findings) per app the input named, most findings first."""
    uploads: dict[str, int] = {}
    for e in result.exchanges:
        if e.app is not None:
            uploads[e.app.label] = uploads.get(e.app.label, 0) + 1
    findings: dict[str, int] = {}
    for f in result.findings:
        if finding_app(f):
            findings[f.app] = findings.get(f.app, 0) + 1
    return sorted(((a, n, findings.get(a, 0)) for a, n in uploads.items()),
                  key=lambda row: (-row[2], -row[1], row[0]))


def _input_of(exchange: Exchange) -> str:
    return (exchange.source or "").split("#", 1)[0]


def _shown(path: str) -> str:
    """Bundled files relative to the project, so reports do not depend on where it lives."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return path

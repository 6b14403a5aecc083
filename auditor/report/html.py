"""The HTML report: one self-contained file an outsider can read and check by hand.

Inline CSS and inline SVG only, no scripts, nothing that loads from elsewhere (a
Content-Security-Policy meta forbids it even if something slipped in). Everything goes
through jinja2 with autoescaping on, and nothing from a capture is ever marked safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from auditor.model import DATA_GROUPS, Severity
from auditor.report.common import PROJECT_URL, duration, iso_time, plural
from auditor.report.facts import counts_by_input
from auditor.report.mask import Masker
from auditor.report.timeline import build_timeline
from auditor.report.view import ReportView, build_view, masker_for

if TYPE_CHECKING:
    from auditor.engine import AuditResult

IDENTIFIERS = frozenset(DATA_GROUPS["identifiers"])
_TEMPLATES = Path(__file__).with_name("templates")
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.globals["plural"] = plural


def render_html(result: AuditResult, *, reveal: bool = False,
                fail_on: Severity = Severity.HIGH) -> str:
    masker = masker_for(result, reveal)
    view = build_view(result, reveal=reveal, fail_on=fail_on, masker=masker)
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(
        view=view,
        setup=_setup(result, masker),
        policies=_policies(result, view),
        timeline=build_timeline(result, masker),
        generated_at=iso_time(result.generated_at),
        tool=result.tool,
        project_url=PROJECT_URL,
    )


def render_index(cases: list[dict[str, Any]], *, tool: dict[str, str],
                 generated_at: float) -> str:
    """The `check --html` index: one row per case (keys: name, report — the file name of
    its HTML report or "" —, passed, verdict, findings, checked, problems), styled like
    the reports it links to."""
    return _ENVIRONMENT.get_template("index.html.j2").render(
        cases=cases, passed=sum(bool(c["passed"]) for c in cases), tool=tool,
        generated_at=iso_time(generated_at), project_url=PROJECT_URL)


def _setup(result: AuditResult, masker: Masker) -> dict[str, Any]:
    """The 'test setup' section: device, captures, opt-in, data sources."""
    start = result.start_time
    profile = result.profile
    device: list[tuple[str, str]] = []
    name = "unnamed device"
    if profile is not None:
        name = getattr(profile, "name", "") or name
        for label in ("vendor", "region"):
            if getattr(profile, label, ""):
                device.append((label, str(getattr(profile, label))))
        for data_type, values in profile.identifiers().items():
            # contacts, SMS and location are listed below, part by part
            if values and data_type in IDENTIFIERS:
                device.append((data_type, ", ".join(masker.value(str(v), data_type)
                                                    for v in values)))
        contacts = [" ".join(masker.value(str(part), "contacts")
                             for part in (c.name, c.phone) if part)
                    for c in getattr(profile, "contacts", ()) or ()]
        if contacts:
            device.append(("contacts (canaries)", "; ".join(contacts)))
        sms = [masker.value(str(text), "sms") for text in getattr(profile, "sms", ()) or ()]
        if sms:
            device.append(("sms (canaries)", "; ".join(sms)))
        location = getattr(profile, "location", None)
        if location is not None:
            device.append(("location", masker.value(f"{location.lat}, {location.lon}",
                                                    "location")))
    per_input = counts_by_input(result)
    captures = [{
        "path": info.path,
        "kind": info.kind,
        "size": info.size,
        "sha256": info.sha256,
        "first": iso_time(info.first_time),
        "last": iso_time(info.last_time),
        "span": (duration(info.last_time - info.first_time)
                 if info.first_time is not None and info.last_time is not None else ""),
        "packets": info.packets,
        "exchanges": info.exchanges,
        "uploads": per_input.get(info.path, (0, 0))[0],
        "dns_queries": per_input.get(info.path, (0, 0))[1],
    } for info in result.inputs]
    return {
        "device_name": name,
        "device": device,
        "profile_path": str(getattr(profile, "source_path", "") or "") if profile else "",
        "captures": captures,
        "geo_data": result.geo_data,
        "start": iso_time(start),
        "exchanges": len(result.exchanges),
    }


def _policies(result: AuditResult, view: ReportView) -> dict[str, Any]:
    """Policy files, and how many rules failed (each rule's result is in `view.rules`)."""
    return {"files": list(result.policies.files),
            "failed": sum(r.status == "failed" for r in view.rules)}

"""JUnit XML, as CI servers read it (schema: the de-facto junit-10.xsd).

`junit_xml` is a generic writer, also used by `auditor check` for its expectations.
`render_junit` makes one testsuite per capture and one testcase per rule of the policy set:
a rule fails when any finding of it came from that capture, with the evidence (masked) as
the failure text. Characters XML 1.0 cannot carry (NUL, most control characters) are
replaced by U+FFFD, since captured bytes may contain anything.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditor.report.common import input_path_of, iso_time, severity_of
from auditor.report.view import FindingView, build_view, masker_for

if TYPE_CHECKING:
    from auditor.engine import AuditResult

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class JUnitCase:
    """One testcase; `failure` is the failure text, None when it passed."""

    name: str
    classname: str
    failure: str | None = None
    time: float = 0.0
    system_out: str = ""
    message: str = ""  # one-line failure message (the attribute CI servers show first)


@dataclass
class JUnitSuite:
    name: str
    cases: list[JUnitCase]
    timestamp: str = ""  # ISO 8601
    properties: dict[str, str] = field(default_factory=dict)
    system_err: str = ""  # the input's warnings: what was skipped, damaged or cut by a cap


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", str(text))


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def junit_xml(suites: list[JUnitSuite]) -> str:
    """The `<testsuites>` document for `suites`."""
    root = ET.Element("testsuites", {
        "name": "handset-auditor",
        "tests": str(sum(len(s.cases) for s in suites)),
        "failures": str(sum(c.failure is not None for s in suites for c in s.cases)),
        "errors": "0",
        "time": _seconds(sum(c.time for s in suites for c in s.cases)),
    })
    for suite in suites:
        attributes = {
            "name": _clean(suite.name),
            "tests": str(len(suite.cases)),
            "failures": str(sum(c.failure is not None for c in suite.cases)),
            "errors": "0",
            "skipped": "0",
            "time": _seconds(sum(c.time for c in suite.cases)),
        }
        if suite.timestamp:
            attributes["timestamp"] = suite.timestamp
        element = ET.SubElement(root, "testsuite", attributes)
        if suite.properties:
            properties = ET.SubElement(element, "properties")
            for name, value in suite.properties.items():
                ET.SubElement(properties, "property", {"name": _clean(name),
                                                       "value": _clean(value)})
        for case in suite.cases:
            testcase = ET.SubElement(element, "testcase", {
                "name": _clean(case.name), "classname": _clean(case.classname),
                "time": _seconds(case.time)})
            if case.failure is not None:
                failure = ET.SubElement(testcase, "failure", {
                    "message": _clean(case.message or case.failure.split("\n", 1)[0]),
                    "type": "policy-violation"})
                failure.text = _clean(case.failure)
            if case.system_out:
                ET.SubElement(testcase, "system-out").text = _clean(case.system_out)
    _system_err(root, suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _system_err(root: ET.Element, suites: list[JUnitSuite]) -> None:
    """Each suite's input warnings as its `<system-err>` (after its testcases, as the
    schema orders them), so a CI server shows what the audit could not read."""
    for element, suite in zip(root.findall("testsuite"), suites, strict=True):
        if suite.system_err:
            ET.SubElement(element, "system-err").text = _clean(suite.system_err)


def render_junit(result: AuditResult, *, reveal: bool = False) -> str:
    """One testsuite per capture, one testcase per rule; findings fail their rule."""
    masker = masker_for(result, reveal)
    view = build_view(result, reveal=reveal, masker=masker)
    by_input: dict[str, list[FindingView]] = defaultdict(list)
    for finding in view.findings:
        paths = {input_path_of(result.exchange(i), result.inputs)
                 for i in finding.finding.exchanges}
        for path in paths or {""}:
            by_input[path].append(finding)
    paths = [info.path for info in result.inputs] or ["live"]
    paths += [p for p in by_input if p not in paths]
    rules = _rules(result)
    outcomes = {r.id: r for r in view.rules}
    suites = []
    for path in paths:
        cases = []
        for rule_id, (title, severity) in rules.items():
            hits = [f for f in by_input.get(path, []) if f.rule == rule_id]
            case = JUnitCase(name=f"{rule_id}: {title}", classname=f"{path}.{rule_id}")
            if hits:
                case.message = (f"{len(hits)} finding(s) of {severity} severity: "
                                + "; ".join(f"{f.subject or ', '.join(f.data_types)} to "
                                            f"{f.host}" + (f" from {f.app}" if f.app else "")
                                            for f in hits))
                case.failure = "\n\n".join(_evidence_text(f) for f in hits)
            elif rule_id in outcomes:  # passed, covered by its twin, or nothing to judge
                case.system_out = f"{outcomes[rule_id].status}: {outcomes[rule_id].text}"
            cases.append(case)
        incomplete = getattr(result, "incomplete", ())
        if incomplete and path == paths[0]:  # live: uploads the analysis lost
            cases.append(JUnitCase(
                name="analysis complete", classname=f"{path}.analysis",
                message=f"{len(incomplete)} uploads were not analysed",
                failure="\n".join(masker.text(i) for i in incomplete)))
        warnings = "\n".join(w for p, w in view.warnings if p == path)
        suites.append(JUnitSuite(name=path, cases=cases, system_err=warnings,
                                 timestamp=(iso_time(result.generated_at) or "")[:19],
                                 properties={"verdict": view.verdict,
                                             "opt_in": result.opt_in_source,
                                             **{f"attribution {n}": line for n, line in
                                                enumerate(view.attribution, 1)}}))
    return junit_xml(suites)


def _rules(result: AuditResult) -> dict[str, tuple[str, str]]:
    rules = {r.id: (r.title, str(severity_of(r.severity))) for r in result.policies.rules}
    for finding in result.findings:
        rules.setdefault(finding.rule, (finding.title, str(severity_of(finding.severity))))
    return rules


def _evidence_text(f: FindingView) -> str:
    lines = [f"{f.id} [{f.severity}] {f.title}",
             f"host: {f.host}" + (f" ({f.server_ip})" if f.server_ip else "")
             + (f" - {f.destination}" if f.destination else ""),
             f"when: {f.since_start}; {f.opt_in}",
             f"sent: {f.subject or ', '.join(f.data_types)}"]
    lines += [f"{label}: {value}" for label, value in (("app", f.app), ("receiver", f.receiver))
              if value]
    shown_exchange = None
    for e in f.evidence:
        if e.exchange != shown_exchange:
            shown_exchange = e.exchange
            lines.append(f"  #{e.exchange} {e.request_line}")
        lines.append(f"    {e.where} {e.key} [{e.chain or 'plain'}] {e.data_type} = {e.value}"
                     f" ({e.match}{', hashed' if e.hashed else ''})")
    return "\n".join(lines)


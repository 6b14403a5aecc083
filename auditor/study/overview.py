"""The study's overview: an HTML page (autoescaped jinja2, self-contained) and a Markdown
summary for a CI job, both from one `StudySummary`."""

from __future__ import annotations

from pathlib import Path

import jinja2

from auditor import __version__
from auditor.report.common import data_label, plural
from auditor.study.outputs import StudySummary

#: How many receivers and rules the overview lists.
TOP = 15
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENVIRONMENT.globals.update(plural=plural, data_label=data_label)
_ENVIRONMENT.filters["data_label"] = data_label


def render_html(summary: StudySummary) -> str:
    labels = _label_names(summary)
    return _ENVIRONMENT.get_template("overview.html.j2").render(
        s=summary, t=summary.totals, labels=labels, top=TOP,
        tool=f"handset-auditor {__version__}")


def render_markdown(summary: StudySummary) -> str:
    t = summary.totals
    lines = [f"## auditor study: {_md(summary.source)}", "",
             (f"{plural(t['captures'], 'capture')}, {t['analysed']} audited "
              f"({t['from_cache']} from the cache), {t['failed']} could not be audited; "
              f"{plural(t['observations'], 'observation')}, "
              f"{plural(t['findings'], 'finding')}.")]
    if summary.fail_on is not None:
        lines.append(f"{t['failing']} with a finding at or above {summary.fail_on}.")
    lines += ["", "### Receivers that get the most", ""]
    if summary.receivers:
        lines += ["| receiver | captures | observations | data types |", "|---|---|---|---|"]
        lines += [f"| {_md(r['receiver'])} | {r['captures']} | {r['observations']} | "
                  f"{', '.join(data_label(d) for d in r['data_types'])} |"
                  for r in summary.receivers[:TOP]]
    else:
        lines.append("None.")
    lines += ["", "### Rules that fail most", ""]
    if summary.rules:
        lines += ["| rule | severity | captures | findings |", "|---|---|---|---|"]
        lines += [f"| `{r['rule']}` | {r['severity']} | {r['captures']} | {r['findings']} |"
                  for r in summary.rules[:TOP]]
    else:
        lines.append("No rule failed.")
    if summary.failed:
        lines += ["", "### Captures that could not be audited", ""]
        lines += [f"- `{c['capture']}`: {_md(c['error'])}" for c in summary.failed]
    return "\n".join(lines) + "\n"


def _label_names(summary: StudySummary) -> list[str]:
    """Label columns that some capture fills (none when rows are groups)."""
    if summary.group_by:
        return []
    return [name for name in summary.label_names
            if any(c["labels"].get(name) for c in summary.captures)]


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")

"""What a study leaves in its output folder, made from the outcomes of its captures.

```
DIR/reports/<capture>.json   one JSON report per capture (as `auditor analyze` writes it)
DIR/observations.csv|.parquet one row per observation
DIR/findings.csv|.parquet     one row per finding and data type
DIR/study.json               every capture: status, error, cache key, report, bytes, seconds
                             (wall and CPU)
DIR/overview.html            captures × data types, top receivers, rules that fail most
DIR/summary.md               the same in short, for a CI job's summary
DIR/cache/                   results by the SHA-256 of their inputs (what makes re-runs free)
```
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.model import DATA_TYPES, Severity
from auditor.study.corpus import Corpus
from auditor.study.rows import FINDING_COLUMNS, OBSERVATION_COLUMNS

STUDY_SCHEMA = "auditor-study/1"
_SEVERITIES = [str(s) for s in sorted(Severity, reverse=True)]


@dataclass
class StudySummary:
    """Counts and rankings the overview, the Markdown summary and the exit code share."""

    source: str
    fail_on: Severity | None
    captures: list[dict[str, Any]]  # one per capture: capture, labels, status, findings...
    data_types: list[str]  # columns of the matrix, in the vocabulary's order
    receivers: list[dict[str, Any]]  # most captures first
    rules: list[dict[str, Any]]  # most captures first
    totals: dict[str, int] = field(default_factory=dict)
    group_by: str | None = None  # the label whose values are the matrix's rows
    label_names: list[str] = field(default_factory=list)  # in the tables' column order

    @property
    def matrix(self) -> list[dict[str, Any]]:
        """Rows of the captures × data types matrix: one per capture, or per value of the
        `group_by` label (its captures' receivers and findings together)."""
        if not self.group_by:
            return [{**c, "title": c["capture"], "count": 1} for c in self.captures]
        groups: dict[str, dict[str, Any]] = {}
        for c in self.captures:
            name = c["labels"].get(self.group_by, "") or "(no label)"
            group = groups.setdefault(name, {
                "title": name, "count": 0, "labels": {}, "report": "", "status": "analysed",
                "error": "", "cells": defaultdict(set), "findings": Counter()})
            group["count"] += 1
            for data_type, receivers in c["cells"].items():
                group["cells"][data_type].update(receivers)
            group["findings"].update(c["findings"])
        for group in groups.values():
            group["cells"] = {t: sorted(v) for t, v in group["cells"].items()}
            group["findings"] = {s: group["findings"].get(s, 0) for s in _SEVERITIES}
        return [groups[name] for name in sorted(groups)]

    @property
    def failing(self) -> list[dict[str, Any]]:
        """Captures with a finding at or above --fail-on."""
        return [c for c in self.captures if c["gate"]]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Captures that could not be audited."""
        return [c for c in self.captures if c["status"] == "failed"]


def write_outputs(corpus: Corpus, outcomes: list[dict[str, Any]], folder: Path, *,
                  fail_on: Severity | None, group_by: str | None = None) -> StudySummary:
    folder.mkdir(parents=True, exist_ok=True)
    labels = corpus.label_names
    names = _report_names(corpus, outcomes, folder)
    observations, findings = [], []
    for job, outcome in zip(corpus.jobs, outcomes, strict=True):
        front = {"capture": job.capture, **{name: job.label_map.get(name, "") for name in labels}}
        observations.extend({**front, **row} for row in outcome["observations"])
        findings.extend({**front, **row} for row in outcome["findings"])
    _write_table(folder / "observations", ["capture", *labels, *OBSERVATION_COLUMNS],
                 observations)
    _write_table(folder / "findings", ["capture", *labels, *FINDING_COLUMNS], findings)
    summary = summarise(corpus, outcomes, names, fail_on=fail_on)
    summary.group_by = group_by
    index = {"schema": STUDY_SCHEMA, "source": corpus.source, "totals": summary.totals,
             "captures": [{k: c[k] for k in ("capture", "labels", "status", "cached", "error",
                                             "key", "report", "bytes", "seconds", "cpu_seconds",
                                             "findings")}
                          for c in summary.captures]}
    (folder / "study.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    from auditor.study.overview import render_html, render_markdown

    (folder / "overview.html").write_text(render_html(summary), encoding="utf-8")
    (folder / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    return summary


def _report_names(corpus: Corpus, outcomes: list[dict[str, Any]], folder: Path) -> list[str]:
    """Link each stored report into reports/ under a name made from the capture's path."""
    reports = folder / "reports"
    if reports.is_dir():
        shutil.rmtree(reports)  # what a previous run of this output folder listed
    reports.mkdir()
    names, taken = [], set()
    for job, outcome in zip(corpus.jobs, outcomes, strict=True):
        if outcome["status"] != "analysed" or not outcome.get("report"):
            names.append("")
            continue
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", job.capture.strip("/.")) or "capture"
        name, number = f"{stem}.json", 2
        while name in taken:
            name, number = f"{stem}-{number}.json", number + 1
        taken.add(name)
        stored = folder / "cache" / outcome["report"]
        try:
            os.link(stored, reports / name)
        except OSError:
            shutil.copyfile(stored, reports / name)
        names.append(f"reports/{name}")
    return names


def _write_table(stem: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(stem.with_suffix(".csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    types = {"exchange": pa.int64(), "exchanges": pa.int64()}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows],
                                 schema=schema)
    pq.write_table(table, stem.with_suffix(".parquet"))


def summarise(corpus: Corpus, outcomes: list[dict[str, Any]], names: list[str], *,
              fail_on: Severity | None) -> StudySummary:
    captures = []
    receivers: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"captures": set(), "observations": 0, "data_types": set(), "countries": set()})
    rules: dict[str, dict[str, Any]] = {}
    seen_types: set[str] = set()
    for job, outcome, name in zip(corpus.jobs, outcomes, names, strict=True):
        cells: dict[str, set[str]] = defaultdict(set)
        for row in outcome["observations"]:
            receiver = _receiver(row)
            cells[row["data_type"]].add(receiver)
            seen_types.add(row["data_type"])
            entry = receivers[receiver]
            entry["captures"].add(job.capture)
            entry["observations"] += 1
            entry["data_types"].add(row["data_type"])
            if row["country"]:
                entry["countries"].add(row["country"])
        by_severity = Counter()
        for row in {r["finding"]: r for r in outcome["findings"]}.values():
            by_severity[row["severity"]] += 1
            rule = rules.setdefault(row["rule"], {"rule": row["rule"], "title": row["title"],
                                                  "severity": row["severity"],
                                                  "captures": set(), "findings": 0})
            rule["captures"].add(job.capture)
            rule["findings"] += 1
        gate = fail_on is not None and any(
            Severity.parse(s) >= fail_on for s, n in by_severity.items() if n)
        captures.append({
            "capture": job.capture, "labels": job.label_map, "status": outcome["status"],
            "cached": bool(outcome.get("cached")), "error": outcome.get("error", ""),
            "key": outcome.get("key", ""), "report": name, "bytes": outcome.get("bytes", 0),
            "seconds": round(outcome.get("seconds", 0.0), 3),
            "cpu_seconds": round(outcome.get("cpu_seconds", 0.0), 3),
            "findings": {s: by_severity.get(s, 0) for s in _SEVERITIES},
            "cells": {t: sorted(v) for t, v in cells.items()}, "gate": gate,
        })
    ranked_receivers = sorted(
        ({"receiver": r, "captures": len(v["captures"]), "observations": v["observations"],
          "data_types": sorted(v["data_types"], key=_type_order),
          "countries": sorted(v["countries"])} for r, v in receivers.items()),
        key=lambda r: (-r["captures"], -r["observations"], r["receiver"]))
    ranked_rules = sorted(
        ({**v, "captures": len(v["captures"])} for v in rules.values()),
        key=lambda r: (-r["captures"], -Severity.parse(r["severity"]), r["rule"]))
    totals = {
        "captures": len(captures),
        "analysed": sum(c["status"] == "analysed" for c in captures),
        "failed": sum(c["status"] == "failed" for c in captures),
        "from_cache": sum(c["cached"] and c["status"] == "analysed" for c in captures),
        "bytes": sum(c["bytes"] for c in captures),
        "observations": sum(len(o["observations"]) for o in outcomes),
        "findings": sum(sum(c["findings"].values()) for c in captures),
        "failing": sum(c["gate"] for c in captures),
    }
    return StudySummary(source=corpus.source, fail_on=fail_on, captures=captures,
                        label_names=corpus.label_names,
                        data_types=sorted(seen_types, key=_type_order),
                        receivers=ranked_receivers, rules=ranked_rules, totals=totals)


def _receiver(row: dict[str, Any]) -> str:
    """Who receives: the organisation when it is known, else the host."""
    return row["organisation"] or row["host"]


def _type_order(data_type: str) -> tuple[int, str]:
    order = list(DATA_TYPES)
    return (order.index(data_type) if data_type in order else len(order), data_type)

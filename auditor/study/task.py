"""One capture of a study: the function a Dask worker runs, knowing nothing of Dask.

`audit_job` is a pure function of its inputs — the capture, key logs, device profile,
policies, opt-in, and this tool's code — whose result is stored under the output folder by
the SHA-256 of those inputs. A second call with the same inputs reads the stored result;
a changed policy or capture gives another key, so it is audited again.

The report is what `auditor analyze CAPTURE --format json` writes, made by the same calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any

import auditor
from auditor import BUNDLED_RULES, __version__
from auditor.engine import analyze_files, build_audit, file_digest
from auditor.model import InputError
from auditor.study.corpus import CaptureJob
from auditor.study.rows import finding_rows, observation_rows

CACHE_SCHEMA = "auditor-study-cache/1"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over this tool's Python code, so a changed tool re-audits (not only a new
    version number)."""
    h = hashlib.sha256()
    package = Path(auditor.__file__).parent
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def policy_files(policies: tuple[str, ...] | None) -> list[Path]:
    """Every file a policy argument stands for (a folder: its YAML files, as loaded)."""
    files = []
    for item in policies or (str(BUNDLED_RULES),):
        path = Path(item)
        files.extend(sorted(path.rglob("*.y*ml")) if path.is_dir() else [path])
    return files


def cache_key(job: CaptureJob, *, reveal: bool) -> str:
    """SHA-256 of everything the report depends on. Raises OSError for an unreadable file."""
    parts = {
        "schema": CACHE_SCHEMA,
        "tool": [__version__, code_digest()],
        "path": job.path,  # the report names the capture by the path it was opened with
        "capture": file_digest(job.path),
        "keylogs": [file_digest(k) for k in job.keylogs],
        "device": file_digest(job.device) if job.device else None,
        "policies": [[str(p), file_digest(p)] for p in policy_files(job.policies)],
        "opt_in_at": job.opt_in_at,
        "reveal": reveal,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def audit_job(job: CaptureJob, cache_dir: str, *, reveal: bool = False) -> dict[str, Any]:
    """Audit one capture, or read its stored result (`cached`). Never raises for a bad
    capture: the outcome's status is `failed`, with the error."""
    started, cpu_started = time.perf_counter(), time.process_time()
    outcome: dict[str, Any] = {"capture": job.capture, "path": job.path, "key": "",
                               "status": "failed", "cached": False, "error": "", "bytes": 0,
                               "seconds": 0.0, "cpu_seconds": 0.0, "observations": [],
                               "findings": []}
    try:
        outcome["bytes"] = os.path.getsize(job.path)
        key = outcome["key"] = cache_key(job, reveal=reveal)
    except (OSError, InputError) as e:
        outcome["error"] = f"{job.path}: cannot read: {getattr(e, 'strerror', None) or e}"
        return outcome
    stored = Path(cache_dir) / f"{key}.result.json"
    if stored.is_file():
        outcome.update(json.loads(stored.read_text(encoding="utf-8")), cached=True)
        _clock(outcome, started, cpu_started)
        return outcome
    report_text = ""
    try:
        report_text, rows = _audit(job, reveal=reveal)
    except InputError as e:  # bad input gives the same error every time: store it
        outcome["error"] = str(e)
    except Exception as e:  # noqa: BLE001 - one capture must never stop the study
        outcome["error"] = f"{job.path}: analysis failed: {type(e).__name__}: {e}"
        outcome["traceback"] = traceback.format_exc(limit=8)
        _clock(outcome, started, cpu_started)
        return outcome  # not stored: it may be this machine's trouble, try again next run
    else:
        outcome.update(rows, status="analysed", report=f"{key}.json")
    stored_fields = {k: outcome[k] for k in ("status", "error", "observations", "findings")}
    stored_fields["report"] = outcome.get("report", "")
    try:
        if report_text:
            _write_atomically(Path(cache_dir) / f"{key}.json", report_text)
        _write_atomically(stored, json.dumps(stored_fields))
    except OSError as e:
        outcome.update(status="failed", observations=[], findings=[], report="",
                       error=f"{cache_dir}: cannot store the result: {e.strerror} (the "
                             f"workers must see the output folder, e.g. on a shared disk)")
    _clock(outcome, started, cpu_started)
    return outcome


def _clock(outcome: dict[str, Any], started: float, cpu_started: float) -> None:
    """Wall and CPU seconds of this task (CPU: this worker process, one thread a task)."""
    outcome["seconds"] = time.perf_counter() - started
    outcome["cpu_seconds"] = time.process_time() - cpu_started


def _audit(job: CaptureJob, *, reveal: bool) -> tuple[str, dict[str, list]]:
    import io

    from auditor import report

    audit = build_audit(device=job.device, policies=list(job.policies or []) or None,
                        opt_in_at=job.opt_in_at)
    result = analyze_files([job.path], audit, keylogs=job.keylogs)
    text = io.StringIO()
    report.write(result, "json", text, reveal=reveal)  # as `analyze --format json` writes
    rows = {"observations": observation_rows(result, reveal=reveal),
            "findings": finding_rows(result, reveal=reveal)}
    return text.getvalue(), rows


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary name, so a killed worker never leaves half a result."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, temporary.with_name(path.name))

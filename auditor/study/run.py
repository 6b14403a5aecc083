"""Scheduling a study on Dask: one task per capture, results as they complete.

The client is made in one place (`connect`) and passed in, so the same `run_jobs` runs on
a local cluster, on a lab's scheduler, and in the tests on a real `dask scheduler`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditor.model import InputError
from auditor.study.corpus import CaptureJob
from auditor.study.task import audit_job

#: (captures done, bytes done) after each capture completes.
StudyProgress = Callable[[int, int], None]


def connect(scheduler: str | None = None, *, workers: int | None = None):
    """A Dask client: to `scheduler` (or $DASK_SCHEDULER_ADDRESS) when given, else to a
    local cluster of `workers` processes (default: one per core), one thread each."""
    from dask.distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    given = f"--scheduler {address}" if scheduler else f"DASK_SCHEDULER_ADDRESS={address}"
    if address:
        try:
            return Client(address, timeout="5s")
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InputError(f"{given}: cannot reach a Dask scheduler there "
                             f"({reason}); start one with `dask scheduler`, or give no "
                             f"scheduler address for a local cluster") from None
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                           processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
    return Client(cluster)


def close(client) -> None:
    """Close a client, and the local cluster it made (a remote cluster keeps running)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run_jobs(client, jobs: list[CaptureJob], cache_dir: Path, *, reveal: bool = False,
             progress: StudyProgress | None = None) -> list[dict[str, Any]]:
    """Every job's outcome, in the jobs' order. A task that fails — even one whose workers
    keep dying (Dask retries it on another worker first) — gives a `failed` outcome."""
    from dask.distributed import as_completed

    cache_dir.mkdir(parents=True, exist_ok=True)
    folder = str(cache_dir.resolve())
    futures = {client.submit(audit_job, job, folder, reveal=reveal, pure=False): index
               for index, job in enumerate(jobs)}
    outcomes: list[dict[str, Any] | None] = [None] * len(jobs)
    done_bytes = 0
    for done, future in enumerate(as_completed(futures), start=1):
        index = futures[future]
        try:
            outcome = future.result()
        except Exception as e:  # noqa: BLE001 - KilledWorker, a lost worker: recorded
            outcome = _lost(jobs[index], e)
        outcomes[index] = outcome
        future.release()
        done_bytes += outcome.get("bytes") or 0
        if progress:
            progress(done, done_bytes)
    return [o for o in outcomes if o is not None]


def _lost(job: CaptureJob, error: BaseException) -> dict[str, Any]:
    try:
        size = os.path.getsize(job.path)
    except OSError:
        size = 0
    return {"capture": job.capture, "path": job.path, "key": "", "status": "failed",
            "cached": False, "error": f"{job.path}: the task failed on the cluster: "
                                      f"{type(error).__name__}: {error}",
            "bytes": size, "seconds": 0.0, "observations": [], "findings": []}

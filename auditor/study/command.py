"""`auditor study INPUT --output DIR [--scheduler ADDR]`: the command's options and run.

Dask is imported only when a study runs, so `auditor --help` stays quick.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from auditor.model import InputError, Severity

DESCRIPTION = """\
Audit many captures as one study, one Dask task per capture: on a local cluster (one
worker process per core) or, with --scheduler tcp://HOST:PORT or $DASK_SCHEDULER_ADDRESS,
on an existing dask.distributed cluster whose workers see the same files. INPUT is a folder
of case folders (captures, device.yaml, optional study.yaml / expect.yaml) or a manifest
(.csv or .yaml). Results are stored in DIR/cache by the SHA-256 of their inputs, policies
and tool code, so a re-run audits only what changed. A capture that cannot be audited is
recorded with its error and the study goes on.
"""

EPILOG = """\
writes to DIR:
  reports/*.json                 one report per capture, as `auditor analyze --format json`
  observations.csv, .parquet     one row per observation (no values of the device)
  findings.csv, .parquet         one row per finding and data type
  overview.html, summary.md      captures x data types, top receivers, most-failed rules
  study.json                     every capture's status, error, cache key and report

exit codes:
  0  every capture audited, none with a finding at or above --fail-on
  1  a capture has a finding at or above --fail-on
  2  bad usage or input, or a capture could not be audited (see study.json)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT", help="folder of case folders, or a manifest")
    parser.add_argument("--output", "-o", required=True, metavar="DIR",
                        help="folder for reports, tables, overview and cache")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="an existing Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, "
                             "else a local cluster)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="local cluster size (default: one worker per core)")
    parser.add_argument("--policy", action="append", metavar="FILE|DIR",
                        help="policies for captures whose case or manifest names none "
                             "(default: the bundled rules/)")
    parser.add_argument("--device", metavar="device.yaml",
                        help="device profile for captures whose case or manifest names none")
    parser.add_argument("--fail-on", default="high",
                        choices=[str(s) for s in Severity] + ["none"],
                        help="exit 1 when a capture has a finding at or above this "
                             "(default: high)")
    parser.add_argument("--group-by", metavar="LABEL",
                        help="rows of the overview's matrix: the values of this label (app, "
                             "version, firmware, ...) instead of one row per capture")
    parser.add_argument("--reveal", action="store_true",
                        help="show identifiers unmasked in the reports")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from auditor.study.corpus import load_corpus
    from auditor.study.outputs import write_outputs
    from auditor.study.run import close, connect, run_jobs

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers}: give at least 1")
    corpus = load_corpus(args.input, policies=args.policy, device=args.device)
    if args.group_by and args.group_by not in corpus.label_names:
        raise InputError(f"--group-by {args.group_by}: no such label in {args.input} "
                         f"(labels: {', '.join(corpus.label_names)})")
    output = Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{output}: cannot make the output folder: {e.strerror}") from None
    fail_on = None if args.fail_on == "none" else Severity.parse(args.fail_on)
    started = time.perf_counter()
    client = connect(args.scheduler, workers=args.workers)
    try:
        with _Progress(len(corpus.jobs), _total_bytes(corpus), enabled=not args.quiet) as bar:
            outcomes = run_jobs(client, corpus.jobs, output / "cache", reveal=args.reveal,
                                progress=bar.update)
    finally:
        close(client)
    summary = write_outputs(corpus, outcomes, output, fail_on=fail_on, group_by=args.group_by)
    if not args.quiet:
        t = summary.totals
        print(f"{t['captures']} captures ({_size(t['bytes'])}) in "
              f"{time.perf_counter() - started:.1f} s: {t['analysed']} audited "
              f"({t['from_cache']} from the cache), {t['failed']} failed; "
              f"{t['findings']} findings"
              + (f"; {t['failing']} at or above {args.fail_on}" if fail_on is not None else "")
              + f". Overview: {output / 'overview.html'}", file=sys.stderr)
        for capture in summary.failed:
            print(f"auditor: {capture['error']}", file=sys.stderr)
    if summary.failed:
        return 2
    return 1 if summary.failing else 0


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.0f} kB"


def _total_bytes(corpus) -> int:
    import os

    total = 0
    for job in corpus.jobs:
        try:
            total += os.path.getsize(job.path)
        except OSError:
            pass
    return total


class _Progress:
    """Captures and bytes done, on stderr, only when stderr is a terminal."""

    def __init__(self, captures: int, total_bytes: int, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.captures = captures
        self.total_bytes = total_bytes
        self._bar = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress("study", BarColumn(),
                                 TextColumn("{task.fields[done]}/{task.fields[captures]} "
                                            "captures"),
                                 DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("study", total=self.total_bytes, done=0,
                                            captures=self.captures)
        return self

    def update(self, done: int, done_bytes: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done_bytes, done=done)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

"""The fuzz targets (fuzz/targets.py) in the test suite: their seeds and every input a
fuzzer once found (fuzz/regressions/TARGET/) replay without a finding, and each target
runs coverage-guided under atheris for a few seconds (about a minute in all)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from auditor_paths import ROOT

FUZZ = ROOT / "fuzz"
sys.path.insert(0, str(FUZZ))

from seeds import seeds
from targets import TARGETS, cleanup

SECONDS = 7  # per target; 7 targets, about a minute with start-up


@pytest.fixture(autouse=True)
def _scratch_files():
    yield
    cleanup()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_and_regressions_replay(name: str) -> None:
    inputs = seeds(name)
    assert inputs, f"no seeds for {name}"
    regressions = FUZZ / "regressions" / name
    if regressions.is_dir():
        inputs += [p.read_bytes() for p in sorted(regressions.iterdir())]
    for data in inputs:
        TARGETS[name](data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_coverage_guided_run(name: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris has no wheel for this Python")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n, data in enumerate(seeds(name)):
        (corpus / f"seed-{n}").write_bytes(data)
    run = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), name, f"-max_total_time={SECONDS}",
         "-timeout=20", "-rss_limit_mb=1536", "-max_len=65536",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=SECONDS + 120)
    found = [p.name for p in tmp_path.iterdir() if p.name != "corpus"]
    assert run.returncode == 0 and not found, (found, run.stderr[-3000:])
    # libFuzzer's closing line: the run happened, and with coverage (instrumented code)
    done = re.search(r"DONE +cov: (\d+)", run.stderr)
    assert done and int(done.group(1)) > 0, run.stderr[-2000:]

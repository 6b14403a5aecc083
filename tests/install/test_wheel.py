"""A normal install works: the built wheel, in a fresh virtualenv, from outside the clone.

The wheel is built with `pip wheel --no-deps` from a copy of the sources (so no `build/`
folder of the clone can leak into it), installed with `--no-deps` into a fresh venv that
sees the global site-packages for the dependencies (installing mitmproxy and the rest from
the registry would take minutes), and every command runs from a temporary folder, without
PYTHONPATH. The venv's own `auditor` package must be the one that runs: that is asserted,
so the editable install of the clone cannot stand in for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from auditor_paths import ROOT, SAMPLE

_SKIP = shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".venv",
                               ".ruff_cache", "tests", "bench", "docs", "captures")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(venv bin folder, environment, the built wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=_SKIP)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp / "dist").glob("handset_auditor-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "-q", "--no-deps", "--ignore-installed", str(wheel)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    return venv / "bin", env, wheel


def _run(installed, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir, env, _ = installed
    return subprocess.run([str(bin_dir / "auditor"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_wheel_holds_the_bundled_rules(installed):
    names = set(zipfile.ZipFile(installed[2]).namelist())
    for name in ("baseline.yaml", "xiaomi-2014.yaml", "organisations.yaml", "key-hints.yaml",
                 "examples/eu-only.yaml"):
        assert f"auditor/rules/{name}" in names
        assert (ROOT / "rules" / name).is_file()  # and the clone keeps them where they were
    assert "auditor/report/templates/report.html.j2" in names


def test_the_venv_runs_its_own_copy(installed, tmp_path):
    bin_dir, env, _ = installed
    done = subprocess.run([str(bin_dir / "python"), "-c",
                           "import auditor; print(auditor.__file__); print(auditor.BUNDLED_RULES)"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    module, rules = done.stdout.split()
    venv = bin_dir.parent.resolve()
    assert Path(module).resolve().is_relative_to(venv), module
    assert Path(rules).resolve().is_relative_to(venv), rules


def test_analyze_a_sample_from_outside_the_clone(installed, tmp_path):
    shutil.copy(SAMPLE / "capture.pcap", tmp_path)
    shutil.copy(SAMPLE / "device.yaml", tmp_path)
    done = _run(installed, tmp_path, "analyze", "capture.pcap", "--device", "device.yaml")
    assert done.returncode == 1, done.stderr
    assert "no-identifiers-before-opt-in" in done.stdout
    assert "Xiaomi" in done.stdout  # organisations.yaml was found
    assert "Traceback" not in done.stderr


def test_check_a_copied_case_folder(installed, tmp_path):
    case = tmp_path / "captures" / "redmi-1s-2014"
    shutil.copytree(SAMPLE, case, ignore=shutil.ignore_patterns("record.py", "__pycache__"))
    expect = case / "expect.yaml"
    # the clone's case names ../../rules; outside it the bundled rules are the default
    expect.write_text(expect.read_text().replace("policies: [../../rules]\n", ""))
    done = _run(installed, tmp_path, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout and "1 passed, 0 failed" in done.stdout


def test_rules_list_and_proxy_help(installed, tmp_path):
    listed = _run(installed, tmp_path, "rules", "list")
    assert listed.returncode == 0, listed.stderr
    for rule in ("no-identifiers-before-opt-in", "unreadable-uploads-before-opt-in",
                 "possible-identifiers-before-opt-in"):
        assert rule in listed.stdout
    assert "rules/baseline.yaml" in listed.stdout
    helped = _run(installed, tmp_path, "proxy", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--listen-port" in helped.stdout

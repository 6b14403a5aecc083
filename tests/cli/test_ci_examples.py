"""The CI examples in the README run as written: every `auditor` command they contain is
executed here against the bundled captures, and their outputs are checked."""

import json
import shlex
from pathlib import Path

import pytest
import yaml
from auditor_paths import ROOT
from lxml import etree

from auditor.cli import main

JUNIT_XSD = ROOT / "tests" / "schemas" / "junit-10.xsd"


def auditor_commands(example: Path) -> list[list[str]]:
    """Every `auditor ...` command line of a workflow, pipeline or hook file."""
    commands = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("run", "script", "entry"):
                    for line in value if isinstance(value, list) else [value]:
                        if isinstance(line, str) and line.strip().startswith("auditor "):
                            commands.append(shlex.split(line)[1:])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(example.read_text()))
    return commands


@pytest.mark.parametrize("example", ["examples/ci/github-actions.yml",
                                     "examples/ci/gitlab-ci.yml", ".pre-commit-hooks.yaml"])
def test_example_commands_run(example, tmp_path, monkeypatch):
    commands = auditor_commands(ROOT / example)
    assert commands, f"{example} runs no auditor command"
    for argv in commands:
        monkeypatch.chdir(ROOT)
        argv = [str(tmp_path / a) if a.endswith((".xml", ".sarif")) else a for a in argv]
        assert main(argv) == 0, argv
    for out in tmp_path.iterdir():
        if out.suffix == ".xml":
            assert etree.XMLSchema(etree.parse(str(JUNIT_XSD))).validate(etree.parse(str(out)))
        if out.suffix == ".sarif":
            assert json.loads(out.read_text())["runs"][0]["results"]

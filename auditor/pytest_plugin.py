"""pytest plugin: every `expect.yaml` is a test item, so `pytest captures/` runs the cases.

Registered through the `pytest11` entry point; active whenever handset-auditor is installed.
A failing item shows which expectations failed (expected vs found) and the unexpected
findings with their evidence, exactly as `auditor check` prints them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.check import EXPECT_FILE


def pytest_collect_file(parent: pytest.Collector, file_path: Path):
    if file_path.name == EXPECT_FILE:
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self):
        yield CaseItem.from_parent(self, name=self.path.parent.name)


class CaseFailed(Exception):
    """Raised by a failing case; carries the lines to show."""


class CaseItem(pytest.Item):
    def runtest(self) -> None:
        from auditor.check import load_case, run_case

        outcome = run_case(load_case(self.path))
        if not outcome.passed:
            found = [f"  {f.id} [{f.severity}] {f.rule} to {f.host}: {', '.join(f.data_types)} "
                     f"({f.consent})" for f in (outcome.result.findings if outcome.result else [])]
            raise CaseFailed("\n".join(["case failed:", *("  " + p for p in outcome.problems()),
                                        "findings found:", *(found or ["  (none)"])]))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (CaseFailed,)):
            return str(excinfo.value)
        from auditor.model import InputError

        if isinstance(excinfo.value, InputError):
            return f"bad case input: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"case: {self.name}"

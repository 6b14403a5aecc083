"""Shared paths for the test suite."""

import pytest
from auditor_paths import ROOT, SAMPLE


@pytest.fixture
def sample_case(tmp_path):
    """A copy of the 2014 sample case folder that a test may change."""
    import shutil

    folder = tmp_path / "redmi-1s-2014"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("record.py", "__pycache__"))
    (folder / "expect.yaml").write_text(
        (folder / "expect.yaml").read_text().replace("../../rules", str(ROOT / "rules")))
    return folder

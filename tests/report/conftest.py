"""Fixtures for the report tests: the sample results of `samples`."""

from __future__ import annotations

import pytest
from report_samples import Result, empty_result, sample_result


@pytest.fixture
def result() -> Result:
    return sample_result()


@pytest.fixture
def empty() -> Result:
    return empty_result()

"""The JSON report through orjson is byte for byte what `json.dumps(indent=2)` writes."""

import json

import pytest

from auditor.model import Severity
from auditor.report import fastjson
from auditor.report.fastjson import dumps_indented

VALUES = [  # one odd float per value: each must be caught on its own
    {"schema": "x", "list": [1, 2.5, None, True, False], "empty": [], "map": {}},
    {"text": "héllo \u2028 \x00\x1f\x7f \"q\" \\ \t\n", "中文": "电话"},
    {"small": 1e-05}, {"large": [1e16]}, {"tiny": [-2.5e-7]},
    {"edge": [0.0001, 0.00011, 123456789012345.0, 9999999999999998.0, -0.0, 5e-324]},
    {"confidence": 0.95, "sum": 0.1 + 0.2, "severity": Severity.HIGH},
    {1: "a non-string key"}, {"big": 2**70}, {"lone surrogate": "\ud800"},
    ("a", ("tuple",)), [{"deep": [{"a": []}, {}]}], "a string", 3, None,
    {"string that looks like a number": "\": 1e5", "hex": "3e5"},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_same_bytes_as_the_standard_library(value):
    assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_the_standard_library_writes_what_orjson_would_spell_differently(monkeypatch):
    calls = []
    real = json.dumps
    monkeypatch.setattr(fastjson.json, "dumps", lambda *a, **k: calls.append(a) or real(*a, **k))
    dumps_indented({"confidence": 0.9})
    assert calls == []  # orjson wrote it
    dumps_indented({"tiny": 1e-05})
    assert len(calls) == 1

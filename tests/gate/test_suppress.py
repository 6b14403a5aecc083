"""Baselines and suppression files: matching, required reasons, expiry, file:line errors."""

import datetime as dt
import json

import pytest

from auditor.model import Finding, InputError, Severity
from auditor.suppress import apply_gates, load_baseline, load_suppressions


def finding(rule="no-identifiers-before-opt-in", host="api.account.xiaomi.com", fp="aaaa1111"):
    return Finding(id="F1", rule=rule, severity=Severity.HIGH, title="t", host=host,
                   data_types=("imei",), exchanges=(1,), observations=(), first_seen=0.0,
                   consent="before-opt-in", fingerprint=fp)


def test_baseline_accepts_findings_by_fingerprint(tmp_path):
    report = tmp_path / "old.json"
    report.write_text(json.dumps({"findings": [{"fingerprint": "aaaa1111"}]}))
    gate = apply_gates([finding(), finding(fp="bbbb2222")], baseline=load_baseline(str(report)))
    assert [f.fingerprint for f in gate.active] == ["bbbb2222"]
    assert gate.suppressed[0][1] == "baseline"


@pytest.mark.parametrize("content, message", [
    ("not json", "not a JSON report"),
    ("[1, 2]", "no \"findings\" list"),
])
def test_bad_baseline_is_named(tmp_path, content, message):
    path = tmp_path / "old.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_baseline(str(path))


def test_suppression_by_rule_and_host_glob_with_reason(tmp_path):
    path = tmp_path / ".auditor-ignore.yaml"
    path.write_text("suppressions:\n"
                    "  - rule: no-identifiers-*\n    host: '*.xiaomi.com'\n"
                    "    reason: reviewed in PRIV-1\n")
    gate = apply_gates([finding(), finding(host="tracker.example")],
                       suppressions=load_suppressions(str(path)))
    assert [f.host for f in gate.active] == ["tracker.example"]
    assert "reviewed in PRIV-1" in gate.suppressed[0][1]


def test_expired_suppression_is_reported_and_no_longer_applies(tmp_path):
    path = tmp_path / "ignore.yaml"
    path.write_text("suppressions:\n  - fingerprint: aaaa1111\n    reason: temporary\n"
                    "    expires: 2020-01-31\n")
    gate = apply_gates([finding()], suppressions=load_suppressions(str(path)),
                       today=dt.date(2026, 11, 21))
    assert len(gate.active) == 1
    assert gate.expired[0].expires == dt.date(2020, 1, 31)


@pytest.mark.parametrize("content, message", [
    ("suppressions:\n  - rule: x\n", ":2: a suppression needs a `reason`"),
    ("suppressions:\n  - reason: because\n", ":2: a suppression names a `fingerprint`"),
    ("suppressions:\n  - rule: x\n    reason: y\n    expire: 2020-01-01\n", ":4: unknown key 'expire'"),
    ("suppressions:\n  - rule: x\n    reason: y\n    expires: soon\n", ":2: expires: 'soon'"),
    ("suppressions: [\n", "not valid YAML"),
    ("ignores: []\n", ":1: unknown key 'ignores'"),
])
def test_bad_suppression_file_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "ignore.yaml"
    path.write_text(content)
    with pytest.raises(InputError) as e:
        load_suppressions(str(path))
    assert str(e.value).startswith(str(path))
    assert message in str(e.value)

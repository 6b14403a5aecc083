"""Declared versus observed: a Data safety section or privacy label held to the capture."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.engine import analyze_files, build_audit
from auditor.judge.declared import load_declaration, type_map
from auditor.model import DATA_GROUPS, InputError

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "captures" / "pcapdroid-apps"


def _declared_findings(declared: list[str]) -> set[tuple[str, str, tuple[str, ...]]]:
    audit = build_audit(device=str(CASE / "device.yaml"), policies=[str(CASE / "policy.yaml")],
                        declared=declared)
    result = analyze_files([str(CASE / "capture.pcap")], audit)
    return {(f.rule, f.host, f.data_types) for f in result.findings
            if f.rule.startswith("undeclared-")}


def test_the_sample_declaration_fails_and_the_truthful_one_passes():
    assert _declared_findings([str(CASE / "declared.yaml")]) == {
        ("undeclared-collection", "api.weather.example", ("location",)),
        ("undeclared-sharing", "firebaselogging-pa.googleapis.com", ("advertising_id",)),
        ("undeclared-sharing", "graph.facebook.com", ("advertising_id",)),
    }
    assert _declared_findings([str(CASE / "declared-truthful.yaml")]) == set()
    assert _declared_findings([]) == set()


def test_a_declaration_for_another_app_judges_none_of_these_uploads(tmp_path):
    other = tmp_path / "d.yaml"
    other.write_text("store: google-play\napp: com.other.app\ncollected: []\nshared: []\n")
    assert _declared_findings([str(other)]) == set()


def test_an_apple_label_checks_collection_only(tmp_path):
    label = tmp_path / "apple.yaml"
    label.write_text("store: apple\ntracking: [Device ID]\nlinked: []\nnot_linked: []\n")
    assert _declared_findings([str(label)]) == {
        ("undeclared-collection", "api.weather.example", ("location",))}


def test_every_data_type_of_ours_is_covered_by_each_store():
    ours = set(DATA_GROUPS["personal-data"])
    for store, table in type_map().items():
        assert ours == {t for types in table.values() for t in types}, store


@pytest.mark.parametrize(("text", "message"), [
    ("store: play\ncollected: []\n", ":1: 'store:' must be one of google-play, apple"),
    ("store: google-play\ncollected:\n  - Device IDs\n",
     ":3: unknown google-play data type 'Device IDs' (did you mean 'Device or other IDs'?"),
    ("store: apple\ncollected: [Device ID]\n", ":2: unknown key 'collected' for store apple"),
    ("store: google-play\n", ":1: no data types"),
    ("store: [x\n", ":2: malformed YAML"),
])
def test_a_bad_declaration_is_named_at_its_line(tmp_path, text, message):
    path = tmp_path / "d.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=None) as error:
        load_declaration(str(path))
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_analyze_takes_declared_and_exits_2_on_a_bad_one(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["analyze", str(CASE / "capture.pcap"), "--device", str(CASE / "device.yaml"),
                 "--declared", str(CASE / "declared.yaml"), "--format", "json", "-o", str(out),
                 "--quiet"])
    assert code == 1
    report = json.loads(out.read_text())
    rules = {f["rule"] for f in report["findings"]}
    assert {"undeclared-collection", "undeclared-sharing"} <= rules
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("store: google-play\nshared: [Phone]\n"))
    assert main(["analyze", str(CASE / "capture.pcap"), "--declared", str(bad), "--quiet"]) == 2
    assert f"{bad}:2: unknown google-play data type 'Phone'" in capsys.readouterr().err


def test_check_reads_declared_yaml_beside_the_case():
    assert main(["check", str(CASE)]) == 0

"""What a study reads (folders, CSV and YAML manifests) and writes (tables, overview),
with each capture audited in this process by the same function a Dask worker runs."""

from __future__ import annotations

import csv
import json
import shutil

import pyarrow.parquet as pq
import pytest
from auditor_paths import FIXED, ROOT, SAMPLE

from auditor.cli import main
from auditor.model import InputError, Severity
from auditor.study.corpus import load_corpus
from auditor.study.outputs import write_outputs
from auditor.study.task import audit_job


@pytest.fixture
def corpus_folder(tmp_path):
    """The two bundled cases, with labels in a study.yaml each."""
    for case, version in ((SAMPLE, "JHCCNBH45.0"), (FIXED, "JHCCNBH45.8")):
        copy = tmp_path / "corpus" / case.name
        shutil.copytree(case, copy, ignore=shutil.ignore_patterns("record.py", "expect.yaml"))
        (copy / "study.yaml").write_text(
            f"labels: {{app: cloud-messenger, firmware: {version}, note: '<script>x</script>'}}\n")
    return tmp_path / "corpus"


def test_folder_tree_jobs_carry_their_case_and_labels(corpus_folder):
    corpus = load_corpus(str(corpus_folder))
    assert [j.capture.split("/")[-2] for j in corpus.jobs] == ["redmi-1s-2014", "redmi-1s-fixed"]
    fixed = corpus.jobs[1]
    assert fixed.device.endswith("redmi-1s-fixed/device.yaml")
    assert fixed.keylogs and fixed.keylogs[0].endswith("keys.log")
    assert fixed.label_map["firmware"] == "JHCCNBH45.8"
    assert corpus.label_names == ["app", "version", "firmware", "date", "note"]


def test_csv_manifest(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "capture,device,keylog,app,firmware,operator\n"
        f"{SAMPLE}/capture.pcap,{SAMPLE}/device.yaml,,messenger,45.0,China Unicom\n"
        f"{FIXED}/capture.pcap,{FIXED}/device.yaml,{FIXED}/keys.log;{FIXED}/keys.log,"
        "messenger,45.8,\n")
    jobs = load_corpus(str(manifest)).jobs
    assert jobs[0].label_map == {"app": "messenger", "firmware": "45.0",
                                 "operator": "China Unicom"}
    assert len(jobs[1].keylogs) == 2 and "operator" not in jobs[1].label_map


def test_yaml_manifest_defaults_and_overrides(tmp_path):
    (tmp_path / "caps").mkdir()
    shutil.copy(SAMPLE / "capture.pcap", tmp_path / "caps" / "a.pcap")
    shutil.copy(SAMPLE / "device.yaml", tmp_path / "device.yaml")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        f"policies: [{ROOT}/rules]\ndevice: device.yaml\nlabels: {{firmware: MIUI-5}}\n"
        "captures:\n  - caps/a.pcap\n  - {capture: caps/a.pcap, app: x, labels: {firmware: B}}\n")
    first, second = load_corpus(str(manifest)).jobs
    assert first.capture == "caps/a.pcap" and first.path == str(tmp_path / "caps" / "a.pcap")
    assert first.device == str(tmp_path / "device.yaml")
    assert first.label_map == {"firmware": "MIUI-5"}
    assert second.label_map == {"firmware": "B", "app": "x"}
    manifest.write_text("captures:\n  - caps/a.pcap\n  - {capture: caps/b.pcap}\n")
    with pytest.raises(InputError, match=r"m\.yaml:3: capture caps/b.pcap not found"):
        load_corpus(str(manifest))


def test_bad_study_file_names_its_line(corpus_folder):
    (corpus_folder / "redmi-1s-2014" / "study.yaml").write_text("labels: {}\nplicies: [x]\n")
    with pytest.raises(InputError, match=r"study\.yaml:2: unknown key 'plicies'"):
        load_corpus(str(corpus_folder))


def test_tables_overview_and_gate(corpus_folder, tmp_path):
    corpus = load_corpus(str(corpus_folder))
    out = tmp_path / "out"
    (out / "cache").mkdir(parents=True)
    outcomes = [audit_job(job, str(out / "cache")) for job in corpus.jobs]
    assert [o["status"] for o in outcomes] == ["analysed", "analysed"]
    summary = write_outputs(corpus, outcomes, out, fail_on=Severity.HIGH)
    assert [c["gate"] for c in summary.captures] == [True, False]

    with open(out / "findings.csv", newline="") as f:
        findings = list(csv.DictReader(f))
    for column in ("capture", "app", "version", "firmware", "date", "host", "organisation",
                   "country", "data_type", "encoding", "consent", "rule", "severity"):
        assert column in findings[0]
    assert {r["firmware"] for r in findings} == {"JHCCNBH45.0"}  # the update fixed them all
    assert pq.read_table(out / "findings.parquet").to_pylist() == [
        {**r, "exchanges": int(r["exchanges"])} for r in findings]
    with open(out / "observations.csv", newline="") as f:
        observations = list(csv.DictReader(f))
    after = [r for r in observations if r["firmware"] == "JHCCNBH45.8"]
    assert {(r["data_type"], r["encoding"], r["consent"]) for r in after} == {
        ("imei", "base64", "after-opt-in"), ("phone_number", "sha256", "after-opt-in"),
        ("contacts", "sha256", "after-opt-in")}
    assert "867203024182737" not in (out / "observations.csv").read_text()  # no values

    html = (out / "overview.html").read_text()
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "Xiaomi" in html and "no-content-before-opt-in" in html
    markdown = (out / "summary.md").read_text()
    assert "| Xiaomi | 2 |" in markdown and "1 with a finding at or above high" in markdown
    report = json.loads((out / summary.captures[0]["report"]).read_text())
    assert report["schema"] == "auditor-report/1"


def test_a_stored_result_is_reused_until_an_input_changes(corpus_folder, tmp_path):
    job = load_corpus(str(corpus_folder)).jobs[0]
    cache = tmp_path / "cache"
    cache.mkdir()
    first, second = audit_job(job, str(cache)), audit_job(job, str(cache))
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["key"] == first["key"] and second["findings"] == first["findings"]
    policy = tmp_path / "policy.yaml"
    policy.write_text((ROOT / "rules" / "xiaomi-2014.yaml").read_text())
    changed = audit_job(job.__class__(**{**job.__dict__, "policies": (str(policy),)}),
                        str(cache))
    assert changed["key"] != first["key"] and not changed["cached"]


def test_study_command_on_a_local_cluster(tmp_path, capsys):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"captures:\n  - {{capture: {FIXED}/capture.pcap, "
                        f"device: {FIXED}/device.yaml, keylog: {FIXED}/keys.log}}\n")
    assert main(["study", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "1 captures" in err and "1 audited (0 from the cache), 0 failed" in err


def test_overview_rows_by_label(corpus_folder, tmp_path):
    corpus = load_corpus(str(corpus_folder))
    out = tmp_path / "out"
    (out / "cache").mkdir(parents=True)
    outcomes = [audit_job(job, str(out / "cache")) for job in corpus.jobs]
    summary = write_outputs(corpus, outcomes, out, fail_on=Severity.HIGH, group_by="app")
    (row,) = summary.matrix
    assert (row["title"], row["count"]) == ("cloud-messenger", 2)
    assert row["cells"]["phone_number"] == ["Xiaomi"]
    assert row["findings"]["critical"] == 1 and row["findings"]["high"] == 3


def test_group_by_an_unknown_label_is_exit_2(corpus_folder, tmp_path, capsys):
    assert main(["study", str(corpus_folder), "-o", str(tmp_path / "o"), "--group-by",
                 "colour"]) == 2
    assert "--group-by colour: no such label" in capsys.readouterr().err

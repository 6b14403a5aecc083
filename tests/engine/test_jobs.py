"""`--jobs N`: worker processes decode and search, the report is the one `--jobs 1` writes.

Each capture of the fixtures, the bundled cases and the accuracy cases is analysed twice —
in-process, and through the worker pool with tiny batches so that many batches cross the
process boundary, the main process takes some itself and the results merge out of step
with the reading — and the JSON reports must be the same apart from timing fields.
"""

import json
from pathlib import Path

import pytest
from auditor_paths import ROOT

from auditor import engine, jobs, report
from auditor.check import load_case
from auditor.cli import main
from auditor.engine import analyze_files, build_audit
from auditor.model import Exchange, InputInfo

#: Report keys that say when or how long, not what: they may differ between two runs.
TIMING_KEYS = ("generated_at",)


def _cases() -> list[tuple[str, dict]]:
    """(name, analyze arguments) of every capture the test suite and the samples carry."""
    out = []
    for expect in sorted((ROOT / "captures").glob("*/expect.yaml")):
        case = load_case(expect)
        out.append((f"captures/{case.name}", {
            "paths": case.captures, "keylogs": case.keylogs,
            "audit": {"device": case.device, "policies": case.policies, "opt_in_at": case.opt_in_at}}))
    for folder in sorted((ROOT / "tests/accuracy/cases").iterdir()):
        for device in (str(folder / "device.yaml"), None):  # known mode, pattern mode
            out.append((f"accuracy/{folder.name}/{'known' if device else 'pattern'}", {
                "paths": [str(folder / "capture.pcap")], "audit": {"device": device}}))
    fixtures = ROOT / "tests/fixtures"
    for capture in sorted([*fixtures.glob("pcap/*.pcap*"), *fixtures.glob("tls/*.pcap*"),
                           *fixtures.glob("flows/*.*")]):
        if capture.suffix in (".py",):
            continue
        keys = [str(k) for k in (capture.with_suffix(".keys"),
                                 capture.parent / "tls_keys.log") if k.is_file()]
        out.append((str(capture.relative_to(ROOT)), {
            "paths": [str(capture)], "keylogs": keys,
            "audit": {"device": str(ROOT / "captures/redmi-1s-2014/device.yaml")}}))
    return out


CASES = _cases()


def _report(result) -> dict:
    document = json.loads(report.render(result, "json", reveal=True))
    for key in TIMING_KEYS:
        document.pop(key, None)
    return document


def _analyze(case: dict, processes: int) -> tuple[dict, jobs.Workers | None]:
    audit = build_audit(**case["audit"])
    with jobs.workers_for(audit, processes, case["paths"], min_bytes=0) as workers:
        result = analyze_files(case["paths"], audit, keylogs=case.get("keylogs", ()),
                               workers=workers)
    return _report(result), workers


@pytest.fixture
def tiny_batches(monkeypatch):
    """Batches of two exchanges, one of them in flight per worker: the smallest captures
    are split, and the main process analyses batches while the workers are busy."""
    monkeypatch.setattr(jobs, "BATCH_EXCHANGES", 2)
    monkeypatch.setattr(jobs, "IN_FLIGHT_PER_WORKER", 1)


def test_the_cases_cover_consent_requests_warnings_and_every_kind_of_input():
    kinds = {Path(p).suffix for _, c in CASES for p in c["paths"]}
    assert {".pcap", ".pcapng", ".har", ".mitm"} <= kinds
    assert len(CASES) > 40


@pytest.mark.parametrize("name,case", CASES, ids=[name for name, _ in CASES])
def test_the_report_with_workers_is_the_report_without(name, case, tiny_batches):
    alone, _ = _analyze(case, 1)
    shared, workers = _analyze(case, 3)
    assert workers is not None
    assert workers.sent > 0 or not alone["exchanges"]  # the workers did analyse batches
    assert shared == alone


POLICY = """\
kind: policy
name: both-phases
consent:
  opt_in:
    - {method: POST, host: "*.xiaomi.com", path: "/v1/consent*"}
rules:
  - id: imei-before-opt-in
    title: IMEI before opt-in
    severity: high
    when: {data: [imei], consent: before-opt-in}
  - id: imei-after-opt-in
    title: IMEI after opt-in
    severity: low
    when: {data: [imei], consent: after-opt-in}
"""


def _upload(n: int, path: str = "/v1/event") -> Exchange:
    return Exchange(id=0, time=1_400_000_000.0 + n, client="10.0.0.2:5000",
                    server="10.0.0.1:80", host="api.account.xiaomi.com", transport="http",
                    method="POST", url=f"http://api.account.xiaomi.com{path}",
                    body=b"imei=867203024182737&n=" + str(n).encode(), source=f"t.pcap#pkt {n}")


def test_a_consent_request_applies_from_its_place_in_the_capture(tmp_path, tiny_batches):
    """Uploads before the consent request are judged before opt-in and those after it after,
    though the consent request is analysed in another batch, maybe in another process."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    stream = [_upload(n) for n in range(1, 8)] + [_upload(8, "/v1/consent/cloud-messaging")] \
        + [_upload(n) for n in range(9, 14)]
    results = []
    for parallel in (False, True):
        audit = build_audit(device=str(ROOT / "captures/redmi-1s-2014/device.yaml"),
                            policies=[str(policy)])
        info = audit.add_input(InputInfo(path="t.pcap", kind="pcap"))
        workers = jobs.Workers(audit, 2) if parallel else None
        try:
            for exchange in stream:
                audit.add(exchange) if workers is None else workers.add(exchange, info)
            if workers is not None:
                workers.finish()
                assert workers.sent > 0
        finally:
            if workers is not None:
                workers.close()
        results.append(_report(audit.finish()))
    alone, shared = results
    phases = {f["rule"]: f["exchanges"] for f in alone["findings"]}
    assert phases == {"imei-before-opt-in": list(range(1, 8)),
                      "imei-after-opt-in": list(range(8, 14))}
    assert shared == alone


def test_analysis_notes_land_among_the_reader_warnings_where_jobs_1_puts_them(
        tmp_path, monkeypatch, tiny_batches):
    """A damaged capture (reader warnings) whose uploads at even packet numbers fail to
    decode (analysis notes, made in the workers): the warnings keep the in-process order."""
    damaged = tmp_path / "damaged.pcap"
    data = (ROOT / "captures/redmi-1s-2014/capture.pcap").read_bytes()
    damaged.write_bytes(data[:len(data) * 2 // 3])  # the last packet is cut short
    original = engine.fields_of

    def sometimes_failing(exchange: Exchange, warnings: list[str]):
        if int(exchange.source.rsplit(" ", 1)[1]) % 2 == 0:
            raise ValueError(f"odd upload {exchange.source}")
        return original(exchange, warnings=warnings)

    monkeypatch.setattr(engine, "fields_of", sometimes_failing)  # the forked workers too
    case = {"paths": [str(damaged), str(damaged)], "audit": {}}
    alone, _ = _analyze(case, 1)
    shared, _ = _analyze(case, 2)
    warnings = alone["inputs"][0]["warnings"]
    assert any("analysis failed" in w for w in warnings)
    assert any("analysis failed" not in w for w in warnings)
    assert shared["inputs"] == alone["inputs"]


def test_small_inputs_are_analysed_in_process(tmp_path):
    audit = build_audit()
    small = str(ROOT / "captures/redmi-1s-2014/capture.pcap")
    with jobs.workers_for(audit, 2, [small]) as workers:
        assert workers is None
    with jobs.workers_for(audit, 1, [small], min_bytes=0) as workers:
        assert workers is None


def _capture(path: Path, size_mb: int) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_capture", ROOT / "bench/make_capture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(path, size_mb, dict(module.DEFAULT_PROFILE), 3)
    return path


def test_cli_jobs_2_writes_the_report_of_jobs_1(tmp_path):
    capture = _capture(tmp_path / "big.pcap", jobs.PARALLEL_MIN_BYTES // (1 << 20) + 1)
    device = tmp_path / "device.yaml"
    device.write_text("imei: '867203024182737'\nphone_number: '+8615627394810'\n")
    texts, codes = [], []
    for processes in ("1", "2"):
        out = tmp_path / f"report-{processes}.json"
        codes.append(main(["analyze", str(capture), "--device", str(device), "--format",
                           "json", "--output", str(out), "--jobs", processes, "--quiet"]))
        texts.append(out.read_text())
    assert texts[0] == texts[1] and codes[0] == codes[1]
    assert json.loads(texts[0])["summary"]["exchanges"] > 100


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", ""])
def test_cli_rejects_a_bad_number_of_jobs(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["analyze", str(ROOT / "captures/redmi-1s-2014/capture.pcap"), "--jobs", value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --jobs/-j: {value!r} is not a number of processes" in err
    assert "Traceback" not in err


def test_the_default_is_the_cores_of_the_machine():
    from auditor.cli import build_parser

    args = build_parser(with_proxy_options=False).parse_args(["analyze", "x.pcap"])
    assert args.jobs == jobs.default_jobs() >= 1


def test_check_jobs_2_gives_the_summary_of_jobs_1(tmp_path, monkeypatch):
    """`auditor check --jobs 2` runs the case folders in two processes; the summary, case
    by case in folder order, is the one `--jobs 1` writes."""
    calls = []
    real = jobs.in_processes
    monkeypatch.setattr(jobs, "in_processes",
                        lambda f, items, n: calls.append((len(items), n)) or real(f, items, n))
    summaries = []
    for processes in ("1", "2"):
        out = tmp_path / f"summary-{processes}.json"
        code = main(["check", str(ROOT / "captures"), "--format", "json", "--output",
                     str(out), "--jobs", processes])
        summaries.append((code, out.read_text()))
    assert summaries[0] == summaries[1]
    cases = sorted(p.parent for p in (ROOT / "captures").glob("*/expect.yaml"))
    assert len(cases) >= 2
    assert calls == [(len(cases), 1), (len(cases), 2)]
    assert [c["case"] for c in json.loads(summaries[0][1])["cases"]] == [str(c) for c in cases]


def test_a_worker_that_dies_leaves_its_batches_to_the_main_process(monkeypatch, tiny_batches):
    """A worker killed mid-run (here it exits on the first upload it analyses): the pool is
    broken, the main process analyses what the workers had and the rest; the report is
    unchanged."""
    import os

    case = dict(CASES)["captures/redmi-1s-2014"]
    alone, _ = _analyze(case, 1)
    parent = os.getpid()
    real = engine.analyse

    def dying(detector, exchange, kept):
        if os.getpid() != parent:
            os._exit(1)
        return real(detector, exchange, kept)

    monkeypatch.setattr(engine, "analyse", dying)
    shared, workers = _analyze(case, 2)
    assert workers.sent > 0 and workers.broken
    assert shared == alone


def test_where_fork_is_missing_workers_are_spawned_and_build_their_detector(monkeypatch):
    """macOS and Windows start workers with `spawn`: nothing is inherited, each worker
    builds the detector from the profile; the report is the same."""
    import multiprocessing

    monkeypatch.setattr(jobs, "_context", lambda: multiprocessing.get_context("spawn"))
    case = dict(CASES)["captures/redmi-1s-2014"]
    alone, _ = _analyze(case, 1)
    shared, workers = _analyze(case, 2)
    assert workers.sent > 0 and not workers.broken
    assert shared == alone

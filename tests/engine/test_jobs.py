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
from auditor.engine import AuditResult, analyze_files, build_audit
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


def _run(stream: list[Exchange], parallel: bool,
         **options) -> tuple[AuditResult, jobs.Workers | None]:
    """An audit (`build_audit(**options)`) of exchanges fed in order, in-process or through
    one worker process (which must have analysed some batches)."""
    audit = build_audit(**options)
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
    return audit.finish(), workers


def test_a_consent_request_applies_from_its_place_in_the_capture(tmp_path, tiny_batches):
    """Uploads before the consent request are judged before opt-in and those after it after,
    though the consent request is analysed in another batch, maybe in another process."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    stream = [_upload(n) for n in range(1, 8)] + [_upload(8, "/v1/consent/cloud-messaging")] \
        + [_upload(n) for n in range(9, 14)]
    options = {"device": str(ROOT / "captures/redmi-1s-2014/device.yaml"),
               "policies": [str(policy)]}
    alone, shared = (_report(_run(stream, parallel, **options)[0]) for parallel in (False, True))
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


def _exchange(n: int, host: str, body: bytes) -> Exchange:
    return Exchange(id=0, time=1_400_000_000.0 + n, client="10.0.0.2:5000",
                    server="10.0.0.1:80", host=host, transport="http", method="POST",
                    url=f"http://{host}/v1/sync", body=body, source=f"t.pcap#pkt {n}")


def test_a_national_number_is_read_in_the_country_an_earlier_batch_taught(
        monkeypatch, tiny_batches):
    """The phone's IMS host name (MCC 262, Germany) comes first, in a batch the only worker
    is slow with; the main process meanwhile analyses the next batch, where a German mobile
    number in national form is the user id, without knowing the MCC yet. In capture order
    that exchange is analysed again with what the earlier ones taught: the number is read in
    Germany, as `--jobs 1` reads it."""
    import os
    import time

    parent = os.getpid()
    real = engine.analyse

    def slow_in_worker(detector, exchange, kept):
        if os.getpid() != parent and "3gppnetwork" in exchange.host:
            time.sleep(0.5)  # the main process takes the next batch meanwhile
        return real(detector, exchange, kept)

    monkeypatch.setattr(engine, "analyse", slow_in_worker)
    stream = [_exchange(1, "epdg.epc.mnc001.mcc262.pub.3gppnetwork.org", b"ping=1"),
              _exchange(2, "api.example.com", b"n=2"),
              _exchange(3, "api.example.com", b"n=3"),
              _exchange(4, "api.example.com", b"userid=015112345678"),
              _exchange(5, "api.example.com", b"n=5")]
    alone, _ = _run(stream, False)  # pattern mode, no profile: no region but the capture's
    shared, workers = _run(stream, True)
    found = [(o.exchange, o.data_type, o.value, o.detail) for o in alone.observations]
    assert found == [(4, "phone_number", "015112345678",
                      ("mobile number of DE (+4915112345678) in national form with trunk "
                       "prefix 0, under an account-id key; region from MCC 262 in "
                       "epdg.epc.mnc001.mcc262.pub.3gppnetwork.org"))]
    assert [(o.exchange, o.data_type, o.value, o.detail) for o in shared.observations] == found
    assert _report(shared) == _report(alone)
    assert workers.consulted == workers.reanalysed == 1  # only the user id consulted it


@pytest.mark.parametrize("name,most", [("captures/redmi-1s-2014", 0),
                                       ("accuracy/url-encoded/pattern", 0),
                                       ("accuracy/national-sdk-ids/pattern", 2),
                                       ("accuracy/mcc-user-id/pattern", 2)])
def test_only_the_exchanges_that_consult_the_learned_region_are_analysed_again(
        name, most, tiny_batches):
    """Analysed again in capture order: at most the exchanges whose analysis read what the
    capture taught (national-form numbers under id keys) — none when none did."""
    _, workers = _analyze(dict(CASES)[name], 3)
    assert workers.sent > 0
    assert workers.reanalysed <= workers.consulted <= most
    if most:
        assert workers.consulted > 0


def test_an_analysis_with_a_scratch_state_teaches_the_same_facts_and_leaves_the_order_alone():
    """What `--jobs` relies on: an exchange's facts do not depend on the state it is
    analysed with, the state it began with is returned only when a decision read it, and
    analysing with another state (the main process's out-of-order batches) leaves the
    detector's own (capture order) untouched."""
    from auditor.detect.patterns import RegionState

    audit = build_audit()
    detector = audit.detector
    ims = _exchange(1, "ims.mnc001.mcc460.3gppnetwork.org", b"msisdn=%2B4915112345678")
    user = _exchange(2, "api.example.com", b"userid=015112345678")
    kept = [engine.keep(e, n) for n, e in enumerate((ims, user), 1)]
    scratch = RegionState(mcc=("FR", "MCC 208 of an IMSI"))
    _, _, facts, start = engine.analyse_learning(detector, ims, kept[0], scratch)
    assert facts == (("mcc", "CN", "MCC 460 in ims.mnc001.mcc460.3gppnetwork.org"),
                     ("number", "DE", ""))
    assert start is None  # an international number is read without the state
    assert scratch.mcc == ("CN", "MCC 460 in ims.mnc001.mcc460.3gppnetwork.org")
    assert detector.patterns.state == RegionState()
    _, _, again, _ = engine.analyse_learning(detector, ims, kept[0])
    assert again == facts and detector.patterns.state == scratch
    found, _, facts, start = engine.analyse_learning(detector, user, kept[1], RegionState())
    assert (found, facts, start) == ([], (), RegionState())  # no region known: not read
    german = RegionState(mcc=("DE", "MCC 262 of an IMSI"))
    found, _, _, start = engine.analyse_learning(detector, user, kept[1], german)
    assert start == german and "mobile number of DE (+4915112345678)" in found[0].detail
    found, _, _, start = engine.analyse_learning(detector, user, kept[1])
    assert (found, start) == ([], scratch)  # read in CN (MCC 460): no mobile number there

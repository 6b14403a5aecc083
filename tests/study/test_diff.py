"""`auditor diff` on the bundled before/after pair: what Xiaomi's August 2014 update changed."""

from __future__ import annotations

import json

import pytest
from auditor_paths import FIXED, ROOT, SAMPLE

from auditor.cli import main
from auditor.study.rows import encoding_label


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The JSON reports of the two cases, as `auditor analyze` writes them."""
    folder = tmp_path_factory.mktemp("reports")
    made = {}
    for case in (SAMPLE, FIXED):
        out = folder / f"{case.name}.json"
        keylogs = [a for k in case.glob("keys.log") for a in ("--keylog", str(k))]
        main(["analyze", str(case / "capture.pcap"), "--device", str(case / "device.yaml"),
              *keylogs, "--format", "json", "-o", str(out), "--fail-on", "none", "-q"])
        made[case.name] = out
    return made


def _diff(capsys, *args: str) -> tuple[int, str]:
    code = main(["diff", *args])
    return code, capsys.readouterr().out


def test_the_update_fixed_every_rule_and_hashed_what_still_goes(reports, capsys):
    code, out = _diff(capsys, str(reports["redmi-1s-2014"]), str(reports["redmi-1s-fixed"]),
                      "--format", "json")
    assert code == 0
    diff = json.loads(out)
    assert diff["counts"] == {"fixed": 10, "still": 0, "new": 0}
    flows = {(f["host"], f["data_type"]): f for f in diff["flows"]}
    phone = flows[("api.account.xiaomi.com", "phone_number")]
    assert phone["status"] == "still"
    assert phone["changed"] == ["encoding: plain → sha256", "transport: http → https",
                                "consent: before-opt-in → after-opt-in"]
    assert flows[("api.account.xiaomi.com", "imei")]["changed"][0] == "encoding: plain → base64"
    assert flows[("api.account.xiaomi.com", "imsi")]["status"] == "gone"


def test_captures_or_case_folders_give_the_same_diff_as_their_reports(reports, capsys):
    _, from_reports = _diff(capsys, str(reports["redmi-1s-2014"]),
                            str(reports["redmi-1s-fixed"]), "--format", "markdown")
    _, from_cases = _diff(capsys, str(SAMPLE), str(FIXED), "--format", "markdown")
    code, from_captures = _diff(
        capsys, str(SAMPLE / "capture.pcap"), str(FIXED / "capture.pcap"), "--format", "markdown",
        "--device-a", str(SAMPLE / "device.yaml"), "--device-b", str(FIXED / "device.yaml"),
        "--keylog-b", str(FIXED / "keys.log"))
    assert code == 0

    def strip(text: str) -> str:  # the title names the inputs
        return text.split("\n", 1)[1]

    assert strip(from_reports) == strip(from_cases) == strip(from_captures)
    assert "| still | phone number | api.account.xiaomi.com | encoding: plain → sha256;" \
        in from_cases


def test_a_regression_fails_the_gate(reports, capsys, tmp_path):
    code, out = _diff(capsys, str(reports["redmi-1s-fixed"]), str(reports["redmi-1s-2014"]))
    assert code == 1
    assert "10 new" in out and "9 new at or above high" in out
    assert _diff(capsys, str(reports["redmi-1s-fixed"]), str(reports["redmi-1s-2014"]),
                 "--fail-on", "critical")[0] == 1
    assert _diff(capsys, str(reports["redmi-1s-fixed"]), str(reports["redmi-1s-2014"]),
                 "--fail-on", "none")[0] == 0
    html = tmp_path / "diff.html"
    main(["diff", str(reports["redmi-1s-fixed"]), str(reports["redmi-1s-2014"]),
          "--format", "html", "-o", str(html)])
    text = html.read_text()
    assert "<script" not in text and "no-readable-phone-numbers" in text


def test_bad_input_is_exit_2(tmp_path, capsys):
    assert main(["diff", str(tmp_path / "nope.json"), str(SAMPLE)]) == 2
    assert "nope.json: no such report, capture or case folder" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text('{"schema": "something-else"}')
    assert main(["diff", str(other), str(SAMPLE)]) == 2
    assert "not an auditor report" in capsys.readouterr().err
    other.write_text('{"schema": "auditor-report/1", "findings": 5}')  # damaged, not a traceback
    assert main(["diff", str(other), str(SAMPLE)]) == 2
    assert f"{other}: an auditor report whose findings or observations are damaged" \
        in capsys.readouterr().err
    other.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    assert main(["diff", str(other), str(SAMPLE)]) == 2
    assert f"{other}: JSON nested too deeply" in capsys.readouterr().err


@pytest.mark.parametrize(("encodings", "label"), [
    (["form:imei", "plain"], "plain"),
    (["json:$.device", "base64", "plain"], "base64"),
    (["json:$.own_number_sha256", "phone:e164", "sha256:hex"], "sha256"),
    (["query:id", "percent"], "percent"),
    (["gzip", "json:$.a", "md5:base64"], "gzip + md5"),
])
def test_encoding_labels(encodings, label):
    assert encoding_label(encodings) == label


def test_the_readme_shows_the_real_output(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    command = "auditor diff captures/redmi-1s-2014 captures/redmi-1s-fixed"
    assert main(command.split()[1:]) == 0
    assert f"$ {command}\n{capsys.readouterr().out}```" in (ROOT / "README.md").read_text()

"""The JSON report: exactly the DESIGN.md schema `auditor-report/1` plus documented fields."""

from __future__ import annotations

import json
import re

from report_samples import GAID, IMEI, PHONE

from auditor.report import render

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

TOP = ["schema", "tool", "inputs", "consent", "exchanges", "observations", "findings",
       "summary", "geo_data", "suppressed", "attribution", "rules", "provenance"]
INPUT = ["path", "kind", "packets", "exchanges", "warnings", "size", "sha256", "first_time",
         "last_time"]
EXCHANGE = ["id", "time", "client", "server", "host", "transport", "method", "url", "bytes_up",
            "decrypted", "readable", "status", "bytes_down", "server_ip", "destination", "app",
            "frames", "display_filter"]
DESTINATION = ["country", "scope", "asn", "as_name", "organisation", "party", "trackers",
               "tracker_categories", "tracker_note", "named_by"]
OBSERVATION = ["exchange", "data_type", "where", "key", "encodings", "match", "value",
               "hashed", "confidence", "detail", "context"]
FINDING = ["id", "rule", "severity", "title", "host", "data_types", "exchanges", "first_seen",
           "consent", "fingerprint", "destination", "app"]


def _report(result, **kw) -> dict:
    return json.loads(render(result, "json", **kw))


def test_key_sets_and_order_match_the_schema(result) -> None:
    report = _report(result)
    assert list(report) == TOP
    assert report["schema"] == "auditor-report/1"
    assert list(report["tool"]) == ["name", "version"]
    assert list(report["consent"]) == ["opt_in_at", "source"]
    assert [list(i) for i in report["inputs"]] == [INPUT]
    assert {tuple(e) for e in report["exchanges"]} == {tuple(EXCHANGE)}
    assert {tuple(e["destination"]) for e in report["exchanges"]} == {tuple(DESTINATION)}
    assert {tuple(o) for o in report["observations"]} == {tuple(OBSERVATION)}
    assert {tuple(f) for f in report["findings"]} == {tuple(FINDING)}


def test_values_and_times(result) -> None:
    report = _report(result)
    assert report["consent"] == {"opt_in_at": "2014-08-01T10:00:41.000Z",
                                 "source": result.opt_in_source}
    assert report["exchanges"][1]["time"] == "2014-08-01T10:00:00.400Z"
    assert all(ISO_MS.match(e["time"]) for e in report["exchanges"])
    assert [f["id"] for f in report["findings"]] == ["F2", "F1", "F3"]
    f1 = report["findings"][1]
    assert f1["severity"] == "high" and f1["consent"] == "before-opt-in"
    assert f1["data_types"] == ["imei", "imsi", "phone_number"] and f1["exchanges"] == [2]
    assert f1["fingerprint"] == "fp-identifiers-xiaomi"
    assert f1["destination"]["asn"] == 4808 and f1["destination"]["country"] == "CN"
    assert report["exchanges"][0]["destination"]["scope"] == "private"
    assert report["exchanges"][2]["readable"] is False
    summary = report["summary"]
    assert summary["verdict"] == "fail" and summary["unreadable_uploads"] == 1
    assert summary["findings_by_severity"] == {"critical": 1, "high": 1, "medium": 0,
                                               "low": 1, "info": 0}
    assert summary["hosts"] == 2 and summary["exchanges"] == 6


def test_values_and_urls_masked_unless_reveal(result) -> None:
    text = render(result, "json")
    for secret in (IMEI, PHONE, "15627394810", GAID, "Anna Schmidt"):
        assert secret not in text
    report = json.loads(text)
    assert "imei=86720302*****37" in report["exchanges"][1]["url"]
    assert report["observations"][0]["value"] == "86720302*****37"
    revealed = _report(result, reveal=True)
    assert IMEI in revealed["exchanges"][1]["url"]
    assert revealed["observations"][0]["value"] == IMEI


def test_deterministic(result) -> None:
    assert render(result, "json") == render(result, "json")
    assert render(result, "json").startswith('{\n  "schema": "auditor-report/1",')


def test_empty_result(empty) -> None:
    report = _report(empty)
    assert list(report) == TOP
    assert report["exchanges"] == [] and report["findings"] == []
    assert report["consent"]["opt_in_at"] is None
    assert report["summary"]["verdict"] == "pass"


def test_streamed_text_is_exactly_the_whole_document(result, empty) -> None:
    """iter_json makes the long lists one record at a time; the text must not change."""
    import io

    from auditor.report import write
    from auditor.report.json_report import report_dict

    for each in (result, empty):
        for reveal in (False, True):
            stream = io.StringIO()
            write(each, "json", stream, reveal=reveal)
            whole = json.dumps(report_dict(each, reveal=reveal), indent=2,
                               ensure_ascii=False) + "\n"
            assert stream.getvalue() == whole

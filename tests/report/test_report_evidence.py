"""The reports of the two bundled cases read as a hostile lawyer reads them (issue 12): every
sentence exactly true and every count the same in every format, masked values still told
apart, rule results that mean one thing, frames and context for each value, each upload's
evidence once, and the SHA-256 of every input."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from types import SimpleNamespace

import lxml.html
import pytest
from auditor_paths import FIXED, ROOT, SAMPLE

from auditor.cli import main
from auditor.engine import analyze_files, build_audit
from auditor.model import Observation
from auditor.report import render
from auditor.report.facts import contacts_phrase
from auditor.report.mask import MASKING_NOTE, Masker

FORMATS = ("terminal", "markdown", "html", "json", "sarif", "junit")


@functools.cache
def _result(case: str):
    folder = {"2014": SAMPLE, "fixed": FIXED}[case]
    keylogs = [str(folder / "keys.log")] if case == "fixed" else []
    return analyze_files([str(folder / "capture.pcap")],
                         build_audit(device=str(folder / "device.yaml")), keylogs=keylogs)


@functools.cache
def _report(case: str, fmt: str) -> str:
    return render(_result(case), fmt)


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def _html_text(case: str) -> str:
    return _flat(lxml.html.document_fromstring(_report(case, "html")).text_content())


# --- 1. every sentence exactly true -------------------------------------------------------


def test_one_contact_per_upload_is_not_called_the_address_book() -> None:
    headline = json.loads(_report("2014", "json"))["summary"]["headline"]
    assert headline.startswith("The handset sent the phone numbers of 2 contacts (2 of 2 "
                               "canary contacts, each in a separate upload) in clear text")
    for fmt in FORMATS:
        assert "address book of the handset" not in _flat(_report("2014", fmt)).lower(), fmt


def _contacts(*found: tuple[int, str]) -> str:
    profile = SimpleNamespace(contacts=[SimpleNamespace(name=f"Name {i}", phone=f"+4915100{i}")
                                        for i in range(5)])
    result = SimpleNamespace(profile=profile)
    return contacts_phrase(result, [Observation(exchange, "contacts", "body", "", ("plain",),
                                                "known", value) for exchange, value in found])


def test_contacts_phrase_says_how_much_of_the_address_book_left() -> None:
    assert _contacts((1, "+49151001")) == "a contact's phone number (1 of 5 canary contacts)"
    assert _contacts((1, "Name 2"), (1, "+49151002")) == \
        "a contact's name and phone number (1 of 5 canary contacts)"
    assert _contacts((1, "+49151001"), (2, "+49151003")) == (
        "the phone numbers of 2 contacts (2 of 5 canary contacts, each in a separate upload)")
    assert _contacts(*[(3, f"Name {i}") for i in range(5)]) == \
        "the address book (5 of 5 canary contacts, up to 5 in one upload)"


def test_dns_queries_are_counted_as_dns_queries_in_every_format() -> None:
    summary = json.loads(_report("2014", "json"))["summary"]
    assert (summary["uploads"], summary["dns_queries"], summary["hosts"]) == (5, 2, 2)
    assert summary["exchanges"] == 7  # unchanged meaning: every exchange, DNS included
    for fmt in ("terminal", "markdown", "html"):
        text = _flat(_report("2014", fmt))
        assert "5 uploads and 2 DNS queries to 2 hosts" in text, fmt
        assert "7 uploads" not in text, fmt
    fixed = json.loads(_report("fixed", "json"))["summary"]["headline"]
    assert fixed == "No upload broke the policies: 3 uploads and 1 DNS query to 1 host checked."


def test_unreadable_bytes_agree_in_every_format() -> None:
    # 1688 bytes of TLS; the 40 bytes of the DNS query for the same name are no part of it
    assert json.loads(_report("2014", "json"))["summary"]["unreadable_bytes_up"] == 1688
    for fmt in ("terminal", "markdown", "html"):
        text = _flat(_report("2014", fmt)).replace(",", "")
        assert "1688 bytes up" in text and "1728" not in text, fmt


def test_a_resolver_is_never_a_hosts_server_address() -> None:
    doc = lxml.html.document_fromstring(_report("2014", "html"))
    rows = {row.xpath("td")[0].text_content(): [td.text_content() for td in row.xpath("td")]
            for row in doc.xpath("//table[@class='hosts']/tbody/tr")}
    api = rows["api.account.xiaomi.com"]
    assert api[2] == "42.62.94.174"  # the server address column
    assert _flat(api[6]) == "1 to 192.168.1.1"  # the DNS query, and where it went
    assert api[3].startswith("4 ")  # four HTTP uploads, not five exchanges


# --- 2. masked values stay distinguishable ------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_two_imeis_read_apart_in_every_format(fmt) -> None:
    masker = Masker([("867203024182737", "imei"), ("867203024182810", "imei")])
    first, second = (masker.value(v, "imei") for v in ("867203024182737", "867203024182810"))
    assert first != second
    text = _report("2014", fmt)
    assert "867203024182737" not in text and first in text
    if fmt == "html":  # the device profile lists both
        assert second in text


def test_values_that_would_still_mask_alike_carry_a_tag() -> None:
    values = [("anna.schmidt@example.com", "email"), ("anna.meyer@example.com", "email")]
    masker = Masker(values)
    a, b = (masker.value(v, t) for v, t in values)
    assert a != b and re.fullmatch(r"an\*{5}@example\.com#[0-9a-f]{4}", a)
    assert masker.text("to anna.meyer@example.com") == f"to {b}"  # the same tag in text
    assert Masker(values).value(*values[0]) == a  # the same values give the same tags
    other = Masker([*values, ("+8613800000000", "phone_number")])
    assert other.value(*values[0]) != a  # another report's salt gives other tags
    assert Masker(values, reveal=True).value(*values[0]) == values[0][0]
    assert Masker(values[:1]).value(*values[0]) == "an*****@example.com"  # no twin, no tag


def test_the_appendix_says_how_masking_works() -> None:
    doc = lxml.html.document_fromstring(_report("2014", "html"))
    masking = _flat(doc.xpath("//p[@id='masking']")[0].text_content())
    assert _flat(MASKING_NOTE) in masking and "tag" in masking and "salt" in masking


# --- 3. rule results mean one thing -------------------------------------------------------


def test_possible_rules_are_covered_by_their_known_twin() -> None:
    rules = {r["id"]: r for r in json.loads(_report("2014", "json"))["rules"]}
    covered = rules["possible-identifiers-before-opt-in"]
    assert covered["result"] == "covered"
    assert covered["covered_by"] == "no-identifiers-before-opt-in"
    assert rules["no-identifiers-before-opt-in"]["result"] == "failed"
    doc = lxml.html.document_fromstring(_report("2014", "html"))
    results = {row.xpath("td")[0].text_content(): _flat(row.xpath("td")[3].text_content())
               for row in doc.xpath("//table[@class='rules']/tbody/tr")}
    assert results["possible-identifiers-before-opt-in"].startswith(
        "covered by no-identifiers-before-opt-in")
    assert not any(r.startswith("passed") for r in results.values())


def test_nothing_to_judge_is_not_passed() -> None:
    rules = {r["id"]: r["result"] for r in json.loads(_report("fixed", "json"))["rules"]}
    assert rules["no-identifiers-before-opt-in"] == "nothing to judge"  # all after opt-in
    assert rules["no-cleartext-personal-data"] == "nothing to judge"  # all over TLS
    assert rules["no-readable-phone-numbers"] == "passed"  # a number left, hashed
    assert rules["possible-readable-phone-numbers"] == "covered"


# --- 4. point at the bytes ----------------------------------------------------------------


def test_json_exchanges_carry_frames_and_a_display_filter() -> None:
    exchanges = json.loads(_report("2014", "json"))["exchanges"]
    assert exchanges[1]["frames"] == [6, 8]
    assert exchanges[1]["display_filter"] == (
        "ip.addr == 192.168.1.23 && ip.addr == 42.62.94.174 && tcp.port == 44231 "
        "&& tcp.port == 80")
    sarif = json.loads(_report("2014", "sarif"))["runs"][0]["results"]
    names = [loc["fullyQualifiedName"] for r in sarif for loc in
             r["locations"][0]["logicalLocations"]]
    assert any(n.endswith("captures/redmi-1s-2014/capture.pcap, frames 6–8") for n in names)
    assert not any("#pkt" in n for n in names)


def test_inputs_without_packets_get_no_display_filter() -> None:
    from dataclasses import replace

    from auditor.report.facts import display_filter

    exchange = _result("2014").exchanges[1]
    assert display_filter(exchange)
    assert display_filter(replace(exchange, frames=(), source="flows.mitm#2")) == ""


def test_each_observation_shows_its_value_in_context_masked() -> None:
    observations = json.loads(_report("2014", "json"))["observations"]
    assert observations[0]["context"] == "&imei=86720302*****37&phone=%"
    html = _html_text("2014")
    assert "&imei=86720302*****37&phone=%" in html
    fixed = json.loads(_report("fixed", "json"))["observations"]
    hashed = [o for o in fixed if o["hashed"]]
    # a digest of a phone number is as good as the number: masked in the context too
    assert hashed and all("(digest)" in o["context"] for o in hashed)
    assert not any(re.search(r"[0-9a-f]{16}", o["context"]) for o in hashed)


# --- 5. short, printable, complete --------------------------------------------------------


def test_each_uploads_evidence_appears_once_and_findings_refer_to_it() -> None:
    html = _report("2014", "html")
    doc = lxml.html.document_fromstring(html)
    assert html.count("POST http://api.account.xiaomi.com/pass/v2/sim/activate") == 1
    sections = doc.xpath("//section[@class='exchange']/@id")
    assert sections == ["x2", "x4", "x5", "x6", "x7"]
    f2 = doc.xpath("//article[@id='F2']")[0]
    assert [h for h in f2.xpath(".//a/@href") if h.startswith("#")] == ["#x2", "#x5", "#x6",
                                                                        "#x7"]
    for fmt in ("terminal", "markdown"):
        assert _report("2014", fmt).count("POST http://api.account.xiaomi.com/pass/v2/sim/"
                                          "activate") == 1, fmt


def test_a_passing_report_lists_what_was_sent_and_why_it_broke_no_rule() -> None:
    text = _html_text("fixed")
    assert "PASS" in text and "breaks no rule" in text
    assert "no-identifiers-before-opt-in: sent after the user opted in" in text
    assert "no-readable-phone-numbers: only a hash of it was sent" in text
    assert "no-cleartext-personal-data: sent encrypted" in text
    assert "What else was sent" in text
    assert "POST https://api.account.xiaomi.com/v1/consent/cloud-messaging" in text
    for fmt in ("terminal", "markdown"):
        text = _flat(_report("fixed", fmt))
        assert "no-identifiers-before-opt-in: sent after the user opted in" in text, fmt
        assert "Also sent" in text, fmt
        assert "POST https://api.account.xiaomi.com/v1/consent/cloud-messaging" in text, fmt


def test_check_html_index_looks_like_the_reports(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    main(["check", "captures", "--html", str(tmp_path), "--output", str(tmp_path / "s.txt")])
    index = (tmp_path / "index.html").read_text()
    report = (tmp_path / "redmi-1s-2014.html").read_text()
    style = re.search(r"<style>(.*?)</style>", report, re.DOTALL).group(1)
    assert style.strip() and style in index  # the same style sheet
    doc = lxml.html.document_fromstring(index)
    assert doc.xpath("//meta[@http-equiv='Content-Security-Policy']")
    rows = doc.xpath("//table[@class='cases']/tbody/tr")
    cases = sorted(p.parent.name for p in (ROOT / "captures").glob("*/expect.yaml"))
    assert [r.xpath(".//a/@href")[0] for r in rows] == [f"{c}.html" for c in cases]
    row = rows[cases.index("redmi-1s-2014")]
    assert "5 uploads and 2 DNS queries to 2 hosts" in _flat(row.text_content())


# --- 6. provenance ------------------------------------------------------------------------


def _sha256(path) -> str:
    return hashlib.sha256((ROOT / path).read_bytes()).hexdigest()


def test_every_input_is_recorded_with_its_sha256(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = analyze_files(["captures/redmi-1s-fixed/capture.pcap"],
                           build_audit(device="captures/redmi-1s-fixed/device.yaml"),
                           keylogs=["captures/redmi-1s-fixed/keys.log"])
    provenance = json.loads(render(result, "json"))["provenance"]
    files = [(f["role"], f["path"], f["sha256"]) for f in provenance["files"]]
    assert files == [(role, path, _sha256(path)) for role, path in [
        ("capture", "captures/redmi-1s-fixed/capture.pcap"),
        ("device profile", "captures/redmi-1s-fixed/device.yaml"),
        ("key log", "captures/redmi-1s-fixed/keys.log"),
        ("policy", "rules/baseline.yaml"),
        ("policy", "rules/xiaomi-2014.yaml")]]
    assert provenance["tool"]["name"] == "handset-auditor"
    doc = lxml.html.document_fromstring(render(result, "html"))
    table = doc.xpath("//h2[@id='setup']/following::table[@class='provenance']")[0]
    rows = [[_flat(td.text_content()) for td in row.xpath("td")]
            for row in table.xpath("tbody/tr")]
    assert rows == [[role, path, digest] for role, path, digest in files] + [
        ["tool", "handset-auditor", f"version {provenance['tool']['version']}"]]

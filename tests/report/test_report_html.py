"""The HTML report as a file: sections, masking, timeline, self-containment, escaping."""

from __future__ import annotations

from dataclasses import replace

import lxml.html
from report_hostile import PAYLOADS, hostile_result
from report_samples import IMEI, PHONE, sample_result

from auditor.report import render


def _doc(text: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(text)


def test_sections_in_order_and_findings_most_severe_first(result) -> None:
    html = render(result, "html")
    positions = [html.index(f'id="{s}"') for s in
                 ("verdict", "findings", "evidence", "timeline", "hosts", "setup",
                  "provenance", "method")]
    assert positions == sorted(positions)
    assert html.index('id="F2"') < html.index('id="F1"') < html.index('id="F3"')
    doc = _doc(html)
    text = " ".join(doc.text_content().split())
    assert "3 of 4 rules failed" in text
    assert "The IMEI left the phone 0.4 s after the capture started" in text
    assert "the user opted in at 41.0 s" in text
    assert "+0.4 s after the capture started; 40.6 s before opt-in" in text
    assert "CN, AS4808 China Unicom Beijing Province Network, Xiaomi" in text
    assert "abab" * 16 in text and "48,213 bytes" in text
    assert "1 encrypted upload to 1 host could not be read" in text
    assert "TCP gap of 1460 bytes" in text
    assert "query:phone → percent → plain" in text


def test_timeline_marks_personal_data_and_the_opt_in(result) -> None:
    doc = _doc(render(result, "html"))
    svg = doc.xpath("//figure[@class='timeline']//svg")[0]
    # one mark per data type per upload: imei, phone, imsi, gaid in #2; contact #4; phone #6
    assert len(svg.xpath(".//circle")) == 6
    assert len(svg.xpath(".//rect")) == len(result.exchanges)
    labels = [t.text_content() for t in svg.xpath(".//text")]
    assert "api.account.xiaomi.com" in labels and "data.mistat.xiaomi.com" in labels
    assert "opt-in +41.0 s" in labels
    legend = doc.xpath("//div[@class='legend']")[0].text_content()
    assert "IMEI" in legend and "contact data" in legend


def test_masked_by_default_and_reveal_banner(result) -> None:
    masked = render(result, "html")
    assert IMEI not in masked and "15627394810" not in masked and "Anna Schmidt" not in masked
    assert "personal data unmasked" not in masked
    assert "<mark>86720302*****37</mark>" in masked
    revealed = render(result, "html", reveal=True)
    assert IMEI in revealed and PHONE in revealed
    banner = _doc(revealed).xpath("//div[@class='banner']")[0]
    assert banner.text_content().strip() == "This report contains personal data unmasked"


def test_self_contained_nothing_loads_from_elsewhere(result) -> None:
    html = render(result, "html")
    doc = _doc(html)
    csp = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    assert not doc.xpath("//script | //link | //img | //iframe | //object | //embed")
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in ("src", "href", "srcset", "poster", "data"):
            value = element.get(attribute)
            if value is None:
                continue
            # links a reader may follow are fine; nothing may load
            assert element.tag == "a" and attribute == "href", (element.tag, attribute, value)
    assert "@import" not in html and "url(" not in html


def test_injection_payloads_are_escaped_text() -> None:
    html = render(hostile_result(), "html")
    doc = _doc(html)
    assert not doc.xpath("//script | //img | //*[local-name()='svg']//*[@onload]")
    for element in doc.iter():
        if isinstance(element.tag, str):
            assert not [a for a in element.attrib if a.lower().startswith("on")], element.tag
    text = doc.text_content()
    for payload in PAYLOADS:
        assert payload in text
    assert doc.findtext(".//title").startswith("Privacy audit: Phone <script>")


def test_empty_result(empty) -> None:
    doc = _doc(render(empty, "html"))
    text = " ".join(doc.text_content().split())
    assert "PASS" in text and "No upload broke the policies" in text
    assert "no uploads" in text
    assert not doc.xpath("//figure[@class='timeline']")


def test_references_link_only_their_url(result) -> None:
    findings = [replace(f, references=("https://example.org/p (Liu et al., 2023)", "GDPR Art. 6"))
                for f in result.findings]
    doc = _doc(render(sample_result(findings=findings), "html"))
    assert set(doc.xpath("//article//dd[@class='refs']//a/@href")) == {"https://example.org/p"}
    assert "(Liu et al., 2023)" in doc.text_content() and "GDPR Art. 6" in doc.text_content()


def test_request_and_headers_shown_once_per_upload(result) -> None:
    html = render(result, "html")
    doc = _doc(html)
    f1 = doc.xpath("//article[@id='F1']")[0]
    assert [h for h in f1.xpath(".//a/@href") if h.startswith("#")] == ["#x2"]  # its evidence
    upload = doc.xpath("//section[@id='x2']")
    assert len(upload) == 1 and html.count('id="x2"') == 1
    assert len(upload[0].xpath(".//table[@class='obs']/tbody/tr")) == 4
    assert "MIUI/V5.6.2.0 (RedMi 1S)" in upload[0].text_content()
    assert html.count("MIUI/V5.6.2.0 (RedMi 1S)") == 1


def test_opt_in_before_the_capture_is_drawn_at_its_start_and_labelled_negative(result) -> None:
    doc = _doc(render(sample_result(opt_in_at=result.start_time - 3), "html"))
    labels = [t.text_content() for t in doc.xpath("//figure//svg//text")]
    assert "opt-in -3.0 s" in labels

"""The HTML report in a real browser: no injected script runs, and the page is not blank.

Runs Debian's headless Chromium on file:// URLs with networking features off. A control
page with a deliberate script proves the harness would notice a script that ran.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import lxml.html
import pytest
from report_hostile import PAYLOADS, hostile_result

from auditor.report import render

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is not installed (.ci/run installs it)")


def _chromium(tmp_path: Path, page: Path, *args: str) -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=90,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _dump_dom(tmp_path: Path, page: Path) -> lxml.html.HtmlElement:
    dom = _chromium(tmp_path, page, "--virtual-time-budget=2000", "--dump-dom")
    return lxml.html.document_fromstring(dom)


def test_harness_sees_a_script_that_runs(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text("<html><head><title>clean</title></head><body>"
                    "<script>document.title='PWNED'</script></body></html>")
    assert _dump_dom(tmp_path, page).findtext(".//title") == "PWNED"


def test_no_injected_script_runs_and_payloads_show_as_text(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(hostile_result(), "html"), encoding="utf-8")
    doc = _dump_dom(tmp_path, page)
    title = doc.findtext(".//title")
    assert title != "PWNED" and title.startswith("Privacy audit: Phone <script>")
    assert not doc.xpath("//script | //img")
    for element in doc.iter():
        if isinstance(element.tag, str):
            handlers = [a for a in element.attrib if a.lower().startswith("on")]
            assert not handlers, (element.tag, handlers)
    text = doc.text_content()
    for payload in PAYLOADS:
        assert payload in text


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of raw pixels of an 8-bit, non-interlaced RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def test_screenshot_is_not_blank(tmp_path: Path, result) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(result, "html"), encoding="utf-8")
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1200,2000")
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 2000)
    channels = len(rows[0]) // width
    assert rows[0][:3] == b"\xff\xff\xff"  # the page background, decoded right
    colors, dark = set(), 0
    for row in rows[::4]:
        for x in range(0, len(row), channels * 2):
            pixel = row[x:x + 3]
            colors.add(pixel)
            dark += sum(pixel) < 200
    assert len(colors) > 100  # text, severity colors, the timeline's marks
    assert dark > 2000  # text was drawn


def test_prints_to_a_multi_page_pdf(tmp_path: Path, result) -> None:
    """Chromium's print path (what "Save as PDF" uses) renders the report into pages."""
    page = tmp_path / "report.html"
    page.write_text(render(result, "html"), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    _chromium(tmp_path, page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
    assert pages >= 2, pages

"""The HTML reports of the bundled cases in a real browser: the 2014 sample prints to at most
four A4 pages, and at 1280 px no word is split across lines (host names, file names) and
nothing runs off the page. Runs Debian's headless Chromium on file:// URLs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from auditor_paths import FIXED, SAMPLE

from auditor.engine import analyze_files, build_audit
from auditor.report import render

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is not installed (.ci/run installs it)")

#: Long tokens that may break anywhere: digests, display filters, excerpts, request lines,
#: reference links; the timeline draws its own labels.
_BREAKABLE = ".hash, .filter, .excerpt, .request, .refs, svg, details"

#: Finds every word drawn on more than one line, except after a hyphen or a slash.
_PROBE = """
function splitWords(d) {
  const out = [];
  const walker = d.createTreeWalker(d.body, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walker.nextNode())) {
    if (!n.parentElement || n.parentElement.closest(BREAKABLE)) continue;
    const words = /\\S+/g; let m;
    while ((m = words.exec(n.data))) {
      let top = null;
      for (let i = 0; i < m[0].length; i++) {
        const r = d.createRange(); r.setStart(n, m.index + i); r.setEnd(n, m.index + i + 1);
        const box = r.getBoundingClientRect();
        if (!box.width && !box.height) continue;
        if (top !== null && box.top > top + 2 && !'-/'.includes(m[0][i - 1]))
          out.push(m[0].slice(0, i) + '|' + m[0].slice(i));
        top = box.top;
      }
    }
  }
  if (d.documentElement.scrollWidth > WIDTH) out.push('page width ' + d.documentElement.scrollWidth);
  return out;
}
"""


def _result(folder: Path):
    keylogs = [str(folder / "keys.log")] if (folder / "keys.log").exists() else []
    return analyze_files([str(folder / "capture.pcap")],
                         build_audit(device=str(folder / "device.yaml")), keylogs=keylogs)


def _chromium(tmp_path: Path, *args: str) -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", *args]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF Chromium wrote: its page objects (`/Type /Page`, not `/Pages`)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_the_2014_sample_prints_to_at_most_four_a4_pages(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(_result(SAMPLE), "html"), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    data = pdf.read_bytes()
    assert 1 <= pdf_pages(data) <= 4
    # A4 in points, as the style sheet's @page asks
    assert re.search(rb"/MediaBox \[0 0 59[45](?:\.\d+)? 84[12](?:\.\d+)?\]", data)


@pytest.mark.parametrize(("folder", "width"), [(SAMPLE, 1280), (FIXED, 1280), (SAMPLE, 800)],
                         ids=["2014", "fixed", "2014-narrow"])
def test_no_word_is_split_and_nothing_overflows_at_1280_px(tmp_path: Path, folder,
                                                           width) -> None:
    (tmp_path / "report.html").write_text(render(_result(folder), "html"), encoding="utf-8")
    probe = _PROBE.replace("BREAKABLE", json.dumps(_BREAKABLE)).replace("WIDTH", str(width))
    wrapper = tmp_path / "probe.html"
    wrapper.write_text(
        "<!doctype html><html><head><title>waiting</title></head><body style='margin:0'>"
        f"<iframe id='f' src='report.html' style='width:{width}px;height:2000px;border:0'>"
        f"</iframe><script>{probe}"
        "document.getElementById('f').onload = () => { document.title = 'RESULT ' + "
        "JSON.stringify(splitWords(document.getElementById('f').contentDocument)); };"
        "</script></body></html>")
    dom = _chromium(tmp_path, "--allow-file-access-from-files", "--window-size=1300,2000",
                    "--virtual-time-budget=5000", "--dump-dom", wrapper.as_uri())
    title = re.search(r"<title>(.*?)</title>", dom, re.DOTALL).group(1)
    assert title.startswith("RESULT "), title
    assert json.loads(title.removeprefix("RESULT ").replace("&quot;", '"')) == []

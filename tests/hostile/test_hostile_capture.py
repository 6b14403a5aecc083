"""Issue 16 A, B, C, I on a capture recorded by tcpdump on loopback
(tests/fixtures/hostile/make_hostile.py says how each connection was made)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from auditor_paths import ROOT

from auditor.model import InputInfo
from auditor.sources.pcap import http1
from auditor.sources.pcap.reader import read_pcap

CAPTURE = ROOT / "tests" / "fixtures" / "hostile" / "hostile_http.pcap"
IMEI = "867203024182737"


def _read(path: Path = CAPTURE):
    """Read the capture; a hang (issue 16 A: 100 % CPU forever) fails the test instead."""
    def hung(*_):
        raise TimeoutError("the reader did not finish in 120 s")
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        info = InputInfo(path=str(path), kind="pcap", size=os.path.getsize(path))
        return list(read_pcap(str(path), info, keylogs=[], progress=None)), info
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def hostile():
    return _read()


def _by_path(exchanges, path: str):
    return [e for e in exchanges if e.url.split("?")[0].endswith(path)]


def test_over_long_heads_are_searched_to_the_cap_and_the_reader_goes_on(hostile) -> None:
    exchanges, info = hostile
    # the request after each over-long head, on the same connection, is still read
    assert len(_by_path(exchanges, "/next")) == 4
    (upload,) = _by_path(exchanges, "/upload")  # 400 KB header first
    # Content-Length and X-Imei came after the cap: framing still found, body read
    assert upload.body == f"imei={IMEI}".encode()
    (cookies,) = _by_path(exchanges, "/cookies")  # 100,000 cookies
    cookie = dict(cookies.headers)["Cookie"]
    assert cookie.startswith("c0=1; c1=1") and 200_000 < len(cookie) < 262_144
    (headers,) = _by_path(exchanges, "/headers")  # 100,000 headers
    assert 40_000 < len(headers.headers) < 50_000
    for exchange in (upload, cookies, headers):
        assert any("request head over 256 KiB" in n for n in exchange.notes)
    heads = [w for w in info.warnings if "request head over 256 KiB" in w]
    assert len(heads) == 3 and all("#pkt " in w for w in heads)


def test_an_over_long_request_line_is_searched_to_the_cap_with_a_warning(hostile) -> None:
    exchanges, info = hostile
    (track,) = _by_path(exchanges, "/track")
    assert track.url.split("/track?", 1)[1].startswith(f"imei={IMEI}&pad=bbbb")
    assert any(w.endswith("request line over 256 KiB; its first 256 KiB were searched, the "
                          "rest of the request head was skipped") for w in info.warnings)


def test_bombs_are_kept_as_sent_with_a_warning_and_the_next_upload_is_read(hostile) -> None:
    exchanges, info = hostile
    for coding in ("br", "zstd", "gzip"):
        (bomb,) = _by_path(exchanges, f"/bomb-{coding}")
        assert len(bomb.body) < 300_000  # kept as sent, never expanded
        assert any(w.endswith(f"{coding} body would decode beyond the cap (64 MiB or 1000x "
                              f"its size); body kept as sent") for w in info.warnings)
        (after,) = _by_path(exchanges, f"/after-{coding}")
        assert after.body == f"imei={IMEI}".encode()


def test_a_body_cut_at_the_cap_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http1, "MAX_BODY", 256 << 10)  # the capture's body is 300 KB
    exchanges, info = _read()
    (big,) = _by_path(exchanges, "/big")
    assert len(big.body) == 256 << 10 and IMEI.encode() not in big.body
    assert any(w.endswith("#pkt 194: body over 256 KiB; only the first 256 KiB were kept and "
                          "searched") for w in info.warnings)


_BOMB_RUN = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from auditor.sources.bodycodec import decode_body
body = open(sys.argv[1], "rb").read()
print(decode_body(body, sys.argv[2])[1])
"""


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip", "deflate"])
def test_decoding_a_bomb_stays_within_a_gib_of_address_space(coding: str, tmp_path) -> None:
    """Issue 16 C: a 1.6 KB brotli body of 1 GiB of zeros took 2.1 GB (64 KiB input
    pieces, each expanding without bound). Now every coding is streamed against the cap."""
    import zlib

    import brotli
    import zstandard
    zeros = b"\0" * (1 << 20)
    if coding == "br":
        c = brotli.Compressor(quality=5)
        bomb = b"".join(c.process(zeros) for _ in range(1024)) + c.finish()
    elif coding == "zstd":
        z = zstandard.ZstdCompressor(level=19).compressobj()
        bomb = b"".join(z.compress(zeros) for _ in range(1024)) + z.flush()
    else:
        z = zlib.compressobj(9, zlib.DEFLATED, 31 if coding == "gzip" else 15)
        bomb = b"".join(z.compress(zeros) for _ in range(1024)) + z.flush()
    path = tmp_path / "bomb"
    path.write_bytes(bomb)
    run = subprocess.run([sys.executable, "-c", _BOMB_RUN, str(path), coding], check=False,
                         cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-500:]
    assert "would decode beyond the cap" in run.stdout


@pytest.mark.parametrize("size", [b"-5", b"+5", b"5_0", b" 0x5"])
def test_a_chunk_size_int_would_take_but_http_does_not(size: bytes) -> None:
    """Found by the http1 fuzz target: a chunk size of `-5` (which int(..., 16) reads)
    moved the reader backwards forever. Now it is damaged framing, and the reader goes on
    to the next request."""
    requests = []
    conv = http1.HttpConversation(requests.append, lambda upgrade, message: None)
    def hung(*_):
        raise TimeoutError("the HTTP/1 reader did not finish in 20 s")
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        conv.up.data(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size
                     + b"\r\nimei=\r\n0\r\n\r\nGET /next?imei=" + IMEI.encode()
                     + b" HTTP/1.1\r\nHost: a\r\n\r\n", 1.0, 1)
        conv.close()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert [r.target for r in requests] == ["/a", f"/next?imei={IMEI}"]
    assert "chunked body framing is damaged; body kept up to there" in requests[0].notes

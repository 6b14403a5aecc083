"""Reading flow files and HAR: fixtures recorded by a real mitmdump (make_flows.py)."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from auditor.model import InputError, InputInfo
from auditor.sources import sniff_kind
from auditor.sources.flowfile import har_entry_exchanges, read_flowfile

FLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "flows"
STATS_JSON = b'{"android_id": "3f8a1c0b7d52e946", "events": [1, 2, 3]}'
WS_TEXT = b'{"type": "hello", "aaid": "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5"}'


def _read(path: Path) -> tuple[InputInfo, list]:
    info = InputInfo(path=str(path), kind=sniff_kind(str(path)))
    return info, list(read_flowfile(str(path), info))


@pytest.mark.parametrize("name", ["handset.mitm", "handset.har"])
def test_recorded_uploads_come_back_as_sent(name: str) -> None:
    info, exchanges = _read(FLOWS / name)
    assert info.warnings == []
    assert [(e.method, e.url.split("/", 3)[-1]) for e in exchanges] == [
        ("POST", "v1/activate"), ("POST", "v2/profile"), ("POST", "v3/stats"),
        ("GET", "v1/config?version=4&sim=89860114872047315961"), ("GET", "push"), ("", "push")]
    form, profile, stats, _, upgrade, message = exchanges
    assert form.body == b"imei=867203024182737&imsi=460013728150946&carrier=CMCC"
    assert profile.body == b'{"phone": "+8615627394810", "lang": "zh_CN"}'
    assert stats.body == STATS_JSON  # sent gzip'd; given to the engine decoded
    assert ("Content-Encoding", "gzip") in stats.headers
    assert message.transport == "ws" and message.body == WS_TEXT
    assert all(e.host == "127.0.0.1" and e.transport in ("http", "ws") for e in exchanges)
    assert form.status == 200 and upgrade.status == 101
    assert info.exchanges == 6 and info.packets == 5
    assert info.first_time == form.time <= info.last_time


def test_flow_file_and_har_of_the_same_traffic_agree() -> None:
    _, flows = _read(FLOWS / "handset.mitm")
    _, har = _read(FLOWS / "handset.har")

    def key(e):
        return (e.method, e.url, e.host, e.transport, e.body, e.server_ip)
    assert [key(e) for e in flows] == [key(e) for e in har]


def test_truncated_flow_file_keeps_what_was_read(tmp_path: Path) -> None:
    data = (FLOWS / "handset.mitm").read_bytes()
    damaged = tmp_path / "flows.mitm"
    damaged.write_bytes(data[: len(data) - 100])
    info, exchanges = _read(damaged)
    assert info.warnings == [f"{damaged}: flow 5: truncated; the rest was skipped"]
    assert [e.url.rsplit("/", 1)[-1] for e in exchanges] == [
        "activate", "profile", "stats", "config?version=4&sim=89860114872047315961"]


def test_damaged_middle_of_flow_file_is_a_warning(tmp_path: Path) -> None:
    data = bytearray((FLOWS / "handset.mitm").read_bytes())
    colon = data.index(b":")
    second = colon + 1 + int(data[:colon]) + 1  # tnetstring: length ":" payload type-tag
    data[second:second + 3] = b"xyz"
    damaged = tmp_path / "flows.mitm"
    damaged.write_bytes(bytes(data))
    info, exchanges = _read(damaged)
    assert len(exchanges) == 1
    assert info.warnings[0].startswith(f"{damaged}: flow 2: damaged")


def test_a_file_that_is_no_flow_file_is_an_input_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mitm"
    bogus.write_bytes(b"12:hello world!")
    with pytest.raises(InputError, match=r"notes\.mitm: not a mitmproxy flow file"):
        list(read_flowfile(str(bogus), InputInfo(path=str(bogus), kind="mitm")))


def test_broken_har_json_names_the_line(tmp_path: Path) -> None:
    broken = tmp_path / "session.har"
    text = (FLOWS / "handset.har").read_text()
    broken.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match=r"session\.har:\d+: not valid JSON"):
        _read(broken)


def test_one_odd_har_entry_is_skipped_with_a_warning(tmp_path: Path) -> None:
    document = json.loads((FLOWS / "handset.har").read_text())
    del document["log"]["entries"][1]["request"]["url"]
    odd = tmp_path / "odd.har"
    odd.write_text(json.dumps(document))
    info, exchanges = _read(odd)
    assert info.warnings == [f"{odd}: entry 2: unreadable (KeyError: 'url'); skipped"]
    assert len(exchanges) == 5


def _entry(post_data: dict, headers: list[dict] | None = None) -> dict:
    return {
        "startedDateTime": "2014-08-01T10:00:03.250Z", "time": 12,
        "serverIPAddress": "203.0.113.7",
        "request": {"method": "POST", "url": "https://api.account.xiaomi.com/pass/v2",
                    "httpVersion": "HTTP/2", "headers": headers or [
                        {"name": ":authority", "value": "api.account.xiaomi.com"}],
                    "postData": post_data, "headersSize": -1, "bodySize": 40},
        "response": {"status": 200, "headers": [], "content": {"size": 2}},
    }


@pytest.mark.parametrize("post_data, body", [
    ({"mimeType": "text/plain", "text": "imei=867203024182737"}, b"imei=867203024182737"),
    ({"mimeType": "application/octet-stream", "encoding": "base64",
      "text": base64.b64encode(b"\x0a\x0f867203024182737").decode()},
     b"\x0a\x0f867203024182737"),
    ({"mimeType": "application/x-www-form-urlencoded",
      "params": [{"name": "imei", "value": "867203024182737"}, {"name": "n", "value": "a b"}]},
     b"imei=867203024182737&n=a+b"),
])
def test_har_request_bodies_in_every_storage(post_data: dict, body: bytes) -> None:
    (exchange,) = har_entry_exchanges(_entry(post_data), source="s.har#1")
    assert exchange.body == body
    assert exchange.host == "api.account.xiaomi.com"
    assert exchange.transport == "https" and exchange.decrypted
    assert exchange.server == "203.0.113.7:443"
    assert exchange.time == 1406887203.25
    assert exchange.headers == ()  # HTTP/2 pseudo-headers are not headers


def test_har_base64_body_stored_compressed_is_decoded() -> None:
    post_data = {"encoding": "base64", "text": base64.b64encode(gzip.compress(STATS_JSON)).decode()}
    headers = [{"name": "Content-Encoding", "value": "gzip"}]
    (exchange,) = har_entry_exchanges(_entry(post_data, headers), source="s")
    assert exchange.body == STATS_JSON


def test_har_base64_body_that_lies_about_its_encoding_warns() -> None:
    warnings: list[str] = []
    post_data = {"encoding": "base64", "text": base64.b64encode(STATS_JSON).decode()}
    headers = [{"name": "Content-Encoding", "value": "gzip"}]
    (exchange,) = har_entry_exchanges(_entry(post_data, headers), source="s#2",
                                      warn=warnings.append)
    assert exchange.body == STATS_JSON
    assert warnings and warnings[0].startswith("s#2: body is not valid 'gzip'")


def test_har_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    with_bom = tmp_path / "fiddler.har"
    with_bom.write_bytes(b"\xef\xbb\xbf" + (FLOWS / "handset.har").read_bytes())
    assert len(list(read_flowfile(str(with_bom), InputInfo(str(with_bom), "har")))) == 6

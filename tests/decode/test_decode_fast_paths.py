"""The cheap classification that spares most values the decoders, and the layers the
decoders used to miss: a protobuf of strings read as text, a URL inside a value."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from urllib.parse import quote

import pytest
from decode_helpers import decode, found, http, pb_bytes, pb_varint

from auditor.decode import textforms
from auditor.decode.textforms import FINAL, HEX, OTHER

IMSI = "460013728150946"
ICCID = "89860114872047315961"
GAID = "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5"
ANDROID_ID = "3f8a1c0b7d52e946"
SIM_MESSAGE = pb_bytes(1, IMSI) + pb_bytes(2, ICCID)


# -- a protobuf made only of strings decodes as UTF-8, yet is a message ------------------

@pytest.mark.parametrize(("body", "chain_head"), [
    (gzip.compress(SIM_MESSAGE, mtime=0), ("gzip",)),  # no Content-Encoding header
    (zlib.compress(SIM_MESSAGE), ("zlib",)),
    (SIM_MESSAGE, ()),
])
def test_protobuf_of_strings_is_read_as_protobuf(body: bytes, chain_head: tuple[str, ...]
                                                 ) -> None:
    fields, _ = decode(http(body=body, content_type="application/octet-stream"))
    assert found(fields, IMSI) == {("body", "pb:1", chain_head + ("pb:1",))}
    assert found(fields, ICCID) == {("body", "pb:2", chain_head + ("pb:2",))}


def test_protobuf_of_strings_inside_base64_in_a_query() -> None:
    encoded = quote(base64.b64encode(SIM_MESSAGE).decode())
    fields, _ = decode(http(f"http://h.example/r?d={encoded}"))
    assert ("query", "pb:1", ("query:d", "base64", "pb:1")) in found(fields, IMSI)


@pytest.mark.parametrize("body", [
    b"line one\nline two\r\n\ttabbed",  # tabs and line breaks are text
    b"\x1b[31mred\x1b[0m text from a terminal",  # control bytes that are no message
    json.dumps({"imsi": IMSI}).encode(),
])
def test_text_with_or_without_control_bytes_stays_text(body: bytes) -> None:
    fields, _ = decode(http(body=body, content_type="application/octet-stream"))
    assert not [f for f in fields if any(t.startswith("pb:") for t in f.chain)]


# -- a URL inside a value ----------------------------------------------------------------

INNER = f"https://push.example/v1/cb?gaid={GAID}&andid={ANDROID_ID}"


@pytest.mark.parametrize(("url", "chain_head"), [
    (f"http://t.example/r?c=42&next={quote(INNER, safe='')}", ("query:next",)),
    # escaped twice: the second escaping is undone as its own layer
    (f"http://t.example/r?next={quote(quote(INNER, safe=''), safe='')}",
     ("query:next", "percent")),
])
def test_url_in_a_query_value_is_split(url: str, chain_head: tuple[str, ...]) -> None:
    fields, _ = decode(http(url))
    assert found(fields, GAID) == {("query", "gaid", chain_head + ("url", "query:gaid"))}
    assert found(fields, ANDROID_ID) == {("query", "andid",
                                          chain_head + ("url", "query:andid"))}
    assert ("query", "path[1]", chain_head + ("url",)) in found(fields, "cb")


def test_url_in_json_and_custom_scheme() -> None:
    body = json.dumps({"referrer": INNER, "deeplink": f"miui://open/sim?imsi={IMSI}"})
    fields, _ = decode(http(body=body.encode(), content_type="application/json"))
    assert ("body", "gaid", ("json:$.referrer", "url", "query:gaid")) in found(fields, GAID)
    assert found(fields, IMSI) == {("body", "imsi", ("json:$.deeplink", "url", "query:imsi"))}


def test_request_url_still_gives_path_and_query_places() -> None:
    fields, _ = decode(http(f"http://h.example/v1/{IMSI}?andid={ANDROID_ID}"))
    assert found(fields, IMSI) == {("path", "path[1]", ())}
    assert found(fields, ANDROID_ID) == {("query", "andid", ("query:andid",))}


# -- the classification ------------------------------------------------------------------

FINAL_VALUES = ["wifi", "zh_CN", "com.miui.cloud", "5.2.1", "-20", "1.5e+10", "867203024182737",
                "+86 156-2739 4810", "+8615627394810", GAID, "android_id",
                "Dalvik/1.6.0 (Linux; U; Android 4.4.2; 2014011)",
                "Hallo Anna, wir treffen uns morgen um 19 Uhr.", "张三", "d41d8cd98f00b204e"]
ENCODED_VALUES = {
    "hex of text": (b"a=1&imei=867203024182737".hex(), HEX),
    "hex of digits": (b"867203024182737".hex(), HEX),
    "base64": (base64.b64encode(f"imsi={IMSI}".encode()).decode(), OTHER),
    "base64 of digits": ("ODY3MjAzMDI0MTgyNzM3", OTHER),
    "percent": ("imei%3D867203024182737", OTHER),
    "query": ("imei=867203024182737&a=1", OTHER),
    "url": (INNER, OTHER),
    "jwt": ("eyJhbGciOiJub25lIn0.eyJpbWVpIjoiODY3MjAzMDI0MTgyNzM3In0.", OTHER),
    "json": ('{"imei": "867203024182737"}', OTHER),
    "upper-case hex": (b"someone@example.com".hex().upper(), OTHER),
}


@pytest.mark.parametrize("value", FINAL_VALUES)
def test_final_values_really_decode_into_nothing(value: str) -> None:
    assert textforms.shape(value.encode()) == FINAL
    # through the whole walk too: nothing beneath the query value itself
    fields, _ = decode(http(f"http://h.example/p?x={quote(value)}"))
    assert [f.chain for f in fields if f.where == "query"] == [("query:x",)]


@pytest.mark.parametrize("name", ENCODED_VALUES)
def test_encoded_values_are_not_taken_for_final(name: str) -> None:
    value, shape = ENCODED_VALUES[name]
    assert textforms.shape(value.encode()) == shape
    fields, _ = decode(http(f"http://h.example/p?x={quote(value, safe='')}"))
    assert [f for f in fields if f.where == "query" and len(f.chain) > 1], name


@pytest.mark.parametrize(("value", "shape"), [
    (b"1234567", FINAL), (b"12345678", HEX), (b"123456789", FINAL),  # hex: even, 8 or more
    (b"abcdef12", HEX), (b"abcdef1", FINAL), (b"abcdefg1", FINAL),
    (b"ABCDEF12", OTHER),  # could be base64
    (b"\xb5\xb5 and prose.", OTHER),  # not UTF-8: binary, for the protobuf guesses
    (b"a" * 5000 + b".", OTHER),  # too long to classify: the decoders decide
])
def test_shape_edges(value: bytes, shape: int) -> None:
    assert textforms.shape(value) == shape


def test_repeated_protobuf_numbers_keep_their_readings() -> None:
    body = pb_bytes(1, pb_varint(1, 1406887203) + pb_bytes(2, "open")) * 3
    fields, _ = decode(http(body=body, content_type="application/x-protobuf"))
    assert [f.chain for f in fields if f.value == b"1406887203"] == \
        [("pb:1.1", "varint")] * 3

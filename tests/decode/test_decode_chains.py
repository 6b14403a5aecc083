"""Values hidden under several layers come out with the chain a reader can follow by hand."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from urllib.parse import quote

import brotli
import pytest
import zstandard
from decode_helpers import decode, found, http, limits

IMEI = "867203024182737"


def b64(data: bytes | str, urlsafe: bool = False, pad: bool = True) -> str:
    raw = data.encode() if isinstance(data, str) else data
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if pad else text.rstrip("=")


def token(encoded: str) -> str:
    """What the decoder calls a base64 string: URL-safe only when it shows - or _."""
    return "base64url" if "-" in encoded or "_" in encoded else "base64"


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


INNER_JSON = json.dumps({"imei": IMEI}).encode()
WITH_PLUS = b64(json.dumps({"imei": IMEI, "v": "~~~"}).encode())
assert "+" in WITH_PLUS


@pytest.mark.parametrize(("url", "chain"), [
    (f"http://h.example/?info={quote(b64(f'aid=7&imei={IMEI}'))}",
     ("query:info", "base64", "query:imei")),
    (f"http://h.example/?info={b64(b'imei=' + IMEI.encode() + b'&x=??>>', True, False)}",
     ("query:info", "base64url", "query:imei")),
    # '+' of base64 left unescaped in a query reads as a space; it is put back
    (f"http://h.example/?d={WITH_PLUS}", ("query:d", "base64", "json:$.imei")),
    (f"http://h.example/?d={INNER_JSON.hex()}", ("query:d", "hex", "json:$.imei")),
    (f"http://h.example/?d={quote(b64(gzip.compress(INNER_JSON)))}",
     ("query:d", "base64", "gzip", "json:$.imei")),
    (f"http://h.example/?d={quote(b64(zlib.compress(INNER_JSON)))}",
     ("query:d", "base64", "zlib", "json:$.imei")),
    (f"http://h.example/?d={quote(b64(raw_deflate(INNER_JSON)))}",
     ("query:d", "base64", "deflate", "json:$.imei")),
    (f"http://h.example/?d={quote(b64(brotli.compress(INNER_JSON)))}",
     ("query:d", "base64", "brotli", "json:$.imei")),
    (f"http://h.example/?d={b64(zstandard.ZstdCompressor().compress(INNER_JSON), True)}",
     ("query:d", token(b64(zstandard.ZstdCompressor().compress(INNER_JSON), True)), "zstd",
      "json:$.imei")),
    (f"http://h.example/?d={quote(quote(b64(f'imei={IMEI}')))}",
     ("query:d", "percent", "base64", "query:imei")),
])
def test_url_chains(url: str, chain: tuple[str, ...]) -> None:
    fields, _ = decode(http(url))
    assert ("query", "imei" if chain[-1] == "query:imei" else "$.imei", chain) in \
        found(fields, IMEI)


def test_json_string_base64_gzip_json() -> None:
    body = json.dumps({"data": b64(gzip.compress(INNER_JSON))}).encode()
    fields, _ = decode(http(body=body, content_type="application/json"))
    assert found(fields, IMEI) == {("body", "$.imei",
                                    ("json:$.data", "base64", "gzip", "json:$.imei"))}


@pytest.mark.parametrize(("body", "chain"), [
    (zlib.compress(INNER_JSON), ("zlib", "json:$.imei")),  # no Content-Encoding header
    (gzip.compress(INNER_JSON), ("gzip", "json:$.imei")),
    (gzip.compress(b"a=1") + gzip.compress(f"&imei={IMEI}".encode()), ("gzip", "form:imei")),
    (raw_deflate(INNER_JSON), ("deflate", "json:$.imei")),
    (brotli.compress(INNER_JSON), ("brotli", "json:$.imei")),
    (zstandard.ZstdCompressor().compress(INNER_JSON), ("zstd", "json:$.imei")),
    (b64(INNER_JSON).encode(), ("base64", "json:$.imei")),
])
def test_body_chains(body: bytes, chain: tuple[str, ...]) -> None:
    fields, _ = decode(http(body=body, content_type="application/octet-stream"))
    assert ("body", chain[-1].partition(":")[2], chain) in found(fields, IMEI)


def nested(depth: int) -> str:
    """`imei=...` base64-wrapped inside `depth` query layers: v=b64(v=b64(...imei=...))."""
    value = f"imei={IMEI}"
    for _ in range(depth):
        value = f"v={b64(value, urlsafe=True, pad=False)}"
    return value


def test_depth_limit_holds() -> None:
    # query:v (1) base64url (2) query:v (3) base64url (4) query:imei (5): 4 layers beyond
    shallow, _ = decode(http(f"http://h.example/?{nested(2)}"))
    assert [f.chain for f in shallow if f.value == IMEI.encode()] == [
        ("query:v", token(nested(2)[2:]), "query:v", token(nested(1)[2:]), "query:imei")]
    deep, _ = decode(http(f"http://h.example/?{nested(3)}"))
    assert found(deep, IMEI) == set()
    deeper_allowed, _ = decode(http(f"http://h.example/?{nested(3)}"), max_depth=6,
                               limits=limits(max_depth=6))
    assert found(deeper_allowed, IMEI)
    shallow_capped, _ = decode(http(f"http://h.example/?{nested(2)}"), max_depth=2)
    assert found(shallow_capped, IMEI) == set()


@pytest.mark.parametrize("value", [
    "d41d8cd98f00b204e9800998ecf8427e",  # an MD5 in hex: searched as it is, not decoded
    "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5",  # a UUID
    "Q2hlY2tzdW0gZmFpbGVk",  # base64 of text: decoded
    "aGVsbG8gd29ybGQ",
    "20140801100003123",  # a timestamp
    "Mozilla/5.0 (Linux; Android 4.4.2)",
])
def test_random_looking_values_decode_only_into_meaningful_bytes(value: str) -> None:
    fields, _ = decode(http(f"http://h.example/?x={quote(value)}"))
    decoded = [f for f in fields if f.where == "query" and len(f.chain) > 1]
    for field in decoded:
        assert field.value.decode("utf-8").isprintable(), field
    if value in ("Q2hlY2tzdW0gZmFpbGVk", "aGVsbG8gd29ybGQ"):
        assert decoded
    else:
        assert not decoded

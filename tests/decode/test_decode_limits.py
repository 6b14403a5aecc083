"""Caps hold at every layer, bombs stay small, and no input bytes make decoding raise."""

from __future__ import annotations

import base64
import gzip
import json
import random
import struct
import zlib

import brotli
import pytest
import zstandard
from decode_helpers import decode, found, http, limits, pb_bytes, pb_varint

from auditor.decode import fields_of
from auditor.model import Exchange

MIB = 1 << 20


def gzip_bomb(expanded: int) -> bytes:
    """A gzip stream of `expanded` zero bytes, built in milliseconds: one self-contained,
    byte-aligned deflate block of 1 MiB of zeros (Z_FULL_FLUSH) repeated. Its CRC trailer is
    left zero: a capped reader never gets that far."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b"\0" * MIB) + compressor.flush(zlib.Z_FULL_FLUSH)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + block * (expanded // MIB) + b"\x03\x00" + struct.pack("<II", 0, 0)


def test_the_bomb_is_what_it_claims() -> None:
    bomb = gzip_bomb(8 * MIB)
    assert len(zlib.decompressobj(-15).decompress(bomb[10:-8])) == 8 * MIB


def test_one_gigabyte_gzip_bomb_is_cut_at_the_cap() -> None:
    bomb = gzip_bomb(1024 * MIB)
    assert len(bomb) < 2 * MIB
    fields, warnings = decode(http(body=bomb), limits=limits(max_decompressed=4 * MIB))
    inflated = [f for f in fields if f.chain == ("gzip",)]
    assert [len(f.value) for f in inflated] == [4 * MIB]
    assert any("gzip data expands beyond 4 MiB" in w for w in warnings)


def test_default_caps_hold_for_a_one_gigabyte_bomb() -> None:
    fields, warnings = decode(http(body=gzip_bomb(1024 * MIB)))
    assert max(len(f.value) for f in fields) == 64 * MIB
    assert warnings


def test_ratio_cap() -> None:
    body = gzip.compress(b"a" * (3 * MIB))  # ~3 KiB expanding 1000x
    fields, warnings = decode(http(body=body), limits=limits(max_ratio=100, ratio_floor=0))
    (inflated,) = [f for f in fields if f.chain == ("gzip",)]
    assert len(inflated.value) == 100 * len(body)
    assert any("100x" in w for w in warnings)


@pytest.mark.parametrize("kind", ["brotli", "zstd", "zlib"])
def test_other_bombs_are_capped(kind: str) -> None:
    zeros = b"\0" * (64 * MIB)
    body = {"brotli": lambda: brotli.compress(zeros, quality=1),
            "zstd": lambda: zstandard.ZstdCompressor(level=1).compress(zeros),
            "zlib": lambda: zlib.compress(zeros, 1)}[kind]()
    headers = (("Content-Encoding", "br"),) if kind == "brotli" else ()
    fields, warnings = decode(http(body=body, headers=headers),
                              limits=limits(max_decompressed=2 * MIB))
    sizes = [len(f.value) for f in fields if kind in f.chain]
    assert sizes and max(sizes) <= 2 * MIB + 64 * MIB // 4
    assert warnings


def test_decompression_budget_is_shared_by_all_layers() -> None:
    inner = base64.b64encode(gzip.compress(b"x" * (3 * MIB)))
    body = json.dumps({"a": inner.decode(), "b": inner.decode()}).encode()
    fields, warnings = decode(http(body=body), limits=limits(max_decompressed=4 * MIB))
    inflated = sum(len(f.value) for f in fields if f.chain[-1:] == ("gzip",))
    assert inflated <= 4 * MIB
    assert any("budget" in w or "expands beyond" in w for w in warnings)


def test_body_size_cap() -> None:
    body = b"imei=1&" + b"x" * 5000
    fields, warnings = decode(http(body=body), limits=limits(max_body=1000))
    assert max(len(f.value) for f in fields if f.where == "body") == 1000
    assert any("over the 1000 B cap" in w for w in warnings)


def test_field_cap() -> None:
    body = json.dumps([str(i) for i in range(5000)]).encode()
    fields, warnings = decode(http(body=body), limits=limits(max_fields=100))
    assert len(fields) == 100
    assert any("stopped after 100" in w for w in warnings)


def test_xml_entities_are_never_expanded() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>')
    fields, _ = decode(http(body=body, content_type="application/xml"))
    assert not [f for f in fields if f.chain and f.chain[0].startswith("xml:")]


@pytest.mark.parametrize("body", [
    b"{", b"[[[[[[[[[[" * 10000, b'{"a": "\\ud800"}', b"<a><b></a>", b"--x\r\n\r\n",
    b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b--",
    b"BEGIN:VCARD\n", b"\x1f\x8b\x08\x00garbage", b"\x78\x9c\x00\x01", b"\x28\xb5\x2f\xfd\x00",
    b"\x00\x00\x00\x00\x10\x08", b"\x01\x00\x00\x00\x02\x1f\x8b", b"%zz%41%", b"eyJ.eyJ.x",
    pb_bytes(1, pb_bytes(1, pb_bytes(1, b"\x08" * 40))) * 3, pb_varint(1, 1 << 63),
    b"\x09" + b"\xff" * 8, b"\x0d\x00\x00\xc0\x7f", "é".encode("latin-1") * 10,
])
def test_malformed_bodies_never_raise(body: bytes) -> None:
    for content_type in ("", "application/json", "application/xml", "multipart/form-data",
                         "application/grpc", "application/x-protobuf", "text/plain; charset=x"):
        fields, _ = decode(http(body=body, content_type=content_type))
        assert found(fields, body) == {("body", "", ())}


def test_fuzz_random_and_truncated_inputs() -> None:
    rng = random.Random(2014)
    seeds = [
        json.dumps({"d": base64.b64encode(gzip.compress(b'{"imei": "867203024182737"}'))
                    .decode()}).encode(),
        pb_bytes(3, pb_bytes(1, "Anna") + pb_varint(2, 8615627394810)) * 4,
        b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n"
        + zlib.compress(b"imei=867203024182737") + b"\r\n--XyZ--\r\n",
        brotli.compress(b"<r><a id='1'>867203024182737</a></r>"),
        b"\x00\x00\x00\x00\x0b" + pb_bytes(1, "867203024182737")[:11],
    ]
    cases = []
    for seed in seeds:
        cases += [seed[:cut] for cut in range(0, len(seed), max(1, len(seed) // 25))]
        for _ in range(40):
            mutated = bytearray(seed)
            for _ in range(rng.randrange(1, 6)):
                mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
            cases.append(bytes(mutated))
    cases += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300)))
              for _ in range(300)]
    for body in cases:
        url = "http://h.example/" + body[:40].decode("latin-1") + "?q=" + body[:60].hex()
        exchange = Exchange(id=1, time=0.0, client="", server="", host=body[:20].hex(),
                            transport="http", method="POST", url=url,
                            headers=(("Cookie", body[:30].decode("latin-1")),
                                     ("Content-Type", "multipart/form-data; boundary=XyZ")),
                            body=body)
        decode(exchange)
        decode(Exchange(id=1, time=0.0, client="", server="",
                        host=body[:60].decode("latin-1"), transport="dns"))


def test_fields_of_is_lazy_and_takes_no_warnings_list() -> None:
    fields = fields_of(http(body=b"a=1"))
    assert next(fields).where == "url"


@pytest.mark.parametrize("body", [b"a" * (8 * MIB), b"A" * (8 * MIB), b"1" * (8 * MIB),
                                  b"a=" + b"b" * (8 * MIB), b"%" * (8 * MIB)],
                         ids=["lower", "upper", "digits", "query", "percent"])
def test_large_uniform_values_take_one_pass(body: bytes) -> None:
    # a regex that backtracks on such values would run for hours: this must simply finish
    fields, _ = decode(http(body=body))
    assert found(fields, body) == {("body", "", ())}

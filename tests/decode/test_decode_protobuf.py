"""Protobuf without a schema and gRPC framing (messages written by a hand-made encoder)."""

from __future__ import annotations

import base64
import gzip
import os
import random

import pytest
from decode_helpers import (
    decode,
    found,
    grpc_frame,
    http,
    pb_bytes,
    pb_double,
    pb_fixed64,
    pb_float,
    pb_varint,
)

from auditor.decode.protobuf import parse_message

IMEI = 867203024182737
PHONE = 8615627394810

DEVICE = (pb_varint(1, IMEI) + pb_bytes(2, "RedMi 1S") +
          pb_bytes(3, pb_bytes(1, "Anna Schmidt") + pb_varint(2, PHONE) +
                   pb_bytes(3, pb_bytes(7, "+4915123456789"))) +
          pb_double(4, 39.98312) + pb_double(5, 116.30745) +
          pb_varint(6, 2 * IMEI) +  # sint64: zigzag
          pb_varint(7, -5) +  # int64 negative: ten-byte two's complement
          pb_bytes(8, b"".join(pb_varint(0, n)[1:] for n in (460, 1, 3728150946))) +  # packed
          pb_fixed64(9, IMEI) + pb_float(10, 39.98312) + pb_float(11, 116.30745))


@pytest.mark.parametrize(("key", "chain", "value"), [
    ("pb:1", ("pb:1", "varint"), str(IMEI)),
    ("pb:2", ("pb:2",), "RedMi 1S"),
    ("pb:3.1", ("pb:3.1",), "Anna Schmidt"),
    ("pb:3.2", ("pb:3.2", "varint"), str(PHONE)),
    ("pb:3.3.7", ("pb:3.3.7",), "+4915123456789"),
    ("pb:4", ("pb:4", "double"), "39.98312"),
    ("pb:4,5", ("pb:4,5", "latlon"), "39.98312,116.30745"),
    ("pb:6", ("pb:6", "zigzag"), str(IMEI)),
    ("pb:7", ("pb:7", "varint"), "-5"),
    ("pb:8[2]", ("pb:8", "packed"), "3728150946"),
    ("pb:9", ("pb:9", "fixed64"), str(IMEI)),
    ("pb:10", ("pb:10", "float"), "39.98312"),
    ("pb:10,11", ("pb:10,11", "latlon"), "39.98312,116.30745"),
])
def test_protobuf_body(key: str, chain: tuple[str, ...], value: str) -> None:
    fields, _ = decode(http(body=DEVICE, content_type="application/x-protobuf"))
    assert ("body", key, chain) in found(fields, value)
    sniffed, _ = decode(http(body=DEVICE, content_type="application/octet-stream"))
    assert ("body", key, chain) in found(sniffed, value)


def test_nested_message_bytes_are_not_yielded_twice() -> None:
    fields, _ = decode(http(body=DEVICE, content_type="application/x-protobuf"))
    assert not [f for f in fields if f.key == "pb:3"], "its leaves stand for it"


@pytest.mark.parametrize(("body", "content_type", "chain"), [
    (grpc_frame(DEVICE), "application/grpc", ("grpc", "pb:3.2", "varint")),
    (grpc_frame(DEVICE), "", ("grpc", "pb:3.2", "varint")),  # framing sniffed
    (grpc_frame(b"\x08\x01") + grpc_frame(gzip.compress(DEVICE), compressed=True),
     "application/grpc+proto", ("grpc", "gzip", "pb:3.2", "varint")),
    (base64.b64encode(grpc_frame(DEVICE)), "application/grpc-web-text",
     ("base64", "grpc", "pb:3.2", "varint")),
])
def test_grpc(body: bytes, content_type: str, chain: tuple[str, ...]) -> None:
    fields, _ = decode(http(body=body, content_type=content_type))
    assert ("body", "pb:3.2", chain) in found(fields, str(PHONE))


def test_protobuf_inside_base64_inside_json() -> None:
    body = b'{"blob": "' + base64.b64encode(DEVICE) + b'"}'
    fields, _ = decode(http(body=body, content_type="application/json"))
    assert ("body", "pb:1", ("json:$.blob", "base64", "pb:1", "varint")) in \
        found(fields, str(IMEI))


def test_json_inside_a_protobuf_string() -> None:
    body = pb_bytes(5, b'{"msisdn": "+8615627394810"}')
    fields, _ = decode(http(body=body, content_type="application/x-protobuf"))
    assert ("body", "$.msisdn", ("pb:5", "json:$.msisdn")) in found(fields, "+8615627394810")


def test_random_bytes_rarely_pass_as_a_guessed_message() -> None:
    rng = random.Random(7)
    blobs = [bytes(rng.getrandbits(8) for _ in range(rng.randrange(8, 64)))
             for _ in range(2000)]
    accepted = sum(parse_message(blob, guessed=True) is not None for blob in blobs)
    assert accepted / len(blobs) < 0.02


def test_truncated_messages_are_not_messages() -> None:
    assert parse_message(DEVICE) is not None
    for cut in range(1, len(DEVICE)):
        fields = parse_message(DEVICE[:cut])
        assert fields is None or sum(len(v) if isinstance(v, bytes) else 1
                                     for _, _, v in fields) <= cut


def test_declared_protobuf_that_is_not_one_still_yields_the_body() -> None:
    body = os.urandom(3) + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    fields, _ = decode(http(body=body, content_type="application/x-protobuf"))
    assert found(fields, body) == {("body", "", ())}

"""Builders shared by the decode tests: exchanges and a tiny protobuf encoder."""

from __future__ import annotations

import struct

from auditor.decode import Limits, fields_of
from auditor.model import Exchange, Field


def http(url: str = "http://api.example/", *, headers: tuple[tuple[str, str], ...] = (),
         body: bytes = b"", content_type: str = "", transport: str = "http") -> Exchange:
    if content_type:
        headers = (("Content-Type", content_type), *headers)
    return Exchange(id=1, time=0.0, client="", server="", host="api.example",
                    transport=transport, method="POST" if body else "GET", url=url,
                    headers=headers, body=body)


def decode(exchange: Exchange, **kwargs: object) -> tuple[list[Field], list[str]]:
    """All fields and warnings; a decoder that failed on its own (the safety net's warning)
    fails the test."""
    warnings: list[str] = []
    fields = list(fields_of(exchange, warnings=warnings, **kwargs))  # type: ignore[arg-type]
    assert not [w for w in warnings if "decoding stopped early" in w], warnings
    return fields, warnings


def found(fields: list[Field], value: bytes | str) -> set[tuple[str, str, tuple[str, ...]]]:
    """(where, key, chain) of every field whose value is exactly `value`."""
    wanted = value.encode() if isinstance(value, str) else value
    return {(f.where, f.key, f.chain) for f in fields if f.value == wanted}


def containing(fields: list[Field], value: bytes | str) -> list[Field]:
    wanted = value.encode() if isinstance(value, str) else value
    return [f for f in fields if wanted in f.value]


def limits(**caps: int) -> Limits:
    return Limits(**caps)  # type: ignore[arg-type]


# --- protobuf wire format, written by hand (the protobuf package is not a dependency) ------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value & (1 << 64) - 1)


def pb_bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def pb_double(number: int, value: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", value)


def pb_float(number: int, value: float) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<f", value)


def pb_fixed64(number: int, value: int) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<Q", value)


def grpc_frame(message: bytes, compressed: bool = False) -> bytes:
    return bytes([compressed]) + len(message).to_bytes(4, "big") + message

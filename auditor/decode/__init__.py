"""Decoding: an exchange turned into every value it carries, at every layer.

`fields_of(exchange)` yields one `Field` per value: the whole URL, each path segment, query
parameter, header, cookie, DNS label and the whole body, and then whatever each of those
decodes into, recursively, to `max_depth` layers beyond the first. A field's `where` is the
outermost place (query, body, ...), its `key` the innermost key, and its `chain` every layer
unwrapped to reach it, outermost first, in these tokens:

    query:<name>      a URL query parameter (or a query string found inside a value)
    form:<name>       a field of an application/x-www-form-urlencoded body
    header:<name>     a request header (name lower-cased)
    cookie:<name>     a cookie of the Cookie header
    multipart:<name>  a part of a multipart body (files are decoded like bodies)
    json:<path>       a JSON string or number: `$.contacts[0].phone`, `$["a b"]`
    xml:<path>        XML text `/root/item[2]` or attribute `/root/item[@id]`
    vcard:<card.prop> a vCard property: `vcard[0].tel`
    pb:<path>         a protobuf field: `pb:3.1` is field 1 of the message in field 3
    pb:<a>,<b>        two neighbouring doubles/floats of one message read as "lat,lon"
    <name>#key        (suffix of query:, form:, json:) the key name itself, yielded when it
                      could be data (it has a digit, '@', '+', ... — a phone number as key)
    percent           %XX escapes undone (a second time: the first is part of query:/form:)
    base64 base64url  standard or URL-safe base64, padded or not
    base32            base32 (DNS labels only, where tunnels use it)
    hex               hex text to bytes
    gzip zlib deflate brotli zstd
                      decompressed (gzip, zlib, zstd by magic bytes; raw deflate and brotli
                      on a guess, kept only when the stream inflates completely to text)
    jwt               a JWT's header or payload (key `jwt:header` / `jwt:payload`)
    url               a URL inside a value (a redirect target, a referrer), split into its
                      path segments (key `path[N]`) and query parameters (`query:<name>`)
    grpc              one gRPC length-prefixed message (key `grpc[N]`)
    text              a body re-encoded to UTF-8 from the charset its Content-Type names
    varint zigzag fixed64 fixed32 double float packed latlon
                      how a protobuf number was read (the last token of a number's chain)

The URL is also yielded percent-decoded once (chain `percent`); path segments (key
`path[N]`, from 0) and DNS/SNI labels (key `label[N]`, and `labels` for the labels before the
registered domain joined) start with an empty chain, their `where` says what they are.
Bytes that decode as UTF-8 but hold control characters (a protobuf of strings, gzipped or
not) are read as protobuf before they are read as text.

Caps (`Limits`) hold at every layer: body size, decompressed bytes per exchange, the
expansion ratio of each decompression, fields per exchange and depth. Hitting one adds a
warning and decoding goes on with what fits. No input bytes make `fields_of` raise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from auditor.decode.exchange import exchange_fields
from auditor.decode.limits import Budget, Limits
from auditor.decode.walker import Walker
from auditor.model import Exchange, Field

__all__ = ["Limits", "fields_of"]


def fields_of(
    exchange: Exchange,
    *,
    max_depth: int = 4,
    warnings: list[str] | None = None,
    limits: Limits | None = None,
) -> Iterator[Field]:
    """Every field of `exchange` at every decoding layer (see the package docstring).

    `max_depth` and `limits.max_depth` are both caps: the smaller holds. Notes about caps
    that were hit go to `warnings`.
    """
    limits = limits or Limits()
    if max_depth < limits.max_depth:
        limits = dataclasses.replace(limits, max_depth=max_depth)
    budget = Budget(limits, warnings if warnings is not None else [])
    return exchange_fields(exchange, Walker(budget))

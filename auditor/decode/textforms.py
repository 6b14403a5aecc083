"""Cheap tests and decoders for the ways a value is written as text: percent-encoding,
query strings, base64, base32, hex, JWTs. Each test is one regex or byte check, so a value
that is none of them costs next to nothing."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes, urlsplit

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PERCENT = re.compile(rb"%[0-9A-Fa-f]{2}")
# key=value pairs joined by & (or ;), with at least one '=' that is not base64 padding
_QUERY = re.compile(rb"[\w.\-\[\]%~*+:|!$']+=[^&\s]*(?:&[^&=\s]*(?:=[^&\s]*)?)*")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]{8,}={0,2}")
_BASE64URL = re.compile(rb"[A-Za-z0-9_\-]{8,}={0,2}")
_HEX = re.compile(rb"(?:[0-9A-Fa-f]{2}){4,}")  # 4: _MIN_HEX characters
_BASE32 = re.compile(rb"[A-Za-z2-7]{8,}=*")
_JWT = re.compile(rb"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_UUID = re.compile(rb"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")
_DIGITS = re.compile(rb"[0-9]+")
# base64 of 8+ bytes of real data shows an upper-case letter and a lower-case letter or
# digit (all but ~1% of 8-character strings, fewer the longer); words, numbers and phone
# numbers (+8615...) do not, and are not worth a decoding attempt
_UPPER = re.compile(rb"[A-Z]")
_LOWER_OR_DIGIT = re.compile(rb"[a-z0-9]")
# values no decoder applies to, by their shape: short words, plain numbers (1.5, -20,
# 1406887203123.5) and phone numbers as people write them (+86 156-2739, (0151) 2345)
_FINAL = re.compile(rb"-?[0-9]*\.[0-9]+(?:[eE][-+]?[0-9]+)?|-[0-9]+|[A-Za-z0-9_ .:/-]{0,7}"
                    rb"|\+?[0-9]*[+ ()\-.][0-9 ()\-.]*")
# ... and by the characters they are made of, each byte mapped to its class in one pass
_OPENER = ord("x")  # opens a structure or an escape: % = + & { [ < quotes, controls...
_NO_ALPHABET = ord("b")  # in no encoding's alphabet: .,;:()@! and non-ASCII
_UPPER_CASE = ord("u")  # base64 of real data shows one
_NOT_HEX = ord("g")  # a letter past f, '_' or '-'
_SPACE_OR_SLASH = ord("s")
_BYTE_CLASSES = bytes(
    ord("h") if c in "0123456789abcdef" else _NOT_HEX if c in "ghijklmnopqrstuvwxyz_-"
    else _UPPER_CASE if "A" <= c <= "Z" else _SPACE_OR_SLASH if c in " /"
    else _NO_ALPHABET if c in ".,;:()@!" or c >= "\x80" else _OPENER
    for c in map(chr, range(256)))
_MIN_HEX = 8
_CLASSIFIED_MAX = 4096  # longer values go to the decoders without a look at their bytes
_URL = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\x00-\x1f\x7f]*")
_TEXT_SAMPLE = 4096


def looks_like_text(data: bytes) -> bool:
    """True when `data` reads as UTF-8 text without control characters (judged on its first
    4 KiB, so a large blob costs no more than a small one)."""
    sample = data[:_TEXT_SAMPLE]
    if _CONTROL_BYTE.search(sample):  # what random bytes show first: no decoding needed
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # a multi-byte character cut by the sample's end is still text
        if len(data) <= _TEXT_SAMPLE or error.start < len(sample) - 3:
            return False
        text = sample[:error.start].decode("utf-8")
    return bool(text) and not _CONTROL.search(text)


def has_control(text: str) -> bool:
    """True when the first 4 KiB of `text` hold a control character (tab and line breaks
    aside): bytes that decode as UTF-8 but are not text, such as a protobuf of strings."""
    return _CONTROL.search(text, 0, _TEXT_SAMPLE) is not None


#: What `shape` says of a value: nothing can be unwrapped from it; it is lower-case hex
#: (or digits) that only a hex reading can unwrap; anything else.
FINAL, HEX, OTHER = 0, 1, 2


def shape(value: bytes) -> int:
    """FINAL for values nothing can be unwrapped from (words, numbers, prose, lower-case
    tokens that are not hex), HEX for an even number (8 or more) of digits and lower-case
    hex digits, which no decoder but hex applies to, else OTHER. Most values of an upload
    are FINAL or HEX; this keeps them cheap (one pass over the bytes, in C)."""
    if value.isdigit():  # ASCII digits: hex at most (base64 needs an upper-case letter)
        return HEX if len(value) >= _MIN_HEX and not len(value) % 2 else FINAL
    if len(value) > _CLASSIFIED_MAX:
        return OTHER
    classes = value.translate(_BYTE_CLASSES)
    if _OPENER in classes:  # a phone number's '+' aside, an escape or a structure may follow
        return FINAL if _FINAL.fullmatch(value) is not None else OTHER
    if _NO_ALPHABET in classes:  # not hex, base64 or base32; told apart from a URL or a JWT
        if b"://" in value or value.startswith(b"eyJ"):
            return OTHER
        # bytes that are not UTF-8 are binary, for the protobuf and deflate guesses
        return FINAL if value.isascii() or _is_utf8(value) else OTHER
    if len(value) < _MIN_HEX:
        return FINAL  # shorter than any hex, base64 or base32 the decoders take
    if _UPPER_CASE in classes:
        return OTHER  # base64 may apply
    if _NOT_HEX in classes or _SPACE_OR_SLASH in classes or len(value) % 2:
        return FINAL
    return HEX


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def is_url(value: bytes) -> bool:
    """True for an absolute URL (`https://host/path?query`, `myapp://open?x=1`)."""
    return _URL.fullmatch(value) is not None


def is_query_string(value: bytes) -> bool:
    return b"=" in value and _QUERY.fullmatch(value) is not None


def split_url(url: str) -> tuple[list[bytes], str]:
    """The non-empty path segments (percent-decoded) and the raw query string of a URL."""
    try:
        parts = urlsplit(url)
        path, query = parts.path, parts.query
    except ValueError:  # e.g. a bad [IPv6] authority: the path and query are still there
        path, _, query = url.partition("#")[0].partition("?")
    return [unquote_to_bytes(s) for s in path.split("/") if s], query


def parse_pairs(text: bytes, *, plus_is_space: bool = True) -> list[tuple[str, bytes]]:
    """`a=1&b=2` (form or query) as [(name, value bytes)], both percent-decoded once."""
    pairs = []
    for part in text.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        if plus_is_space:
            name, value = name.replace(b"+", b" "), value.replace(b"+", b" ")
        pairs.append((unquote_to_bytes(name).decode("utf-8", "replace"),
                      unquote_to_bytes(value)))
    return pairs


def percent_decoded(value: bytes) -> bytes | None:
    """`value` with %XX escapes undone, or None when it has none."""
    if b"%" not in value or not _PERCENT.search(value):
        return None
    return unquote_to_bytes(value)


def base64_decoded(value: bytes, *, from_form: bool = False) -> tuple[str, bytes] | None:
    """(token, bytes) for a standard or URL-safe base64 string, padded or not; None when
    the value cannot be base64 (wrong alphabet, length, a UUID or a plain number).
    `from_form`: the value came out of a query or form, where an unescaped '+' of base64
    has been read as a space."""
    if from_form and b" " in value:
        value = value.replace(b" ", b"+")
    if len(value) % 4 == 1 or not _UPPER.search(value) \
            or not _LOWER_OR_DIGIT.search(value) or _UUID.fullmatch(value):
        return None
    if _BASE64.fullmatch(value):
        token, alphabet = "base64", value
    elif _BASE64URL.fullmatch(value):
        token, alphabet = "base64url", value.replace(b"-", b"+").replace(b"_", b"/")
    else:
        return None
    alphabet = alphabet.rstrip(b"=")
    try:
        return token, binascii.a2b_base64(alphabet + b"=" * (-len(alphabet) % 4),
                                          strict_mode=True)
    except binascii.Error:
        return None


def hex_decoded(value: bytes) -> bytes | None:
    """Bytes of an even-length hex string of at least 8 characters, else None."""
    if not _HEX.fullmatch(value):
        return None
    return bytes.fromhex(value.decode("ascii"))


def base32_decoded(value: bytes) -> bytes | None:
    """Bytes of a base32 string (either case, padding optional), as DNS tunnels write it."""
    if not _BASE32.fullmatch(value) or _DIGITS.fullmatch(value):
        return None
    bare = value.rstrip(b"=").upper()
    if len(bare) % 8 in (1, 3, 6):
        return None
    try:
        return base64.b32decode(bare + b"=" * (-len(bare) % 8))
    except binascii.Error:
        return None


def jwt_parts(value: bytes) -> list[bytes] | None:
    """The decoded header and payload of a JWT (`xxx.yyy.zzz`, base64url), or None."""
    if not _JWT.fullmatch(value):
        return None
    try:
        return [base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
                for part in value.split(b".")[:2]]
    except binascii.Error:
        return None

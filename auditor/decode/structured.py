"""Parsers for structured bodies: JSON, XML, multipart/form-data and vCard.

Each turns bytes into (key, value) leaves and nothing more; the walker decides what to do
with every leaf. A parser that does not recognise its input returns None.
"""

from __future__ import annotations

import functools
import json
import quopri
import re
from dataclasses import dataclass
from xml.etree import ElementTree
from xml.parsers.expat import ExpatError

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A key name is worth searching itself when it could be an identifier, not a word:
# it has a digit, '@', '+', ':' ... or is long.
_WORDLIKE_NAME = re.compile(r"[A-Za-z_\-. ]{0,40}")
_MAX_NESTING = 200
_CACHED_NAME = 64  # longer key names are not cached: the cache must stay small


def name_is_searchable(name: str) -> bool:
    """True for key names that may themselves carry data (a phone number used as a key)."""
    if len(name) > _CACHED_NAME:
        return _WORDLIKE_NAME.fullmatch(name) is None
    return _name_is_searchable(name)


# the same few key names come back in every upload of an app: their answers are cached
@functools.lru_cache(maxsize=4096)
def _name_is_searchable(name: str) -> bool:
    return _WORDLIKE_NAME.fullmatch(name) is None


# --- JSON -------------------------------------------------------------------------------

_NOT_JSON = object()


def parse_json(text: str) -> object:
    """The parsed document (numbers kept as their exact text), or `_NOT_JSON`."""
    try:
        return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError):
        return _NOT_JSON


def is_json(document: object) -> bool:
    return document is not _NOT_JSON


def json_path(parent: str, name: str | int) -> str:
    """`$.a.b[0]`, with `['...']` for names that are not plain identifiers."""
    if isinstance(name, int):
        return f"{parent}[{name}]"
    return parent + _json_step(name)


def _json_step(name: str) -> str:
    """`.name` or `["name"]`: the part of a JSON path that names a member."""
    if len(name) > _CACHED_NAME:
        return _uncached_json_step(name)
    return _cached_json_step(name)


def _uncached_json_step(name: str) -> str:
    if _PLAIN_NAME.fullmatch(name):
        return f".{name}"
    return f"[{json.dumps(name, ensure_ascii=False)}]"


_cached_json_step = functools.lru_cache(maxsize=4096)(_uncached_json_step)


def json_leaves(document: object) -> list[tuple[str, str, bool]]:
    """(JSON path, text, is a key name) for every string or number, in document order.
    Key names are included when `name_is_searchable`; true/false/null are left out."""
    leaves: list[tuple[str, str, bool]] = []
    _walk_json(document, "$", 0, leaves)
    return leaves


def _walk_json(document: object, path: str, nesting: int,
               leaves: list[tuple[str, str, bool]]) -> None:
    if isinstance(document, str):
        leaves.append((path, document, False))
    elif nesting >= _MAX_NESTING:
        return
    elif isinstance(document, dict):
        for name, value in document.items():
            child = path + _json_step(name)
            if name_is_searchable(name):
                leaves.append((child, name, True))
            _walk_json(value, child, nesting + 1, leaves)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            _walk_json(value, f"{path}[{index}]", nesting + 1, leaves)


# --- XML --------------------------------------------------------------------------------


def xml_leaves(data: bytes) -> list[tuple[str, str]] | None:
    """(path, text) for every element text and attribute: `/root/item[2]` for the text of
    the second `item`, `/root/item[@id]` for an attribute. None if `data` is not XML (or
    declares entities, which are never expanded)."""
    if b"<!ENTITY" in data:  # entity expansion is how XML bombs work: never parse one
        return None
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, ExpatError, ValueError, RecursionError):
        return None
    leaves: list[tuple[str, str]] = []
    _walk_xml(root, "/" + _local_name(root.tag), leaves, 0)
    return leaves


def _local_name(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def _walk_xml(element: ElementTree.Element, path: str, leaves: list[tuple[str, str]],
              nesting: int) -> None:
    for name, value in element.attrib.items():
        leaves.append((f"{path}[@{_local_name(name)}]", value))
    if element.text and element.text.strip():
        leaves.append((path, element.text.strip()))
    if nesting >= _MAX_NESTING:
        return
    seen: dict[str, int] = {}
    for child in element:
        name = _local_name(child.tag)
        seen[name] = seen.get(name, 0) + 1
        child_path = f"{path}/{name}" + (f"[{seen[name]}]" if seen[name] > 1 else "")
        _walk_xml(child, child_path, leaves, nesting + 1)
        if child.tail and child.tail.strip():
            leaves.append((path, child.tail.strip()))


# --- multipart ---------------------------------------------------------------------------

_BOUNDARY_PARAM = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^\s;,]+))', re.IGNORECASE)
_FIRST_LINE_BOUNDARY = re.compile(rb"--([!-~]{1,70})\r?\n")
_DISPOSITION_PARAM = re.compile(r'\b(name|filename)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))',
                                re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multipart body."""

    name: str  # the form field name ("" when the part has none)
    filename: str  # the uploaded file's name ("" for plain fields)
    content_type: str  # lower-cased, with its parameters
    transfer_encoding: str  # lower-cased Content-Transfer-Encoding ("" when absent)
    data: bytes


def multipart_boundary(content_type: str, body: bytes) -> bytes | None:
    """The boundary named by the Content-Type, or else the one the body starts with."""
    match = _BOUNDARY_PARAM.search(content_type)
    if match:
        return (match.group(1) or match.group(2)).encode("latin-1", "replace")
    match = _FIRST_LINE_BOUNDARY.match(body)
    if match and body.find(b"--" + match.group(1), match.end()) > 0:
        return match.group(1)
    return None


def multipart_parts(body: bytes, boundary: bytes) -> list[Part] | None:
    """The parts of a multipart body (CRLF or bare LF lines), or None if there are none."""
    delimiter = b"--" + boundary
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        return None
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            head, separator, data = chunk.partition(b"\n\n")
        if not separator:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        parts.append(_part(head.decode("utf-8", "replace"), data))
    return parts or None


def _part(head: str, data: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in head.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _DISPOSITION_PARAM.finditer(headers.get("content-disposition", ""))}
    return Part(name=params.get("name", ""), filename=params.get("filename", ""),
                content_type=headers.get("content-type", "").lower(),
                transfer_encoding=headers.get("content-transfer-encoding", "").lower(),
                data=data)


# --- vCard -------------------------------------------------------------------------------


def vcard_leaves(text: str) -> list[tuple[str, str]] | None:
    """(`vcard[N].property`, value) for each property of each card (N from 0). Folded lines
    are unfolded and quoted-printable values (vCard 2.1, as old Android exports write
    names) decoded. None if the text holds no card."""
    lines = re.sub(r"\r?\n[ \t]", "", text).splitlines()
    leaves: list[tuple[str, str]] = []
    card = -1
    for line in lines:
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            card += 1
            continue
        if card < 0 or upper.startswith(("END:VCARD", "VERSION:")):
            continue
        head, colon, value = line.partition(":")
        if not colon or not value.strip():
            continue
        name, *params = head.split(";")
        if any(p.upper() in ("ENCODING=QUOTED-PRINTABLE", "QUOTED-PRINTABLE") for p in params):
            value = quopri.decodestring(value.encode("latin-1", "replace")).decode(
                "utf-8", "replace")
        leaves.append((f"vcard[{card}].{name.rpartition('.')[2].lower()}", value.strip()))
    return leaves if card >= 0 else None

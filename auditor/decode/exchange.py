"""The places of an exchange a value can be in — URL, path, query, headers, cookies, DNS
name, SNI, body — each handed to the walker with its `where` and first chain token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import unquote_to_bytes

from auditor.decode.compression import sniff_compression
from auditor.decode.limits import size_text
from auditor.decode.textforms import base32_decoded, looks_like_text
from auditor.decode.walker import Walker
from auditor.model import Exchange, Field

_BODY_WHERE = {"ws": "websocket", "wss": "websocket", "tcp": "tcp", "udp": "udp"}
# encodings without magic bytes: sniffing alone would try them only on a guess
_CONTENT_ENCODINGS = {"br": "brotli", "deflate": "deflate"}
_AUTH_HEADERS = ("authorization", "proxy-authorization")
_REGISTERED_LABELS = 2  # the last labels of a name (example.com) are the tracker's own


def exchange_fields(exchange: Exchange, walker: Walker) -> Iterator[Field]:
    """Every field of `exchange`, section by section (each section decoded when the one
    before it has been consumed). A section that fails on input nobody foresaw is reported
    as a warning; the fields it found until then and the next sections are still yielded."""
    sections: list[tuple[str, Callable[[], None]]] = []
    if exchange.transport == "dns":
        sections.append(("dns", lambda: _name_fields("dns", exchange.host, walker)))
    elif exchange.transport in ("tls", "quic") and exchange.host:
        sections.append(("sni", lambda: _name_fields("sni", exchange.host, walker)))
    if exchange.url and exchange.transport != "dns":
        sections.append(("url", lambda: _url_fields(exchange.url, walker)))
    if exchange.headers:
        sections.append(("headers", lambda: _header_fields(exchange.headers, walker)))
    if exchange.body and exchange.readable:
        sections.append(("body", lambda: _body_fields(exchange, walker)))
    for name, section in sections:
        try:
            section()
        except Exception as error:  # noqa: BLE001 - a decoder bug must not end the audit
            walker.budget.warn(f"{name}: decoding stopped early ({type(error).__name__}: "
                               f"{error}); the rest of the {name} was not searched")
        found, walker.out = walker.out, []
        yield from found


def _url_fields(url: str, walker: Walker) -> None:
    walker.plain("url", "", url, ())
    once = unquote_to_bytes(url)
    if once != url.encode():
        walker.plain("url", "", once, ("percent",))
    if not url.startswith(("sip:", "sips:", "tel:")):  # a SIP/tel URI has no path or query
        walker.url_parts("url", url, ())


def _header_fields(headers: tuple[tuple[str, str], ...], walker: Walker) -> None:
    for raw_name, raw_value in headers:
        name = raw_name.strip().lower()
        value = _utf8(raw_value)
        token = f"header:{name}"
        if name == "cookie":
            walker.plain("header", name, value, (token,))
            for cookie_name, cookie_value in _cookies(value):
                walker.emit("cookie", cookie_name, cookie_value, (f"cookie:{cookie_name}",))
        elif name in _AUTH_HEADERS:
            walker.plain("header", name, value, (token,))
            scheme, _, credentials = value.strip().partition(b" ")
            walker.emit("header", name, credentials.strip() or scheme, (token,))
        else:
            walker.emit("header", name, value, (token,))


def _cookies(header: bytes) -> Iterator[tuple[str, bytes]]:
    for item in header.split(b";"):
        name, equals, value = item.strip().partition(b"=")
        if equals and name:
            yield name.decode("utf-8", "replace"), value.strip()


def _name_fields(where: str, name: str, walker: Walker) -> None:
    """A DNS or SNI name, its labels, and the labels before the registered domain joined
    (tunnels split data over several labels), each tried as hex, base64 and base32."""
    walker.plain(where, "qname" if where == "dns" else "sni", name, ())
    labels = [label for label in name.rstrip(".").split(".") if label]
    for index, label in enumerate(labels):
        _label_fields(where, f"label[{index}]", label.encode(), walker)
    data_labels = labels[:-_REGISTERED_LABELS]
    if len(data_labels) >= 2:
        _label_fields(where, "labels", "".join(data_labels).encode(), walker)


def _label_fields(where: str, key: str, label: bytes, walker: Walker) -> None:
    walker.emit(where, key, label, ())
    decoded = base32_decoded(label)
    if decoded is not None and walker.worth_unwrapping(decoded, f"{where} {key}"):
        walker.emit(where, key, decoded, ("base32",), body_like=True)


def _body_fields(exchange: Exchange, walker: Walker) -> None:
    body = exchange.body
    limit = walker.budget.limits.max_body
    if len(body) > limit:
        walker.budget.warn(f"body: {size_text(len(body))} is over the {size_text(limit)} "
                           f"cap; searched the first {size_text(limit)}")
        body = body[:limit]
    content_type = _header(exchange, "content-type").lower()
    where = _BODY_WHERE.get(exchange.transport, "body")
    encoding = _CONTENT_ENCODINGS.get(_header(exchange, "content-encoding").strip().lower())
    if encoding and not sniff_compression(body) and not looks_like_text(body):
        walker.emit_encoded(where, "", body, encoding, hint=content_type)
    else:
        walker.emit(where, "", body, (), hint=content_type, body_like=True)


def _header(exchange: Exchange, name: str) -> str:
    return next((v for n, v in exchange.headers if n.lower() == name), "")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")

"""Each place of an exchange and each body format yields its values with where, key, chain."""

from __future__ import annotations

import json

import pytest
from decode_helpers import decode, found, http

from auditor.model import Exchange

IMEI = "867203024182737"
PHONE = "+8615627394810"


@pytest.mark.parametrize(("url", "where", "key", "chain", "value"), [
    (f"http://h.example/v1/dev/{IMEI}/x", "path", "path[2]", (), IMEI),
    ("http://h.example/a%20b/", "path", "path[0]", (), "a b"),
    (f"http://h.example/p?imei={IMEI}&x=1", "query", "imei", ("query:imei",), IMEI),
    ("http://h.example/p?n=%2B8615627394810", "query", "n", ("query:n",), PHONE),
    ("http://h.example/p?n=%252B8615627394810", "query", "n", ("query:n", "percent"), PHONE),
    ("http://h.example/p?name=Anna+Schmidt", "query", "name", ("query:name",), "Anna Schmidt"),
    (f"http://h.example/p?{IMEI}", "query", f"{IMEI}#key", (f"query:{IMEI}#key",), IMEI),
    ("http://h.example/p?n=%E5%BC%A0%E4%B8%89", "query", "n", ("query:n",), "张三"),
    ("http://h.example/a?x=%2B86", "url", "", ("percent",), "http://h.example/a?x=+86"),
    (f"http://h.example/p?d=imei%3D{IMEI}", "query", "imei", ("query:d", "query:imei"), IMEI),
])
def test_url_parts(url: str, where: str, key: str, chain: tuple[str, ...], value: str) -> None:
    fields, _ = decode(http(url))
    assert (where, key, chain) in found(fields, value)


def test_whole_url_is_yielded_raw() -> None:
    url = f"http://h.example/p?imei={IMEI}"
    fields, _ = decode(http(url))
    assert ("url", "", ()) in found(fields, url)


@pytest.mark.parametrize(("headers", "where", "key", "chain", "value"), [
    ((("X-IMEI", IMEI),), "header", "x-imei", ("header:x-imei",), IMEI),
    ((("Cookie", f"sid=1; imei={IMEI}"),), "cookie", "imei", ("cookie:imei",), IMEI),
    ((("Cookie", "d=aW1laT04NjcyMDMwMjQxODI3Mzc%3D"),), "cookie", "imei",
     ("cookie:d", "percent", "base64", "query:imei"), IMEI),
    ((("Cookie", 'q="ODY3MjAzMDI0MTgyNzM3"'),), "cookie", "q", ("cookie:q", "base64"), IMEI),
    ((("Authorization", "Basic dXNlcjo4NjcyMDMwMjQxODI3Mzc="),), "header", "authorization",
     ("header:authorization", "base64"), f"user:{IMEI}"),
    ((("Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJpbWVpIjoiODY3MjAzMDI0MTgyNzM3In0."),),
     "header", "$.imei", ("header:authorization", "jwt", "json:$.imei"), IMEI),
    ((("X-Dev", "383637323033303234313832373337"),), "header", "x-dev",
     ("header:x-dev", "hex"), IMEI),
])
def test_headers_and_cookies(headers: tuple[tuple[str, str], ...], where: str, key: str,
                             chain: tuple[str, ...], value: str) -> None:
    fields, _ = decode(http(headers=headers))
    assert (where, key, chain) in found(fields, value)


def dns(name: str, transport: str = "dns") -> Exchange:
    return Exchange(id=1, time=0.0, client="", server="", host=name, transport=transport,
                    method="QUERY", url=f"dns:{name}")


@pytest.mark.parametrize(("name", "key", "chain", "value"), [
    (f"imei-{IMEI}.tracker.example", "qname", (), f"imei-{IMEI}.tracker.example"),
    (f"imei-{IMEI}.tracker.example", "label[0]", (), f"imei-{IMEI}"),
    ("383637323033303234313832373337.t.example", "label[0]", ("hex",), IMEI),
    ("ha3domrqgmydenbrhazdomzx.t.example", "label[0]", ("base32",), IMEI),
    ("HA3DOMRQGMYDENBRHAZDOMZX.t.example", "label[0]", ("base32",), IMEI),
    ("3836373230333032.34313832373337.t.example", "labels", ("hex",), IMEI),
])
def test_dns_names(name: str, key: str, chain: tuple[str, ...], value: str) -> None:
    fields, _ = decode(dns(name))
    assert ("dns", key, chain) in found(fields, value)


def test_sni_of_a_tls_connection() -> None:
    exchange = Exchange(id=1, time=0.0, client="", server="", host=f"{IMEI}.cdn.example",
                        transport="tls", readable=False, body=b"\x16\x03\x01secret")
    fields, _ = decode(exchange)
    assert ("sni", "label[0]", ()) in found(fields, IMEI)
    assert not [f for f in fields if f.where == "body"], "unreadable bytes are not searched"


JSON_BODY = json.dumps({
    "device": {"imei": IMEI, "slots": [IMEI, "867203024182810"]},
    "contacts": [{"name": "Anna Schmidt", "phone": "+49 151 2345 6789"}],
    "name": "\u5f20\u4e09", "lat": 39.98312, "id": 867203024182737,
    PHONE: "online", "weird key": "v", "ok": True, "none": None,
}, ensure_ascii=True).encode()


@pytest.mark.parametrize(("key", "chain", "value"), [
    ("$.device.imei", ("json:$.device.imei",), IMEI),
    ("$.device.slots[1]", ("json:$.device.slots[1]",), "867203024182810"),
    ("$.contacts[0].phone", ("json:$.contacts[0].phone",), "+49 151 2345 6789"),
    ("$.name", ("json:$.name",), "张三"),  # \uXXXX escapes decoded by parsing
    ("$.lat", ("json:$.lat",), "39.98312"),  # numbers keep their exact text
    ("$.id", ("json:$.id",), IMEI),
    (f'$["{PHONE}"]#key', (f'json:$["{PHONE}"]#key',), PHONE),
    ('$["weird key"]', ('json:$["weird key"]',), "v"),
])
def test_json_body(key: str, chain: tuple[str, ...], value: str) -> None:
    fields, _ = decode(http(body=JSON_BODY, content_type="application/json"))
    assert ("body", key, chain) in found(fields, value)
    assert ("body", "", ()) in found(fields, JSON_BODY)


def test_json_body_without_content_type_and_bools_left_out() -> None:
    fields, _ = decode(http(body=JSON_BODY, content_type="text/plain"))
    assert ("body", "$.device.imei", ("json:$.device.imei",)) in found(fields, IMEI)
    assert not [f for f in fields if f.key in ("$.ok", "$.none")]


def test_json_embedded_in_a_json_string() -> None:
    body = json.dumps({"payload": json.dumps({"imsi": "460013728150946"})}).encode()
    fields, _ = decode(http(body=body))
    assert found(fields, "460013728150946") == {
        ("body", "$.imsi", ("json:$.payload", "json:$.imsi"))}


@pytest.mark.parametrize(("content_type", "body", "key", "chain", "value"), [
    ("application/x-www-form-urlencoded", f"imei={IMEI}&n=%2B86+156".encode(), "n",
     ("form:n",), "+86 156"),
    ("", f"a=1&imei={IMEI}".encode(), "imei", ("form:imei",), IMEI),  # sniffed
    ("application/xml", b'<r><item id="' + IMEI.encode() + b'"/><p>x</p></r>',
     "/r/item[@id]", ("xml:/r/item[@id]",), IMEI),
    ("text/xml", b"<r xmlns='urn:x'><c><t>1</t><t>" + PHONE.encode() + b"</t></c></r>",
     "/r/c/t[2]", ("xml:/r/c/t[2]",), PHONE),
    ("", b"<?xml version='1.0'?><d><imei>" + IMEI.encode() + b"</imei></d>", "/d/imei",
     ("xml:/d/imei",), IMEI),
    ("text/x-vcard", (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Schmidt\r\n"
                      b"TEL;TYPE=CELL:+49 151 2345 6789\r\nEND:VCARD\r\n"), "vcard[0].tel",
     ("vcard:vcard[0].tel",), "+49 151 2345 6789"),
    ("", (b"BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:"
          b"=E5=BC=A0=E4=B8=89\nEND:VCARD\nBEGIN:VCARD\nTEL:110\nEND:VCARD\n"), "vcard[0].n",
     ("vcard:vcard[0].n",), "张三"),
    ("text/plain; charset=gbk", "联系人 张三 +8615627394810".encode("gbk"), "", ("text",),
     "联系人 张三 +8615627394810"),
    ("application/octet-stream", b"plain text upload " + IMEI.encode(), "", (),
     b"plain text upload " + IMEI.encode()),
])
def test_body_formats(content_type: str, body: bytes, key: str, chain: tuple[str, ...],
                      value: str | bytes) -> None:
    fields, _ = decode(http(body=body, content_type=content_type))
    assert ("body", key, chain) in found(fields, value)


MULTIPART = (
    b"--XyZ\r\nContent-Disposition: form-data; name=\"imei\"\r\n\r\n" + IMEI.encode() +
    b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"contacts\"; filename=\"c.json\"\r\n"
    b"Content-Type: application/json\r\n\r\n{\"phone\": \"" + PHONE.encode() + b"\"}"
    b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"sms\"; filename=\"sms.bin\"\r\n"
    b"Content-Type: application/octet-stream\r\n\r\n\x00\x01\x02\xff\xfe binary"
    b"\r\n--XyZ--\r\n")


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=XyZ", ""])
def test_multipart_fields_and_files(content_type: str) -> None:
    fields, _ = decode(http(body=MULTIPART, content_type=content_type))
    assert ("body", "imei", ("multipart:imei",)) in found(fields, IMEI)
    assert ("body", "$.phone", ("multipart:contacts", "json:$.phone")) in found(fields, PHONE)
    assert ("body", "sms.bin", ("multipart:sms",)) in found(fields, b"\x00\x01\x02\xff\xfe binary")


def test_websocket_and_tcp_bodies_say_so() -> None:
    for transport, where in (("ws", "websocket"), ("tcp", "tcp"), ("udp", "udp")):
        fields, _ = decode(http(body=f"imei={IMEI}".encode(), transport=transport))
        assert (where, "imei", ("query:imei",)) in found(fields, IMEI) or \
            (where, "imei", ("form:imei",)) in found(fields, IMEI)

"""Address books and SMS archives by their structure, without canaries (issue 5.5)."""

from __future__ import annotations

import json

import pytest
from detect_helpers import exchange, fld, observe, profile

from auditor.decode import fields_of
from auditor.detect import Detector

PEOPLE = [("Li Na", "+8613800138000"), ("Wang Fang", "+8613900139000"),
          ("Jane Roe", "+16502530000"), ("Max Muster", "+4915123456789")]


def json_fields(array: str, entries: list[dict[str, str]]) -> list:
    return [fld(value, key=f"$.{array}[{i}].{name}", where="body",
                chain=(f"json:$.{array}[{i}].{name}",))
            for i, entry in enumerate(entries) for name, value in entry.items()]


@pytest.mark.parametrize("count, found", [(2, False), (3, True), (4, True)])
def test_three_named_phones_are_an_address_book(count, found):
    entries = [{"displayName": n, "mobile": p} for n, p in PEOPLE[:count]]
    observations = observe(Detector(None), *json_fields("data.list", entries))
    books = [o for o in observations if o.data_type == "contacts"]
    assert len(books) == (1 if found else 0)
    if found:
        assert (books[0].match, books[0].key, books[0].value) == ("pattern", "$.data.list",
                                                                  "+8613800138000")
        assert f"{count} entries" in books[0].detail
        # the entries' numbers are the address book's, not the handset's own number
        assert not [o for o in observations if o.data_type == "phone_number"]


def test_nested_phone_lists_count_too():
    fields = []
    for i, (name, phone) in enumerate(PEOPLE[:3]):
        fields.append(fld(name, key=f"$.contacts[{i}].name", where="body", chain=()))
        fields.append(fld(phone, key=f"$.contacts[{i}].phones[0].value", where="body",
                          chain=()))
    [book] = observe(Detector(None), *fields)
    assert (book.data_type, book.key) == ("contacts", "$.contacts")


def test_names_without_valid_numbers_are_not_an_address_book():
    entries = [{"name": f"item {i}", "number": str(1000 + i)} for i in range(5)]
    assert observe(Detector(None), *json_fields("items", entries)) == []


def test_sms_archive_by_address_body_date():
    entries = [{"address": "+8613800138000", "body": "see you at 7", "date": "1406887203000"},
               {"address": "10086", "body": "Your balance is low", "date": "1406887299000"}]
    [sms] = observe(Detector(None), *json_fields("sms", entries))
    assert (sms.data_type, sms.match, sms.key) == ("sms", "pattern", "$.sms")
    assert "2 messages" in sms.detail


def test_chat_without_phone_addresses_is_not_sms():
    entries = [{"from": "bob", "text": "hi", "date": "1406887203000"}]
    assert observe(Detector(None), *json_fields("msgs", entries)) == []


def test_vcard_text_is_an_address_book():
    vcard = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane Roe\r\nTEL;TYPE=CELL:+1 650 253 0000\r\n"
             "END:VCARD\r\n")
    [book] = observe(Detector(None), fld(vcard, key="file", where="body"))
    assert (book.data_type, book.value, book.encodings[-1]) == ("contacts", "+1 650 253 0000",
                                                                 "vcard")


def test_through_the_real_decoder():
    """Fields as auditor.decode yields them: a JSON address book and a query string."""
    body = json.dumps({"contacts": [{"name": n, "phone": p} for n, p in PEOPLE],
                       "imei": "867203024182737"}).encode()
    upload = exchange(url="http://api.example/up?mb=15627394810&imsi=460013728150946",
                      headers=(("Content-Type", "application/json"),), body=body)
    detector = Detector(profile(region="CN", imei=("867203024182737",),
                                phone_number=("+8615627394810",)))
    found = {(o.data_type, o.match, o.where, o.key) for o in
             detector.observe(upload, fields_of(upload))}
    assert found == {("contacts", "pattern", "body", "$.contacts"),
                     ("imei", "known", "body", "$.imei"),
                     ("phone_number", "known", "query", "mb"),
                     ("imsi", "pattern", "query", "imsi")}

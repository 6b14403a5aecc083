"""Masking: each data type keeps what says *what* it is, hides *whose* it is."""

from __future__ import annotations

import base64

import pytest

from auditor.report.mask import Masker, mask, mask_in_text


@pytest.mark.parametrize(("value", "data_type", "expected"), [
    ("867203024182737", "imei", "86720302*****37"),
    ("460013728150946", "imsi", "46001372*****46"),
    ("89860114872047315961", "iccid", "89860114872*******61"),
    ("+8615627394810", "phone_number", "+86156*****810"),
    ("15627394810", "phone_number", "156*****810"),
    ("+49 151 2345 6789", "contacts", "+49 151 **** *789"),
    ("someone@example.com", "email", "so*****@example.com"),
    ("64:09:80:3a:5c:7e", "mac_address", "64:09:80:**:**:**"),
    ("6409803a5c7e", "mac_address", "640980******"),
    ("Anna Schmidt", "contacts", "Ann…"),
    ("Hallo Anna, wir treffen uns morgen um 19 Uhr.", "sms", "Hal…"),
    ("39.98312,116.30745", "location", "40.0,116.3"),
    ("5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5", "advertising_id",
     "5b9e****-****-****-****-**********e5"),
    ("3f8a1c0b7d52e946", "android_id", "3f8a**********46"),
])
def test_mask_by_type(value: str, data_type: str, expected: str) -> None:
    assert mask(value, data_type) == expected


def test_imei_mask_keeps_the_tac_but_not_the_unit() -> None:
    masked = mask("867203024182737", "imei")
    assert masked.startswith("86720302")  # TAC: the model
    assert "4182737" not in masked


@pytest.mark.parametrize("spelling", [
    "867203024182737",
    base64.b64encode(b"867203024182737").decode(),
    b"867203024182737".hex(),
    b"867203024182737".hex().upper(),
])
def test_mask_in_text_finds_plain_base64_and_hex_spellings(spelling: str) -> None:
    text = f"GET /r?x={spelling}&y=1"
    masked = mask_in_text(text, [("867203024182737", "imei")])
    assert spelling not in masked
    assert masked.startswith("GET /r?x=") and masked.endswith("&y=1")


@pytest.mark.parametrize("spelling", [
    "+8615627394810", "008615627394810", "8615627394810", "156-2739-4810", "(156) 2739 4810",
])
def test_mask_in_text_finds_every_phone_spelling(spelling: str) -> None:
    masked = mask_in_text(f"mb={spelling};", [("+8615627394810", "phone_number")])
    assert "4810" not in masked.replace("*810", "")
    assert masked.count("*") >= 5


def test_mask_in_text_is_case_insensitive_and_leaves_other_text_alone() -> None:
    text = "mac=64-09-80-3A-5C-7E id=ABCDEF build=12345"
    masked = mask_in_text(text, [("64:09:80:3a:5c:7e", "mac_address")])
    assert masked == "mac=64-09-80-**-**-** id=ABCDEF build=12345"


def test_short_values_are_not_searched_in_text() -> None:
    assert mask_in_text("imei=1&x=1", [("1", "imei")]) == "imei=1&x=1"


def test_segments_mark_the_value_and_reveal_keeps_it() -> None:
    values = [("867203024182737", "imei")]
    masked = Masker(values).segments("a=867203024182737&b")
    assert [(s.text, s.secret) for s in masked] == [
        ("a=", False), ("86720302*****37", True), ("&b", False)]
    revealed = Masker(values, reveal=True).segments("a=867203024182737&b")
    assert revealed[1].text == "867203024182737" and revealed[1].secret


def test_coordinates_are_rounded_wherever_written_to_three_decimals_or_more() -> None:
    values = [("39.98312", "location"), ("116.30745", "location")]
    assert mask_in_text("lat=39.983&lon=116.3074519&x=39.98", values) == (
        "lat=40.0&lon=116.3&x=39.98")

"""Known values of the profile in every spelling, encoding and hash (issue 2.4, 5.3)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

import pytest
from detect_helpers import IMEI, exchange, fld, observe, of_type, profile, redmi

from auditor.detect import Detector
from auditor.detect.profile import Contact, Location

ALGOS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b",
         "blake2s")
#: data type -> the value as the profile has it (tests/detect/data/device.yaml)
VALUES = {"imei": IMEI, "imsi": "460013728150946", "iccid": "89860114872047315961",
          "phone_number": "+8615627394810", "android_id": "3f8a1c0b7d52e946",
          "advertising_id": "5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5",
          "mac_address": "64:09:80:3a:5c:7e", "serial_number": "7c1e4b92",
          "email": "someone@example.com"}


@pytest.fixture(scope="module")
def known() -> Detector:
    return Detector(redmi(), pattern_mode=False)


def b64(data: bytes, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()


def _plain_forms(value: str) -> list[tuple[str, str, str]]:
    """(name, what is sent, the token the observation must end with)."""
    raw = value.encode()
    percent = quote(value, safe="")
    return [
        ("plain", value, "plain"),
        ("upper", value.upper(), "plain"),
        ("percent", percent, "percent" if percent != value else "plain"),
        ("hex", raw.hex(), "hex"),
        ("HEX", raw.hex().upper(), "hex"),
        ("base64", b64(raw), "base64"),
        ("base64 unpadded", b64(raw).rstrip("="), "base64"),
        ("base64 at offset 1", b64(b"k" + raw + b"&a=1"), "base64"),
        ("base64 at offset 2", b64(b"k=" + raw + b"&a=1"), "base64"),
    ]


def _hash_forms(value: str) -> list[tuple[str, str, str]]:
    out = []
    for algo in ALGOS:
        digest = hashlib.new(algo, value.encode()).digest()
        std, url = b64(digest), b64(digest, urlsafe=True)
        out += [(f"{algo} hex", digest.hex(), f"{algo}:hex"),
                (f"{algo} HEX", digest.hex().upper(), f"{algo}:hex"),
                (f"{algo} base64", std, f"{algo}:base64"),
                (f"{algo} base64url", url.rstrip("="),
                 f"{algo}:base64url" if url != std else f"{algo}:base64"),
                (f"{algo} hex[:20]", digest.hex()[:20], f"{algo}:hex-truncated")]
    return out


CASES = [(data_type, name, sent, token, name.split()[0] in ALGOS)
         for data_type, value in VALUES.items()
         for name, sent, token in _plain_forms(value) + _hash_forms(value)]


@pytest.mark.parametrize("data_type, name, sent, token, hashed", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_encoding_of_every_identifier(known, data_type, name, sent, token, hashed):
    observations = of_type(observe(known, fld(f"v={sent}&t=1", key="q")), data_type)
    assert [(o.value, o.encodings[-1], o.hashed, o.match) for o in observations] == \
        [(VALUES[data_type], token, hashed, "known")]
    assert observations[0].encodings[0] == "query:q"
    assert observations[0].confidence == 1.0


@pytest.mark.parametrize("region, number, spelling, token", [
    ("CN", "+8615627394810", "+8615627394810", "phone:e164"),
    ("CN", "+8615627394810", "008615627394810", "phone:00"),
    ("CN", "+8615627394810", "8615627394810", "phone:cc"),
    ("CN", "+8615627394810", "15627394810", "phone:national"),
    ("CN", "+8615627394810", "+86 156 2739 4810", "phone:international-spaces"),
    ("CN", "+8615627394810", "+86-156-2739-4810", "phone:international-dashes"),
    ("CN", "+8615627394810", "+86.156.2739.4810", "phone:international-dots"),
    ("CN", "+8615627394810", "156 2739 4810", "phone:national-spaces"),
    ("CN", "+8615627394810", "156-2739-4810", "phone:national-dashes"),
    ("CN", "+8615627394810", "156.2739.4810", "phone:national-dots"),
    ("DE", "+4915123456789", "015123456789", "phone:national"),
    ("DE", "+4915123456789", "15123456789", "phone:nsn"),
    ("DE", "+4915123456789", "01512 3456789", "phone:national-spaces"),
    ("DE", "+4915123456789", "+49 1512 3456789", "phone:international-spaces"),
    ("DE", "+4915123456789", "+49 (0)1512 3456789", "phone:international-trunk"),
    ("DE", "015123456789", "004915123456789", "phone:00"),
    ("US", "+16502530000", "(650) 253-0000", "phone:national-formatted"),
    ("US", "+16502530000", "650-253-0000", "phone:national-dashes"),
    ("US", "+16502530000", "+1 650-253-0000", "phone:international"),
    ("US", "+16502530000", "16502530000", "phone:cc"),
])
def test_every_phone_spelling(region, number, spelling, token):
    detector = Detector(profile(region=region, phone_number=(number,)), pattern_mode=False)
    for sent in (spelling, quote(spelling, safe="")):
        found = of_type(observe(detector, fld(f"tel:{sent};x", key="to")), "phone_number")
        assert [(o.value, o.encodings[-2]) for o in found] == [(number, token)], sent


@pytest.mark.parametrize("spelling", ["015123456789", "+4915123456789", "01512 3456789"])
@pytest.mark.parametrize("algo", ["md5", "sha1", "sha256"])
def test_hashes_of_phone_spellings_say_which(algo, spelling):
    detector = Detector(profile(region="DE", phone_number=("+4915123456789",)),
                        pattern_mode=False)
    digest = hashlib.new(algo, spelling.encode()).hexdigest()
    [found] = observe(detector, fld(digest, key="ph"))
    assert found.hashed and found.encodings[-1] == f"{algo}:hex"
    assert found.detail.startswith(f"{algo} (hex) of phone spelling") and spelling in found.detail


@pytest.mark.parametrize("length, expected", [
    (64, "sha256:hex"), (32, "sha256:hex-truncated"), (16, "sha256:hex-truncated"),
    (15, None)])
def test_truncated_digests_down_to_16_hex_chars(known, length, expected):
    digest = hashlib.sha256(IMEI.encode()).hexdigest()
    found = of_type(observe(known, fld(digest[:length] + "|", key="h")), "imei")
    assert [o.encodings[-1] for o in found] == ([expected] if expected else [])
    if expected and length < 64:
        assert f"first {length} of 64" in found[0].detail


@pytest.mark.parametrize("sent, token", [
    ("64:09:80:3a:5c:7e", "mac:colon"), ("64:09:80:3A:5C:7E", "mac:colon"),
    ("64-09-80-3a-5c-7e", "mac:dash"), ("6409803a5c7e", "mac:bare"),
    ("6409803A5C7E", "mac:bare"), ("6409.803a.5c7e", "mac:cisco"),
])
def test_mac_forms(known, sent, token):
    found = of_type(observe(known, fld(f"[{sent}]", key="m")), "mac_address")
    assert [o.encodings[-2:] for o in found] == [(token, "plain")]


@pytest.mark.parametrize("spelling", ["64:09:80:3a:5c:7e", "6409803A5C7E", "64-09-80-3a-5c-7e"])
def test_hashes_of_mac_spellings(known, spelling):
    found = of_type(observe(known, fld(hashlib.md5(spelling.encode()).hexdigest())),
                    "mac_address")
    assert [o.encodings[-1] for o in found] == ["md5:hex"] and found[0].hashed


@pytest.mark.parametrize("sent, found", [
    (IMEI, True), (f"imei{IMEI}x", True), (f"1{IMEI}", False), (f"{IMEI}0", False),
    (f"{IMEI}.5", True), ("a7c1e4b92", False), ("7c1e4b92f", False), ("7c1e4b92", True),
    ("x-7c1e4b92-y", True), ("someone@example.com", True), ("nosomeone@example.community",
                                                           False),
])
def test_values_inside_longer_runs_are_not_matches(known, sent, found):
    assert bool(observe(known, fld(sent))) == found


def test_imei_spellings(known):
    found = observe(known, fld("urn:gsma:imei:86720302-418273-7", key="sip"),
                    fld("86720302418273", key="d"))
    assert sorted(o.encodings[1] for o in found) == ["imei:14", "imei:urn"]
    assert {o.value for o in found} == {IMEI}


def test_longest_spelling_wins(known):
    [found] = observe(known, fld("+8615627394810"))
    assert found.encodings[-2] == "phone:e164" and found.excerpt == "+8615627394810"


def test_innermost_field_only(known):
    inner = fld(IMEI, key="imei", chain=("query:info", "base64", "query:imei"))
    outer = fld(b64(f"imei={IMEI}".encode()), key="info", chain=("query:info",))
    url = fld(f"http://h/?imei={IMEI}", key="", where="url", chain=())
    query = fld(IMEI, key="imei")
    found = observe(known, outer, inner, url, query, query)
    assert sorted((o.where, o.encodings) for o in found) == [
        ("query", ("query:imei", "plain")),
        ("query", ("query:info", "base64", "query:imei", "plain"))]


def test_excerpt_shows_the_value_in_context(known):
    [found] = observe(known, fld("device=redmi&imei=867203024182737&imsi=", key=""))
    assert found.excerpt == "=redmi&imei=867203024182737&imsi="


def test_contacts_by_name_and_number_and_address_book():
    detector = Detector(profile(region="CN", contacts=(
        Contact("Anna Schmidt", "+49 151 2345 6789"), Contact("张伟", "+8613800138000"))),
        pattern_mode=False)
    one = observe(detector, fld("Anna Schmidt"))
    assert [(o.data_type, o.value, o.detail) for o in one] == [
        ("contacts", "Anna Schmidt", "contact Anna Schmidt: name Anna Schmidt")]
    two = observe(detector, fld("张伟".encode()), fld("01512 3456789"),
                  fld(quote("张伟")))
    assert {o.value for o in two} == {"张伟", "+49 151 2345 6789"}
    assert all(o.detail.startswith("address-book upload (2 contacts): ") for o in two)
    hashed = observe(detector, fld(hashlib.sha256(b"+8613800138000").hexdigest()))
    assert [(o.value, o.hashed) for o in hashed] == [("+8613800138000", True)]


SMS = "Hallo Anna, wir treffen uns morgen um 19 Uhr."


@pytest.mark.parametrize("sent, found", [
    (SMS, True), (SMS.upper(), True), (SMS[3:23], True), (SMS[10:45], True),
    (SMS[3:22], False), (quote(SMS), True), (hashlib.sha256(SMS.encode()).hexdigest()[:32],
                                             True),
])
def test_sms_text_or_20_characters_of_it(sent, found):
    detector = Detector(profile(sms=(SMS,)), pattern_mode=False)
    observations = observe(detector, fld(sent, key="body"))
    assert len(observations) == (1 if found else 0)
    if found:
        assert observations[0].data_type == "sms" and observations[0].value == SMS


def test_sms_part_says_how_much():
    detector = Detector(profile(sms=(SMS,)), pattern_mode=False)
    [found] = observe(detector, fld("msg:" + SMS[6:40]))
    assert found.detail == "34 characters of canary SMS 1"


LOCATION = Location(39.98312, 116.30745, "39.98312", "116.30745")


@pytest.mark.parametrize("fields, found", [
    ([("39.98312", "lat"), ("116.30745", "lon")], True),
    ([("39.983", "lat"), ("116.307", "lon")], True),
    ([("39.9831,116.3074", "ll")], True),
    ([("39.9831,116.3075", "ll")], True),  # rounded
    ([("399831200", "lat"), ("1163074500", "lon")], True),  # E7 integers
    ([("39.98312", "lat")], False),  # one half is not a location
    ([("39.9839", "lat"), ("116.30745", "lon")], False),  # another place
    ([("39.98", "lat"), ("116.30", "lon")], False),  # 2 decimals: a whole district
    ([("139.98312", "a"), ("116.30745", "lon")], False),
])
def test_location_needs_both_halves_to_3_decimals(fields, found):
    detector = Detector(profile(location=LOCATION), pattern_mode=False)
    observations = observe(detector, *(fld(v, key=k) for v, k in fields))
    assert len(observations) == (1 if found else 0)
    if found:
        assert observations[0].data_type == "location"
        assert observations[0].value == "39.98312,116.30745"


def test_unreadable_upload():
    detector = Detector(None)
    tls = exchange(transport="tls", readable=False, bytes_up=517, host="api.example")
    [found] = detector.observe(tls, [])
    assert (found.data_type, found.where, found.encodings, found.value, found.detail) == (
        "unreadable", "sni", ("encrypted",), "api.example", "517 bytes up could not be read")
    assert detector.observe(exchange(transport="tcp", readable=False, bytes_up=0), []) == []
    assert detector.observe(exchange(transport="tcp", readable=False, bytes_up=3),
                            [])[0].where == "tcp"


def test_spellings_too_short_to_tell_apart_are_not_searched():
    detector = Detector(profile(contacts=(Contact("Li", "+8613800138000"),)),
                        pattern_mode=False)
    assert observe(detector, fld("li"), fld("Li Na")) == []
    assert [o.value for o in observe(detector, fld("+8613800138000"))] == ["+8613800138000"]


@pytest.mark.parametrize("sent", [
    f"+sip.instance=\"<urn:gsma:imei:{IMEI[:8]}-{IMEI[8:14]}-0>\"",  # spare digit (TS 23.003)
    f"urn:gsma:imei:{IMEI[:8]}-{IMEI[8:14]}-{IMEI[14]}",  # with the check digit
])
def test_imei_in_a_gsma_urn_with_spare_or_check_digit(known, sent):
    observations = of_type(observe(known, fld(sent, key="", where="tcp", chain=())), "imei")
    assert [(o.value, o.encodings[-2:]) for o in observations] == [
        (IMEI, ("imei:urn-spare" if sent.endswith("-0>\"") else "imei:urn", "plain"))]


def test_urn_with_another_spare_digit_is_not_the_imei(known):
    assert of_type(observe(known, fld(f"urn:gsma:imei:{IMEI[:8]}-{IMEI[8:14]}-5",
                                      key="")), "imei") == []


@pytest.mark.parametrize("sent", [
    "+86 156 2739 4810",  # the usual grouping is a spelling already
    "+86 15 627 394 810", "+86-156-27394-810", "0086 (156) 2739.4810", "156 2739 48 10",
    "+86 (0) 156 27394810", "tel=+86/156/2739/4810",
])
def test_own_number_whatever_the_separators(known, sent):
    observations = of_type(observe(known, fld(sent, key="phone")), "phone_number")
    assert [o.value for o in observations] == ["+8615627394810"], sent


@pytest.mark.parametrize("sent", [
    "1 56 2739 4810 7", "15 627 394 810.5", "7-156 27 39 48 10",  # part of a longer number
    "156 2739 481", "86 1 5627 3948",  # not all of it
])
def test_separator_blind_matching_keeps_number_boundaries(known, sent):
    assert of_type(observe(known, fld(sent, key="phone")), "phone_number") == [], sent


@pytest.mark.parametrize("sent", ["+49 15 123 456 789", "0151/234 567 89", "0151-234.567.89"])
def test_canary_contact_number_whatever_the_separators(known, sent):
    observations = observe(known, fld(sent, key="$.contacts[0].tel"))
    assert [(o.data_type, o.encodings[-2]) for o in observations] == [
        ("contacts", "phone:any-separators")]
    assert "Anna Schmidt" in observations[0].detail


def test_known_location_is_placed_at_its_query_field_not_the_whole_url(known):
    url = "http://push.example/v1?lat=39.98312&lon=116.30745"
    observations = observe(known, fld(url, key="", where="url", chain=("percent",)),
                           fld("39.98312", key="lat", where="query"),
                           fld("116.30745", key="lon", where="query"))
    assert [(o.data_type, o.where, o.key) for o in observations] == [
        ("location", "query", "lat")]

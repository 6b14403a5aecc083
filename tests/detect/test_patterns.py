"""Pattern mode: identifiers by shape and key hint, never placeholders or decoys (issue 5.4)."""

from __future__ import annotations

import struct
import zlib

import pytest
from detect_helpers import IMEI, fld, observe, profile

from auditor.detect import Detector
from auditor.detect.hints import load_key_hints, local_key, normalise_key
from auditor.model import InputError


def luhn_complete(body: str) -> str:
    """`body` plus the digit that makes it pass the Luhn check."""
    for check in "0123456789":
        digits = [int(c) for c in reversed(body + check)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                    for i, d in enumerate(digits))
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable: one check digit always fits")


@pytest.fixture(scope="module")
def bare() -> Detector:
    return Detector(None)


def found(detector: Detector, *fields) -> list[tuple[str, str]]:
    observations = observe(detector, *fields)
    assert all(o.match == "pattern" and 0 < o.confidence < 1 for o in observations)
    return sorted((o.data_type, o.value) for o in observations)


@pytest.mark.parametrize("key, sent, expected", [
    ("other", "354427063233479", ("imei", "354427063233479")),  # Luhn + TAC, no hint needed
    ("imei", "867203024182738", ("imei", "867203024182738")),  # fails Luhn, but the key says
    ("device_imei", "86720302418273", ("imei", "86720302418273")),  # 14 digits with a hint
    ("imeisv", "3544270632334701", ("imei", "3544270632334701")),
    ("uid", IMEI, ("imei", IMEI)),
    ("sip", "urn:gsma:imei:35442706-323347-9", ("imei", "354427063233479")),
    ("meid", "A1000049EB2F13", ("imei", "A1000049EB2F13")),
    ("imsi", "460013728150946", ("imsi", "460013728150946")),
    ("ruri", "sip:460013728150946@ims.mnc001.mcc460.3gppnetwork.org",
     ("imsi", "460013728150946")),
    ("sim", "89860114872047315961", ("iccid", "89860114872047315961")),
    ("simSerialNumber", "8986011487204731596", ("iccid", "8986011487204731596")),
    ("msisdn", "+8615627394810", ("phone_number", "+8615627394810")),
    ("Mb", "8615627394810", ("phone_number", "8615627394810")),
    ("to", "tel:+49-151-2345-6789", ("phone_number", "+49-151-2345-6789")),
    ("wifi_mac", "a4:5e:60:c2:19:7f", ("mac_address", "a4:5e:60:c2:19:7f")),
    ("anything", "A4-5E-60-C2-19-7F", ("mac_address", "A4-5E-60-C2-19-7F")),
    ("bssid", "a45e60c2197f", ("mac_address", "a45e60c2197f")),
    ("android_id", "9a1c3f0b2d4e6a8c", ("android_id", "9a1c3f0b2d4e6a8c")),
    ("andId", "9A1C3F0B2D4E6A8C", ("android_id", "9A1C3F0B2D4E6A8C")),
    ("gaid", "38400000-8cf0-11bd-b23e-10b96e40000d",
     ("advertising_id", "38400000-8cf0-11bd-b23e-10b96e40000d")),
    ("$.device.advertising_id", "38400000-8cf0-11bd-b23e-10b96e40000d",
     ("advertising_id", "38400000-8cf0-11bd-b23e-10b96e40000d")),
    ("X-IDFA", "38400000-8CF0-11BD-B23E-10B96E40000D",
     ("advertising_id", "38400000-8CF0-11BD-B23E-10B96E40000D")),
    ("u", "jane.doe+news@mail.example.org", ("email", "jane.doe+news@mail.example.org")),
    ("pos", "52.520008,13.404954", ("location", "52.520008,13.404954")),
])
def test_pattern_positives_under_their_key(bare, key, sent, expected):
    assert found(bare, fld(sent, key=key)) == [expected]


@pytest.mark.parametrize("text, expected", [
    ("imei=867203024182738&x=1", ("imei", "867203024182738")),
    ('{"android_id": "9a1c3f0b2d4e6a8c", "v": 2}', ("android_id", "9a1c3f0b2d4e6a8c")),
    ("gps_adid=38400000-8cf0-11bd-b23e-10b96e40000d;", ("advertising_id",
                                                        "38400000-8cf0-11bd-b23e-10b96e40000d")),
    ("msisdn: +8615627394810\n", ("phone_number", "+8615627394810")),
    ("imsi='460013728150946'", ("imsi", "460013728150946")),
])
def test_hints_written_in_unparsed_text(bare, text, expected):
    assert found(bare, fld(text, key="", where="body", chain=())) == [expected]


def test_national_phone_numbers_need_the_profile_region():
    assert found(Detector(None), fld("015123456789", key="phone")) == []
    assert found(Detector(profile(region="DE")), fld("015123456789", key="phone")) == [
        ("phone_number", "015123456789")]


def test_coordinates_under_lat_lon_keys_make_one_location(bare):
    assert found(bare, fld("52.520008", key="lat"), fld("13.404954", key="lng")) == [
        ("location", "52.520008,13.404954")]
    assert found(bare, fld("52.520008", key="lat")) == []
    assert found(bare, fld("lat=52.520&lon=13.404&z=1", key="", chain=())) == [
        ("location", "52.520,13.404")]


@pytest.mark.parametrize("key, sent", [
    ("imei", "000000000000000"), ("imei", "1"), ("imei", "unknown"), ("imsi", "null"),
    ("imei", "004999010640000"), ("imsi", "310260000000000"), ("msisdn", "NA"),
    ("mac", "02:00:00:00:00:00"), ("mac", "00:00:00:00:00:00"), ("mac", "ff:ff:ff:ff:ff:ff"),
    ("gaid", "00000000-0000-0000-0000-000000000000"), ("android_id", "0000000000000000"),
    ("android_id", "9774d56d682e549c"), ("phone", "no access"), ("imei", "111111111111111"),
    ("lat", "0.000"),
])
def test_placeholders_are_never_reported(bare, key, sent):
    assert found(bare, fld(sent, key=key)) == []


ORDER_ID = luhn_complete("20241121000731")  # Luhn-valid, 15 digits, no reporting-body TAC
PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + b"354427063233479" + \
    zlib.compress(b"38400000-8cf0-11bd-b23e-10b96e40000d a4:5e:60:c2:19:7f")


@pytest.mark.parametrize("key, sent", [
    ("order_id", ORDER_ID),
    ("ts", "1732190400123"),  # a millisecond timestamp
    ("request_id", "38400000-8cf0-11bd-b23e-10b96e40000d"),
    ("X-Request-ID", "f47ac10b-58cc-4372-a567-0e02b2c3d479"),
    ("trace_id", "4bf92f3577b34da6"),
    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ("ua", "MIUI/V6.3.12.0.KHHCNBL Build/15627394810 Chrome/86.0.4240.198"),
    ("version", "13.800.1380000"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
    ("crc", "3f8a1c0b"),
    ("data", "dGhpcyBpcyBqdXN0IHJhbmRvbSBiYXNlNjQgZGF0YSAxMjM0NTY3ODkwMTIzNDU2Nzg5MA=="),
    ("img", "icon@2x.png"),
    ("ip", "fe80::1c2a:3bff:fe4d:5e6f"),
    ("count", "15627394810"),  # a phone-like run with no phone key
    ("pos", "540.123,960.456"),  # screen coordinates, out of range
    ("file", PNG),
    ("payload", "9f3e354427063233479ab0c4d2"),  # IMEI-shaped digits inside a hex token
])
def test_decoys_are_not_reported(bare, key, sent):
    assert found(bare, fld(sent, key=key, where="body")) == []


def test_pattern_match_of_a_known_value_gives_way_to_the_known_one():
    detector = Detector(profile(imei=(IMEI,)))
    observations = observe(detector, fld(IMEI, key="imei"), fld(IMEI[:14], key="imei"))
    assert [(o.match, o.encodings[-1]) for o in observations] == [("known", "plain"),
                                                                   ("known", "plain")]


def test_pattern_mode_off():
    assert observe(Detector(None, pattern_mode=False), fld("354427063233479")) == []


@pytest.mark.parametrize("key, normalised", [
    ("$.device.android_id", "androidid"), ("X-Device-IMEI", "xdeviceimei"),
    ("$.contacts[3].phone", "phone"), ("pb:3.1", ""), ("gps_adid", "gpsadid")])
def test_key_normalisation(key, normalised):
    assert normalise_key(key) == normalised


def test_local_key_reads_the_key_before_a_value():
    text = b'{"user": {"msisdn" : "+86'
    assert local_key(text, len(text) - 3) == "msisdn"
    assert local_key(b"a b 123", 4) == ""


def test_key_hints_file_errors(tmp_path):
    path = tmp_path / "hints.yaml"
    path.write_text("hints:\n  imie: {exact: [x]}\n")
    with pytest.raises(InputError, match="unknown hint kind 'imie'"):
        load_key_hints(str(path))
    path.write_text("hints: [\n")
    with pytest.raises(InputError, match=r"hints.yaml:2: not valid YAML"):
        load_key_hints(str(path))


def test_edited_hints_teach_a_new_key(tmp_path):
    path = tmp_path / "hints.yaml"
    path.write_text("hints:\n  android_id: {exact: [zzid]}\n")
    detector = Detector(None, key_hints_path=str(path))
    assert found(detector, fld("9a1c3f0b2d4e6a8c", key="zzid")) == [
        ("android_id", "9a1c3f0b2d4e6a8c")]
    assert found(detector, fld("9a1c3f0b2d4e6a8c", key="android_id")) == []


def test_a_key_names_its_value_not_every_number_in_a_long_text(bare):
    text = '{"events": [' + ", ".join(f'{{"n": {i}}}' for i in range(12)) + \
        '], "order": 867203024182738}'
    assert len(text) > 64
    assert found(bare, fld(text, key="imei", where="body")) == []
    assert found(bare, fld("867203024182738", key="imei", where="body")) == [
        ("imei", "867203024182738")]


def test_national_number_is_read_in_the_country_of_earlier_international_ones():
    detector = Detector(None)
    # before any evidence: no region, no reading; a bare `86...` read as international
    # (the key says phone) is no evidence, as random digits read so are valid somewhere
    assert found(detector, fld("18611730452", key="mobile")) == []
    assert found(detector, fld("8618611730452", key="msisdn")) == [
        ("phone_number", "8618611730452")]
    assert found(detector, fld("18611730452", key="mobile")) == []
    assert found(detector, fld("0086 186 1173 0452", key="msisdn")) == [
        ("phone_number", "0086 186 1173 0452")]
    observations = observe(detector, fld("18611730452", key="mobile"))
    assert [(o.value, o.confidence) for o in observations] == [("18611730452", 0.95)]
    assert "+8618611730452 (read in CN" in observations[0].detail
    # only mobile numbers are read so: `1061234567` would be a Beijing landline
    assert found(detector, fld("1061234567", key="tel")) == []
    # in the same upload, after the international spelling
    fresh = Detector(None)
    assert found(fresh, fld("msisdn=+8618611730452&mobile=18611730452", key="", chain=()),
                 fld("+8618611730452", key="msisdn"), fld("18611730452", key="mobile")) == [
        ("phone_number", "+8618611730452"), ("phone_number", "18611730452")]


def test_region_evidence_never_overrides_the_profile_region():
    detector = Detector(profile(region="DE"))
    observe(detector, fld("+8618611730452", key="msisdn"))
    assert found(detector, fld("015123456789", key="phone")) == [
        ("phone_number", "015123456789")]
    assert "read in" not in observe(detector, fld("015123456789", key="phone"))[0].detail


@pytest.mark.parametrize("text", [
    'Authorization: Digest username="460011857302946@ims.mnc001.mcc460.3gppnetwork.org"',
    "P-Associated-URI: <sip:+8615627394810@ims.example.net>",
    'REGISTER sip:ims.example SIP/2.0\r\nAuthorization: Digest username="8613812345678@x.cn"',
    "From: <sips:alice@atlanta.example.com>",
])
def test_sip_and_ims_addresses_are_not_email(bare, text):
    assert [t for t, _ in found(bare, fld(text, key="", where="tcp", chain=()))
            if t == "email"] == []


def test_a_digit_user_outside_sip_text_is_still_email(bare):
    assert found(bare, fld("13812345678@qq.com", key="contact")) == [
        ("email", "13812345678@qq.com")]


IMEI_SHAPED_ORDER = "452816476602141"  # Luhn-valid, reporting-body TAC 45: IMEI-shaped


@pytest.mark.parametrize("key, sent", [
    ("$.orders[0].id", IMEI_SHAPED_ORDER), ("order_no", IMEI_SHAPED_ORDER),
    ("invoiceId", IMEI_SHAPED_ORDER), ("", f'{{"orders": [{{"id": {IMEI_SHAPED_ORDER}}}]}}'),
    ("", f"trade_no={IMEI_SHAPED_ORDER}&amount=8.5"),
])
def test_identifier_shapes_under_order_keys_are_not_reported(bare, key, sent):
    assert found(bare, fld(sent, key=key, where="body")) == []


@pytest.mark.parametrize("key, sent", [
    ("other", IMEI_SHAPED_ORDER),  # no key either way: the shape alone speaks
    ("$.device.imei", IMEI_SHAPED_ORDER), ("order_imei", IMEI_SHAPED_ORDER),  # IMEI key wins
    ("", f'{{"id": 1, "imei": {IMEI_SHAPED_ORDER}}}'),
])
def test_identifier_shapes_elsewhere_are(bare, key, sent):
    assert found(bare, fld(sent, key=key, where="body")) == [("imei", IMEI_SHAPED_ORDER)]


def test_location_is_placed_at_its_query_field_not_the_whole_url(bare):
    url = "http://push.example/v1?lat=52.52003&lon=13.40495"
    observations = observe(bare, fld(url, key="", where="url", chain=("percent",)),
                           fld("52.52003", key="lat", where="query"),
                           fld("13.40495", key="lon", where="query"))
    assert [(o.data_type, o.where, o.key, o.value) for o in observations] == [
        ("location", "query", "lat", "52.52003,13.40495")]


def test_other_numbers_section_is_checked(tmp_path):
    path = tmp_path / "hints.yaml"
    path.write_text("other_numbers: {exact: [id], prefix: [x]}\n")
    with pytest.raises(InputError, match="other_numbers takes only 'exact' and 'contains'"):
        load_key_hints(str(path))
    path.write_text("other_numbers: {contains: [ticket]}\n")
    detector = Detector(None, key_hints_path=str(path))
    assert found(detector, fld(IMEI_SHAPED_ORDER, key="ticket_no")) == []
    assert found(detector, fld(IMEI_SHAPED_ORDER, key="order_no")) == [
        ("imei", IMEI_SHAPED_ORDER)]

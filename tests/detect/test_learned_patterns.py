"""Pattern mode learning from keys and values together (issue 15 point 4): national-form
numbers under account-id keys read in the capture's likely region, Android-ID-shaped and
hashed identifiers under device-id keys, the receiver's own e-mail addresses, the called
party of a SIP request. Each decision says why in `detail`, with a confidence."""

from __future__ import annotations

import hashlib

import pytest
from detect_helpers import exchange, fld, profile

from auditor.detect import Detector
from auditor.detect.patterns import classify_digits


def seen(detector: Detector, *fields, **changes) -> list[tuple[str, str, float, str]]:
    return sorted((o.data_type, o.value, o.confidence, o.detail)
                  for o in detector.observe(exchange(**changes), fields))


def test_national_number_under_an_account_key_needs_a_region() -> None:
    detector = Detector(None)
    assert seen(detector, fld("015209384712", key="userid")) == []  # no region yet
    # the phone's DNS names its network (the ePDG of MCC 262)
    seen(detector, fld("epdg.epc.mnc001.mcc262.pub.3gppnetwork.org", key="", where="dns"),
         host="epdg.epc.mnc001.mcc262.pub.3gppnetwork.org", transport="dns")
    [(kind, value, confidence, detail)] = seen(detector, fld("015209384712", key="userid"))
    assert (kind, value, confidence) == ("phone_number", "015209384712", 0.75)
    assert detail == ("mobile number of DE (+4915209384712) in national form with trunk "
                      "prefix 0, under an account-id key; region from MCC 262 in "
                      "epdg.epc.mnc001.mcc262.pub.3gppnetwork.org")
    [found] = seen(detector, fld("4915209384712", key="account"))
    assert found[2] == 0.7 and "international form without +" in found[3]


@pytest.mark.parametrize("key, sent", [
    ("userid", "20240601123"),  # an order-like number: no valid mobile number of DE
    ("uid", "48213377"),  # a valid DE landline shape at most: only mobiles are read so
    ("user_id", "7730019925"),
    ("order_no", "015209384712"),  # a mobile number's shape under no account key
])
def test_order_numbers_under_account_keys_stay_quiet(key, sent) -> None:
    detector = Detector(None)
    seen(detector, fld("262", key="mcc"))  # the network's MCC is known: DE
    assert seen(detector, fld(sent, key=key)) == []


def test_region_sources_in_order() -> None:
    detector = Detector(profile(region="CN"))
    seen(detector, fld("26201", key="simOperator"))
    [found] = seen(detector, fld("18611730452", key="user_id"))
    assert "region from the device profile's region" in found[3] and found[2] == 0.7
    other = Detector(None)
    seen(other, fld("x", key="q"), host="touch.10086.cn")  # a carrier's host
    [found] = seen(other, fld("18611730452", key="user_id"))
    assert found[3].endswith("region from the carrier host touch.10086.cn")
    seen(other, fld("26201", key="simOperator"))  # an MCC is the more specific
    [found] = seen(other, fld("015209384712", key="user_id"))
    assert found[3].endswith("region from MCC 262 under the key `simOperator`")


def test_hex_identifiers_under_device_id_keys() -> None:
    detector = Detector(None)
    android_id = "5e1b7c93a04d2f86"
    digests = {size: hashlib.new(name, b"353918062719402").hexdigest()
               for size, name in ((32, "md5"), (40, "sha1"), (64, "sha256"))}
    assert seen(detector, fld(android_id, key="$.xg_device_id", where="body")) == [
        ("android_id", android_id, 0.75,
         "16 hex digits, the shape of an Android ID, under a device-id key")]
    for size, digest in digests.items():
        [found] = seen(detector, fld(digest, key="distinct_id", where="body"))
        assert found[:3] == ("hashed_id", digest, 0.7)
        assert found[3].startswith(f"{size} hex digits, the size of a ")
        assert found[3].endswith("a hashed identifier whose pre-image is unknown")


@pytest.mark.parametrize("key, sent", [
    ("trace_id", "9f86d081884c7d65"),  # 16 hex under a tracing key
    ("x-b3-traceid", "9f86d081884c7d65"),
    ("path[1]", "3f2a9c1b7e4d5a6f8b0c1d2e3f4a5b6c"),  # a content hash in a path
    ("etag", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    ("did", "3141592653589793"),  # all digits: a number, not a hex id (nor an IMEISV)
    ("device_id", "deadbeefcafebabe" * 5),  # 80 hex: no digest is that long
])
def test_hex_decoys_stay_quiet(key, sent) -> None:
    assert seen(Detector(None), fld(sent, key=key)) == []


def test_imeisv_and_14_digit_imei_need_a_reporting_body() -> None:
    assert classify_digits("3141592653589793", frozenset({"imei"})) is None
    assert classify_digits("3539180627194002", frozenset({"imei"}))[0] == "imei"


def test_the_receivers_own_address_is_not_the_users() -> None:
    detector = Detector(None)
    body = fld("reply_to=support@phonevendor.example&cc=x@help.phonevendor.example",
               key="", where="body")
    assert seen(detector, body, host="feedback.phonevendor.example") == []
    assert {found[3] for found in seen(detector, body, host="api.other.example")} == {
        "e-mail address; its domain is not the receiver's (api.other.example)"}
    # a mailbox provider's user sent to the provider is still the user's
    assert seen(detector, fld("li.wei@gmail.com", key="email"), host="accounts.gmail.com") \
        == [("email", "li.wei@gmail.com", 0.9, "e-mail address at a mailbox provider")]


def test_the_called_party_of_a_sip_request_is_not_the_phones_number() -> None:
    detector = Detector(None)
    fields = (fld("tel:+4930901820", key="", where="url"),
              fld("<tel:+4930901820>", key="to", where="header"),
              fld("<sip:+4915209384712@ims.example>;tag=1", key="from", where="header"))
    assert [v for _, v, _, _ in seen(detector, *fields, transport="sip", method="INVITE")] \
        == ["+4915209384712"]
    # a REGISTER's To is the phone's own address of record
    assert len(seen(detector, *fields, transport="sip", method="REGISTER")) == 3


def test_an_ims_private_identity_names_its_imsi() -> None:
    header = fld('Digest username="262017305528061@ims.mnc001.mcc262.3gppnetwork.org",'
                 'realm="ims.mnc001.mcc262.3gppnetwork.org"', key="authorization",
                 where="header")
    assert seen(Detector(None), header) == [
        ("imsi", "262017305528061", 0.9,
         "IMSI as the user of an IMS identity (user@...3gppnetwork.org)")]
    # 15 digits at another domain are no IMSI by their place alone (an e-mail address)
    assert [kind for kind, *_ in seen(Detector(None), fld("262017305528061@example.org",
                                                          key="user"))] == ["email"]

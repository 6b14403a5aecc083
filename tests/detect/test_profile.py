"""device.yaml loading: every key optional, values read as typed, errors with file:line."""

from __future__ import annotations

import pytest
from detect_helpers import DEVICE_YAML

from auditor.detect.profile import Contact, DeviceProfile, load_profile
from auditor.model import InputError


def write(tmp_path, text: str) -> str:
    path = tmp_path / "device.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_design_example_loads_completely():
    p = load_profile(str(DEVICE_YAML))
    assert p.imei == ("867203024182737", "867203024182810")
    assert p.imsi == ("460013728150946",)
    assert p.phone_number == ("+8615627394810",)
    assert p.region == "CN" and p.vendor == "Xiaomi"
    assert p.contacts == (Contact("Anna Schmidt", "+49 151 2345 6789"),)
    assert p.sms == ("Hallo Anna, wir treffen uns morgen um 19 Uhr.",)
    assert (p.location.lat, p.location.lon) == (39.98312, 116.30745)
    assert p.identifiers()["mac_address"] == ("64:09:80:3a:5c:7e",)
    assert set(p.identifiers()) >= {"imei", "imsi", "contacts", "sms", "location"}


@pytest.mark.parametrize("line, key, expected", [
    # YAML 1.1 reads these as 45296 * 3600 + ..., 83 (octal) and 100000.0
    ("mac_address: 12:34:56:12:34:56", "mac_address", ("12:34:56:12:34:56",)),
    ("serial_number: 0123", "serial_number", ("0123",)),
    ("serial_number: 1e5", "serial_number", ("1e5",)),
    ("serial_number: 0x1F", "serial_number", ("0x1F",)),
    ("serial_number: no", "serial_number", ("no",)),
    ("imsi: 001010123456789", "imsi", ("001010123456789",)),
    ("imei: [0123456789012345, 867203024182737]", "imei",
     ("0123456789012345", "867203024182737")),
    ("android_id: 0000ab12cd34ef56", "android_id", ("0000ab12cd34ef56",)),
])
def test_unquoted_values_are_read_as_typed(tmp_path, line, key, expected):
    assert getattr(load_profile(write(tmp_path, line + "\n")), key) == expected


def test_every_key_is_optional(tmp_path):
    assert load_profile(write(tmp_path, "")) == DeviceProfile(source_path=str(tmp_path /
                                                                             "device.yaml"))
    assert load_profile(write(tmp_path, "imei: '867203024182737'\n")).imsi == ()


@pytest.mark.parametrize("text, message", [
    ("name: x\nimie: '867203024182737'\n", ":2: unknown key 'imie' (did you mean 'imei'?)"),
    ("name: x\nimei: '12345'\n", ":2: imei '12345' is not 14-16 digits"),
    ("region: CN\n\nphone_number: '12'\n", ":3: phone number '12'"),
    ("region: XX\n", ":1: region 'XX' is not a two-letter region code"),
    ("location: {lat: 91.5, lon: 10}\n", ":1: lat '91.5' is not a number between -90 and 90"),
    ("location: {lat: 1.5}\n", ":1: location needs both lat and lon"),
    ("contacts:\n  - {name: A, fone: '+4915123456789'}\n",
     ":2: unknown key 'fone' (did you mean 'phone'?)"),
    ("imei: ['867203024182737'\n", ":2: not valid YAML"),
    ("imei:\n", ":1: 'imei' is empty"),
    ("mac_address: 'zz:34:56:12:34:56'\n", ":1: mac_address 'zz:34:56:12:34:56' is not 6 hex"),
    ("email: nobody\n", ":1: email 'nobody' has no '@'"),
    ("- just a list\n", ":1: a device profile must be a mapping"),
    ("imei: {a: 1}\n", ":1: 'imei' must be a single value here"),
])
def test_bad_profiles_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as error:
        load_profile(path)
    assert str(error.value).startswith(path + ":")
    assert message in str(error.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such device profile"):
        load_profile(str(tmp_path / "nope.yaml"))


def test_national_number_needs_region(tmp_path):
    with pytest.raises(InputError, match="give 'region'"):
        load_profile(write(tmp_path, "phone_number: '015123456789'\n"))
    p = load_profile(write(tmp_path, "region: de\nphone_number: '015123456789'\n"))
    assert p.region == "DE" and p.phone_number == ("015123456789",)

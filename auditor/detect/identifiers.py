"""Checks on the shape of identifiers: Luhn, IMEI reporting bodies, MCCs, ICCID prefixes."""

from __future__ import annotations

import phonenumbers

#: First two digits of a TAC: the GSMA reporting bodies that allocate IMEIs.
REPORTING_BODIES = frozenset({"01", "10", "30", "33", "35", "44", "45", "49", "50", "51", "52",
                              "53", "54", "86", "91", "98", "99"})

#: Mobile country codes in use (ITU-T E.212 list). An IMSI starts with one of them.
MCCS = frozenset(["202", "204", "206", "208", "212", "213", "214", "216", "218", "219", "220", "221", "222", "225", "226", "228", "230", "231", "232", "234", "235", "238", "240", "242", "244", "246", "247", "248", "250", "255", "257", "259", "260", "262", "266", "268", "270", "272", "274", "276", "278", "280", "282", "283", "284", "286", "288", "289", "290", "292", "293", "294", "295", "297", "302", "308", "310", "311", "312", "313", "314", "315", "316", "330", "334", "338", "340", "342", "344", "346", "348", "350", "352", "354", "356", "358", "360", "362", "363", "364", "365", "366", "368", "370", "372", "374", "376", "400", "401", "402", "404", "405", "406", "410", "412", "413", "414", "415", "416", "417", "418", "419", "420", "421", "422", "424", "425", "426", "427", "428", "429", "430", "431", "432", "434", "436", "437", "438", "440", "441", "450", "452", "454", "455", "456", "457", "460", "461", "466", "467", "470", "472", "502", "505", "510", "514", "515", "520", "525", "528", "530", "536", "537", "539", "540", "541", "542", "543", "544", "545", "546", "547", "548", "549", "550", "551", "552", "553", "554", "555", "602", "603", "604", "605", "606", "607", "608", "609", "610", "611", "612", "613", "614", "615", "616", "617", "618", "619", "620", "621", "622", "623", "624", "625", "626", "627", "628", "629", "630", "631", "632", "633", "634", "635", "636", "637", "638", "639", "640", "641", "642", "643", "645", "646", "647", "648", "649", "650", "651", "652", "653", "654", "655", "657", "658", "659", "702", "704", "706", "708", "710", "712", "714", "716", "722", "724", "730", "732", "734", "736", "738", "740", "742", "744", "746", "748", "750", "901"])


def luhn_valid(digits: str) -> bool:
    """The Luhn check digit test used by IMEIs and ICCIDs."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def plausible_imei(digits: str) -> bool:
    """15 digits, Luhn-valid, with a TAC from a real reporting body."""
    return len(digits) == 15 and digits[:2] in REPORTING_BODIES and luhn_valid(digits)


def plausible_imsi(digits: str) -> bool:
    """14-15 digits starting with an assigned MCC (the MNC is not checked)."""
    return 14 <= len(digits) <= 15 and digits[:3] in MCCS


def plausible_iccid(digits: str) -> bool:
    """`89` (telecom) + an E.164 country code, 19-20 digits, Luhn-valid."""
    if not (19 <= len(digits) <= 20 and digits.startswith("89") and luhn_valid(digits)):
        return False
    # North American ICCIDs write country code 1 as "01"
    return digits[2:4] == "01" or any(
        int(digits[2:2 + width]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        for width in (1, 2, 3) if digits[2] != "0")

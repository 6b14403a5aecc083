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


#: The country (ISO 3166 alpha-2, as phonenumbers names regions) of each mobile country
#: code (ITU-T E.212), to read national-form numbers in the country of the SIM or network.
MCC_REGIONS = {
    "202": "GR", "204": "NL", "206": "BE", "208": "FR", "212": "MC", "213": "AD", "214": "ES",
    "216": "HU", "218": "BA", "219": "HR", "220": "RS", "221": "XK", "222": "IT", "225": "VA",
    "226": "RO", "228": "CH", "230": "CZ", "231": "SK", "232": "AT", "234": "GB", "235": "GB",
    "238": "DK", "240": "SE", "242": "NO", "244": "FI", "246": "LT", "247": "LV", "248": "EE",
    "250": "RU", "255": "UA", "257": "BY", "259": "MD", "260": "PL", "262": "DE", "266": "GI",
    "268": "PT", "270": "LU", "272": "IE", "274": "IS", "276": "AL", "278": "MT", "280": "CY",
    "282": "GE", "283": "AM", "284": "BG", "286": "TR", "288": "FO", "289": "GE", "290": "GL",
    "292": "SM", "293": "SI", "294": "MK", "295": "LI", "297": "ME", "302": "CA", "308": "PM",
    "310": "US", "311": "US", "312": "US", "313": "US", "314": "US", "315": "US", "316": "US",
    "330": "PR", "334": "MX", "338": "JM", "340": "GP", "342": "BB", "344": "AG", "346": "KY",
    "348": "VG", "350": "BM", "352": "GD", "354": "MS", "356": "KN", "358": "LC", "360": "VC",
    "362": "CW", "363": "AW", "364": "BS", "365": "AI", "366": "DM", "368": "CU", "370": "DO",
    "372": "HT", "374": "TT", "376": "TC", "400": "AZ", "401": "KZ", "402": "BT", "404": "IN",
    "405": "IN", "406": "IN", "410": "PK", "412": "AF", "413": "LK", "414": "MM", "415": "LB",
    "416": "JO", "417": "SY", "418": "IQ", "419": "KW", "420": "SA", "421": "YE", "422": "OM",
    "424": "AE", "425": "IL", "426": "BH", "427": "QA", "428": "MN", "429": "NP", "430": "AE",
    "431": "AE", "432": "IR", "434": "UZ", "436": "TJ", "437": "KG", "438": "TM", "440": "JP",
    "441": "JP", "450": "KR", "452": "VN", "454": "HK", "455": "MO", "456": "KH", "457": "LA",
    "460": "CN", "461": "CN", "466": "TW", "467": "KP", "470": "BD", "472": "MV", "502": "MY",
    "505": "AU", "510": "ID", "514": "TL", "515": "PH", "520": "TH", "525": "SG", "528": "BN",
    "530": "NZ", "536": "NR", "537": "PG", "539": "TO", "540": "SB", "541": "VU", "542": "FJ",
    "543": "WF", "544": "AS", "545": "KI", "546": "NC", "547": "PF", "548": "CK", "549": "WS",
    "550": "FM", "551": "MH", "552": "PW", "553": "TV", "554": "TK", "555": "NU", "602": "EG",
    "603": "DZ", "604": "MA", "605": "TN", "606": "LY", "607": "GM", "608": "SN", "609": "MR",
    "610": "ML", "611": "GN", "612": "CI", "613": "BF", "614": "NE", "615": "TG", "616": "BJ",
    "617": "MU", "618": "LR", "619": "SL", "620": "GH", "621": "NG", "622": "TD", "623": "CF",
    "624": "CM", "625": "CV", "626": "ST", "627": "GQ", "628": "GA", "629": "CG", "630": "CD",
    "631": "AO", "632": "GW", "633": "SC", "634": "SD", "635": "RW", "636": "ET", "637": "SO",
    "638": "DJ", "639": "KE", "640": "TZ", "641": "UG", "642": "BI", "643": "MZ", "645": "ZM",
    "646": "MG", "647": "RE", "648": "ZW", "649": "NA", "650": "MW", "651": "LS", "652": "BW",
    "653": "SZ", "654": "KM", "655": "ZA", "657": "ER", "658": "SH", "659": "SS", "702": "BZ",
    "704": "GT", "706": "SV", "708": "HN", "710": "NI", "712": "CR", "714": "PA", "716": "PE",
    "722": "AR", "724": "BR", "730": "CL", "732": "CO", "734": "VE", "736": "BO", "738": "GY",
    "740": "EC", "742": "GF", "744": "PY", "746": "SR", "748": "UY", "750": "FK",
}

#: Registrable domains of mobile operators and the country each serves: a phone that talks
#: to its carrier's host tells the capture's region (for reading national numbers).
CARRIER_DOMAINS = {
    "10086.cn": "CN", "chinamobile.com": "CN", "189.cn": "CN", "chinatelecom.com.cn": "CN",
    "10010.com": "CN", "chinaunicom.com": "CN", "telekom.de": "DE", "vodafone.de": "DE",
    "o2online.de": "DE", "vodafone.co.uk": "GB", "ee.co.uk": "GB", "three.co.uk": "GB",
    "o2.co.uk": "GB", "orange.fr": "FR", "sfr.fr": "FR", "bouyguestelecom.fr": "FR",
    "tim.it": "IT", "vodafone.it": "IT", "windtre.it": "IT", "movistar.es": "ES",
    "vodafone.es": "ES", "verizon.com": "US", "att.com": "US", "t-mobile.com": "US",
    "jio.com": "IN", "airtel.in": "IN", "nttdocomo.co.jp": "JP", "docomo.ne.jp": "JP",
    "softbank.jp": "JP", "kddi.com": "JP", "sktelecom.com": "KR", "mts.ru": "RU",
    "beeline.ru": "RU", "megafon.ru": "RU", "telstra.com.au": "AU", "optus.com.au": "AU",
}

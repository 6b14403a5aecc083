"""Country codes a rule may name, and the named groups `EU` and `EEA`."""

from __future__ import annotations

#: ISO 3166-1 alpha-2 codes, plus `XK` (Kosovo), which geolocation databases use.
_ISO_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
VN VU WF WS YE YT ZA ZM ZW XK
"""
ISO_COUNTRIES = frozenset(_ISO_CODES.split())

#: The 27 member states of the European Union (since 1 February 2020).
_EU_CODES = "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE HU"
EU = frozenset(_EU_CODES.split())
#: The European Economic Area: the EU plus Iceland, Liechtenstein and Norway.
EEA = EU | {"IS", "LI", "NO"}

COUNTRY_GROUPS: dict[str, frozenset[str]] = {"EU": EU, "EEA": EEA}


def expand_countries(names: list[str]) -> frozenset[str]:
    """Country codes and group names (already validated) as a set of ISO codes."""
    out: set[str] = set()
    for name in names:
        out.update(COUNTRY_GROUPS.get(name.upper(), {name.upper()}))
    return frozenset(out)

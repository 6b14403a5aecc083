"""Small hand-written audit results for the report tests.

The engine's AuditResult, DeviceProfile, PolicySet and Destination are model objects; these
stand-ins carry the same attributes so the renderers are tested on their own. The sample
follows the 2014 RedMi 1S case: identifiers and a contact's number to api.account.xiaomi.com
before opt-in, one unreadable TLS upload, opt-in at +41 s, a hashed number after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from auditor.model import Exchange, Finding, InputInfo, Observation, Severity

T0 = 1406887200.0  # 2014-08-01T10:00:00Z

IMEI = "867203024182737"
IMSI = "460013728150946"
PHONE = "+8615627394810"
CONTACT_PHONE = "+49 151 2345 6789"
CONTACT_NAME = "Anna Schmidt"
GAID = "0f2a8c71-04d8-4f3a-9a6e-d21c7f08b3e5"
GAP_WARNING = ("packet 77: TCP gap of 1460 bytes in 192.168.1.23:40002 → 42.62.48.210:80; "
               "the rest of that stream was skipped")


@dataclass
class Rule:
    id: str
    title: str
    severity: Severity
    description: str = ""
    references: tuple[str, ...] = ()
    policy_file: str = "rules/xiaomi-2014.yaml"


@dataclass
class PolicySet:
    rules: list[Rule]
    files: list[str]


@dataclass
class Destination:
    ip: str
    country: str
    scope: str
    asn: int | None
    as_name: str
    organisation: str
    party: str


@dataclass
class Contact:
    name: str
    phone: str


@dataclass
class Location:
    lat: float
    lon: float


@dataclass
class Profile:
    name: str = "RedMi 1S test unit"
    region: str = "CN"
    vendor: str = "Xiaomi"
    imei: tuple[str, ...] = (IMEI,)
    imsi: tuple[str, ...] = (IMSI,)
    iccid: tuple[str, ...] = ("89860114872047315961",)
    phone_number: tuple[str, ...] = (PHONE,)
    android_id: tuple[str, ...] = ()
    advertising_id: tuple[str, ...] = ()
    mac_address: tuple[str, ...] = ("64:09:80:3a:5c:7e",)
    serial_number: tuple[str, ...] = ()
    email: tuple[str, ...] = ("someone@example.com",)
    contacts: tuple[Contact, ...] = (Contact(CONTACT_NAME, CONTACT_PHONE),)
    sms: tuple[str, ...] = ("Hallo Anna, wir treffen uns morgen um 19 Uhr.",)
    location: Location | None = field(default_factory=lambda: Location(39.98312, 116.30745))
    source_path: str = "captures/redmi-1s-2014/device.yaml"

    def identifiers(self) -> dict[str, tuple[str, ...]]:
        """As DeviceProfile.identifiers(): identifiers, then canary content as text."""
        names = ("imei", "imsi", "iccid", "phone_number", "android_id", "advertising_id",
                 "mac_address", "serial_number", "email")
        out = {n: getattr(self, n) for n in names if getattr(self, n)}
        out["contacts"] = tuple(f"{c.name} {c.phone}" for c in self.contacts)
        out["sms"] = self.sms
        if self.location:
            out["location"] = (f"{self.location.lat},{self.location.lon}",)
        return out


@dataclass
class Result:
    """The attributes of auditor.engine.AuditResult that reports read."""

    inputs: list[InputInfo]
    exchanges: list[Exchange]
    observations: list[Observation]
    findings: list[Finding]
    opt_in_at: float | None
    opt_in_source: str
    profile: Profile | None
    policies: PolicySet
    destinations: dict[int, Destination] = field(default_factory=dict)
    tool: dict[str, str] = field(default_factory=lambda: {"name": "handset-auditor",
                                                          "version": "0.1.0"})
    geo_data: str = "geoip2fast 1.2.2 (data of 2024-05-07)"
    suppressed: list[Finding] = field(default_factory=list)
    generated_at: float = T0 + 3600

    @property
    def start_time(self) -> float | None:
        times = [e.time for e in self.exchanges]
        return min(times) if times else None

    def exchange(self, exchange_id: int) -> Exchange:
        return self.exchanges[exchange_id - 1]


RULES = [
    Rule("no-content-before-opt-in", "Address book, SMS or location leave before opt-in",
         Severity.CRITICAL, "Contacts and messages are other people's data too.",
         ("https://www.f-secure.com/weblog/archives/00002731.html",)),
    Rule("no-identifiers-before-opt-in", "Handset identifiers leave the phone before opt-in",
         Severity.HIGH, "Identifiers sent before consent cannot be taken back.",
         ("https://www.f-secure.com/weblog/archives/00002731.html",)),
    Rule("no-pattern-advertising-id", "Something that looks like an advertising ID is sent",
         Severity.LOW, "Advertising IDs link app use across apps."),
    Rule("no-cleartext-location", "Location over clear text", Severity.MEDIUM,
         "Anyone on the path can read it."),
]

CN = Destination("42.62.48.210", "CN", "public", 4808, "China Unicom Beijing Province Network",
                 "Xiaomi", "first")
LAN = Destination("192.168.1.1", "", "private", None, "", "", "")


def _exchange(i: int, dt: float, **kw) -> Exchange:
    base = Exchange(id=i, time=T0 + dt, client="192.168.1.23:40000", server="42.62.48.210:80",
                    host="api.account.xiaomi.com", transport="http", server_ip="42.62.48.210",
                    source=f"captures/redmi-1s-2014/capture.pcap#pkt {i * 10}", bytes_up=400,
                    bytes_down=200, status=200, frames=(i * 10, i * 10 + 2))
    return replace(base, **kw)


def sample_result(**overrides) -> Result:
    exchanges = [
        _exchange(1, 0.0, host="api.account.xiaomi.com", transport="dns", method="QUERY",
                  url="dns:api.account.xiaomi.com", server="192.168.1.1:53",
                  server_ip="192.168.1.1", bytes_up=52, status=None),
        _exchange(2, 0.4, method="POST",
                  url=f"http://api.account.xiaomi.com/pass/v3/register?imei={IMEI}"
                      f"&phone=%2B8615627394810&gaid={GAID}",
                  headers=(("Host", "api.account.xiaomi.com"),
                           ("User-Agent", "MIUI/V5.6.2.0 (RedMi 1S)"),
                           ("Content-Type", "application/json"))),
        _exchange(3, 5.0, host="data.mistat.xiaomi.com", transport="tls", readable=False,
                  server="42.62.48.211:443", server_ip="42.62.48.211", bytes_up=1800),
        _exchange(4, 12.0, method="POST", url="http://api.account.xiaomi.com/mic/contacts",
                  headers=(("Host", "api.account.xiaomi.com"),)),
        _exchange(5, 41.0, method="POST", transport="https", decrypted=True,
                  url="https://api.account.xiaomi.com/v1/consent", server="42.62.48.210:443"),
        _exchange(6, 50.0, method="POST", transport="https", decrypted=True,
                  url="https://api.account.xiaomi.com/mic/status", server="42.62.48.210:443"),
    ]
    observations = [
        Observation(2, "imei", "query", "imei", ("query:imei", "plain"), "known", IMEI,
                    excerpt=f"register?imei={IMEI}&phone="),
        Observation(2, "phone_number", "query", "phone", ("query:phone", "percent", "plain"),
                    "known", PHONE, excerpt="&phone=+8615627394810&gaid"),
        Observation(2, "imsi", "body", "$.sim.imsi", ("json:$.sim.imsi", "plain"), "known", IMSI,
                    excerpt=f'{{"sim": {{"imsi": "{IMSI}", "op": "CMCC"}}}}'),
        Observation(2, "advertising_id", "query", "gaid", ("query:gaid", "plain"), "pattern",
                    GAID, confidence=0.7, excerpt=f"gaid={GAID}"),
        Observation(4, "contacts", "body", "$.contacts[0].tel", ("json:$.contacts[0].tel",
                    "phone:e164"), "known", CONTACT_PHONE, excerpt='"tel": "+4915123456789"',
                    detail=f"contact: {CONTACT_NAME}"),
        Observation(6, "phone_number", "body", "$.h", ("json:$.h", "sha256"), "known", PHONE,
                    hashed=True, excerpt='"h": "5e88489..."', detail="sha256 of E.164 spelling"),
    ]
    findings = [
        Finding("F1", "no-identifiers-before-opt-in", Severity.HIGH, RULES[1].title,
                "api.account.xiaomi.com", ("imei", "imsi", "phone_number"), (2,),
                tuple(observations[:3]), T0 + 0.4, "before-opt-in", RULES[1].description,
                RULES[1].references, RULES[1].policy_file, "fp-identifiers-xiaomi"),
        Finding("F2", "no-content-before-opt-in", Severity.CRITICAL, RULES[0].title,
                "api.account.xiaomi.com", ("contacts",), (4,), (observations[4],), T0 + 12.0,
                "before-opt-in", RULES[0].description, RULES[0].references,
                RULES[0].policy_file, "fp-content-xiaomi"),
        Finding("F3", "no-pattern-advertising-id", Severity.LOW, RULES[2].title,
                "api.account.xiaomi.com", ("advertising_id",), (2,), (observations[3],),
                T0 + 0.4, "before-opt-in", RULES[2].description),
    ]
    inputs = [InputInfo(path="captures/redmi-1s-2014/capture.pcap", kind="pcap", packets=120,
                        exchanges=6, size=48213, sha256="ab" * 32, first_time=T0,
                        last_time=T0 + 60.0,
                        warnings=[GAP_WARNING])]
    destinations = {e.id: (LAN if e.id == 1 else CN) for e in exchanges}
    result = Result(inputs=inputs, exchanges=exchanges, observations=observations,
                    findings=findings, opt_in_at=T0 + 41.0,
                    opt_in_source="policy consent: POST https://api.account.xiaomi.com/v1/consent",
                    profile=Profile(), policies=PolicySet(RULES, ["rules/xiaomi-2014.yaml"]),
                    destinations=destinations)
    return replace(result, **overrides)


def empty_result() -> Result:
    return Result(inputs=[InputInfo(path="empty.pcap", kind="pcap", size=24,
                                    sha256="cd" * 32)],
                  exchanges=[], observations=[], findings=[], opt_in_at=None,
                  opt_in_source="none", profile=None, policies=PolicySet(RULES, ["rules"]))

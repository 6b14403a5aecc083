"""The few records every part of the engine speaks.

sources/ make `Exchange`s, decode/ turns them into `Field`s, detect/ finds `Observation`s in
fields, judge/ turns observations into `Finding`s, report/ renders an `AuditResult`.
All records are frozen: once a stage has produced one, no later stage changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

# --- vocabulary -------------------------------------------------------------------------

#: Every data type an observation can carry, grouped as rules may name them.
DATA_GROUPS: dict[str, tuple[str, ...]] = {
    #: hashed_id: a digest sent under a device-id key whose pre-image is unknown (pattern
    #: mode); a digest of a known value is reported as that value's type, `hashed`
    "device-ids": ("imei", "serial_number", "mac_address", "android_id", "advertising_id",
                   "hashed_id"),
    "sim-ids": ("imsi", "iccid", "phone_number"),
    "content": ("contacts", "sms", "location"),
}
DATA_GROUPS["identifiers"] = DATA_GROUPS["device-ids"] + DATA_GROUPS["sim-ids"] + ("email",)
#: `unreadable`: an upload whose content the auditor could not read (TLS without keys,
#: QUIC, a pinned connection). It lets a policy speak of encrypted uploads it cannot see into.
DATA_TYPES: tuple[str, ...] = DATA_GROUPS["identifiers"] + DATA_GROUPS["content"] + ("unreadable",)
DATA_GROUPS["personal-data"] = DATA_GROUPS["identifiers"] + DATA_GROUPS["content"]


def expand_data(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Data types and groups named in a rule or expectation, as a set of data types."""
    out: set[str] = set()
    for name in names:
        out.update(DATA_GROUPS.get(name, (name,)))
    return frozenset(out)


class Severity(int, Enum):
    """Ordered so that `severity >= Severity.HIGH` reads as it should."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.strip().upper()]

    def __str__(self) -> str:
        return self.name.lower()


#: Transports an exchange can have, and whether each is readable on the wire.
CLEARTEXT_TRANSPORTS = frozenset({"http", "dns", "tcp", "udp", "ws", "sip"})
ENCRYPTED_TRANSPORTS = frozenset({"https", "tls", "wss", "quic", "h2", "h3"})

#: Where in an exchange a field was found.
WHERES = ("url", "path", "query", "header", "cookie", "body", "dns", "websocket", "tcp", "udp",
          "sni")


# --- what the phone sent ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class App:
    """The app that sent an upload, as the input itself records it (never guessed)."""

    uid: int | None  # Android user id of the app, when recorded
    package: str = ""  # package name (com.example.app), when recorded
    name: str = ""  # the app's name as shown to users, when recorded
    source: str = ""  # where this came from: "PCAPdroid trailer", "PCAPdroid pcapng UID map"

    @property
    def label(self) -> str:
        """`Cloud Messenger (com.xiaomi.xmsf, uid 10057)`: every part the input gave."""
        extra = [self.package] if self.name and self.package else []
        if self.uid is not None:
            extra.append(f"uid {self.uid}")
        main = self.name or self.package
        if not main:
            return ", ".join(extra)
        return f"{main} ({', '.join(extra)})" if extra else main

    def matches(self, pattern: str) -> bool:
        """Whether a policy's app glob names this app (package or name, case-insensitive,
        or `uid:10057`)."""
        from fnmatch import fnmatchcase

        pattern = pattern.strip().lower()
        if pattern.startswith("uid:"):
            return self.uid is not None and pattern[4:].strip() == str(self.uid)
        return any(fnmatchcase(text.lower(), pattern) for text in (self.package, self.name)
                   if text)



@dataclass(frozen=True, slots=True)
class Exchange:
    """One thing the handset sent: an HTTP request, a DNS query, a TLS connection, a
    WebSocket or raw TCP/UDP message. Only bytes going *up* (phone to server) are kept;
    what came down is only counted."""

    id: int  # unique within one audit, assigned by the engine in arrival order (0 until then)
    time: float  # epoch seconds of the first byte of the upload
    client: str  # "ip:port" of the phone side ("" when unknown, e.g. HAR)
    server: str  # "ip:port" of the receiving side ("" when unknown)
    host: str  # the name the phone addressed: Host/:authority, SNI, DNS qname, else server IP
    transport: str  # http | https | tls | dns | ws | wss | tcp | udp | quic | sip
    method: str = ""  # HTTP method; "QUERY" for DNS; "" for raw streams
    url: str = ""  # full URL for HTTP(S) and WebSockets; "dns:<name>" for DNS; "" otherwise
    headers: tuple[tuple[str, str], ...] = ()  # request headers as sent, order kept
    body: bytes = b""  # request body, transfer- and content-decoded where possible
    decrypted: bool = False  # True when it was inside TLS and we read it (key log, proxy)
    readable: bool = True  # False when the content could not be read (TLS without keys)
    source: str = ""  # where it came from: "capture.pcap#pkt 12", "flows.mitm#3", "live"
    bytes_up: int = 0  # bytes the phone sent in this exchange (headers + body on the wire)
    bytes_down: int = 0  # bytes the server answered with (counted, never parsed)
    status: int | None = None  # HTTP response status, or the DNS answer's RCODE, when seen
    server_ip: str = ""  # the IP address of the server, when known
    alpn: str = ""  # negotiated or offered ALPN for TLS, when known
    end_time: float | None = None  # time of the last byte of the exchange, when known
    notes: tuple[str, ...] = ()  # things a reader should know about this exchange ("gap")
    app: App | None = None  # the app that sent it, when the input records it (PCAPdroid)
    #: the tunnels the packets came through, outermost first ("GTP-U TEID 0x1 a -> b")
    tunnel: str = ""
    #: bytes of the request are missing from the capture (snaplen, lost segments): it was
    #: searched as far as its bytes go
    incomplete: bool = False
    # (first, last) 1-based frame numbers in the capture, as Wireshark numbers them: for an
    # HTTP request the frames of its first and last byte (`last` is where Wireshark's HTTP
    # dissector shows it), for a DNS query its frame, for a connection read as a whole (TLS
    # without keys, raw TCP/UDP, QUIC) its first frame and the last frame the phone sent;
    # () when the input has no frames (flow files, HAR, live) or they are not known
    frames: tuple[int, ...] = ()

    @property
    def request_line(self) -> str:
        """What a reader checks first: `POST http://host/path` or `DNS query host`."""
        if self.transport == "dns":
            line = f"DNS query {self.host}"
        elif self.method and self.url:
            line = f"{self.method} {self.url}"
        else:
            line = f"{self.transport.upper()} {self.host or self.server}"
        return f"{line} [in {self.tunnel}]" if self.tunnel else line

    @property
    def encrypted(self) -> bool:
        return self.transport in ENCRYPTED_TRANSPORTS


@dataclass(frozen=True, slots=True)
class Field:
    """One value found inside an exchange, and how it was dug out.

    `chain` lists the layers unwrapped to reach it, outermost first, each a short token:
    `query:info`, `base64`, `json:$.user.imei`, `gzip`, `pb:3.1`. A reader can follow it by
    hand from the raw exchange to the value.
    """

    where: str  # one of WHERES
    key: str  # query/form key, header name, JSON path ($.a.b[0]), pb:3.1, "" for bare values
    value: bytes  # the bytes at this layer (text is UTF-8 encoded)
    chain: tuple[str, ...] = ()  # decodings applied, outermost first

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Observation:
    """Personal data of the device seen leaving in one exchange."""

    exchange: int  # Exchange.id
    data_type: str  # one of DATA_TYPES
    where: str  # one of WHERES
    key: str  # key or path inside `where` ("" when the value stood alone)
    encodings: tuple[str, ...]  # Field.chain plus how the value itself was written
    #                             ("plain", "phone:national", "md5", "sha256:base64", ...)
    match: str  # "known" (a value of the device profile) or "pattern" (looks like one)
    value: str  # the value as the profile has it (known) or as found (pattern), unmasked
    hashed: bool = False  # True when only a one-way digest of the value left the phone
    confidence: float = 1.0  # 1.0 for known values; below for pattern matches
    excerpt: str = ""  # a few characters of the field around the value, for evidence
    detail: str = ""  # e.g. "sha256 of E.164 spelling", "contact: Anna Schmidt"

    @property
    def encoding_class(self) -> str:
        """`hashed` or `readable` (plain or reversibly encoded), as rules speak of it."""
        return "hashed" if self.hashed else "readable"


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that one or more observations break, grouped by rule, host and consent phase."""

    id: str  # "F1", "F2", ... in report order
    rule: str  # rule id
    severity: Severity
    title: str
    host: str
    data_types: tuple[str, ...]  # sorted
    exchanges: tuple[int, ...]  # Exchange ids, in time order
    observations: tuple[Observation, ...]  # the evidence
    first_seen: float  # epoch seconds
    consent: str  # "before-opt-in" | "after-opt-in"
    description: str = ""
    references: tuple[str, ...] = ()
    policy_file: str = ""  # the policy file the rule came from
    fingerprint: str = ""  # stable across runs: rule, host, data types, where, key
    severity_note: str = ""  # why severity differs from the rule's (pattern confidence), or ""
    app: str = ""  # the sending app's label when the input records it; findings group by it


@dataclass(slots=True)
class InputInfo:
    """One input of an audit and what reading it found. Filled in by a source as it reads."""

    path: str
    kind: str  # pcap | pcapng | mitm | har | live
    packets: int = 0  # packets (or flows) read
    exchanges: int = 0  # exchanges produced
    warnings: list[str] = field(default_factory=list)  # what was skipped or damaged, and where
    size: int = 0  # bytes
    sha256: str = ""
    first_time: float | None = None
    last_time: float | None = None

    def warn(self, message: str) -> None:
        self.warnings.append(message)


class InputError(Exception):
    """Bad input that stops the run: the message names the file, the line or packet, what
    is wrong and what to do. The CLI prints it as one line and exits 2."""

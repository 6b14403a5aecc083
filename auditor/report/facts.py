"""The facts every report format states, each computed once so all formats agree.

Counts (uploads, DNS queries, hosts, bytes), the exact words for what a finding carried
("a contact's phone number (1 of 2 canary contacts)"), where a reader finds an exchange in
the capture (frames and a Wireshark display filter) and what the audit read (SHA-256 of
every input). Renderers only lay these out; a new fact belongs here, not in a renderer.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditor.model import Exchange, Observation
from auditor.report.common import data_label, input_path_of, join_words, plural

if TYPE_CHECKING:
    from auditor.engine import AuditResult


# --- counts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What the phone sent, counted once. A DNS query is counted as a DNS query, never as
    an upload to the host it asks about: it went to a resolver."""

    uploads: int  # exchanges other than DNS queries
    dns_queries: int
    hosts: int  # distinct hosts (names, else server addresses), DNS names included
    bytes_up: int  # bytes the phone sent in uploads (DNS queries not included)
    dns_bytes_up: int  # bytes of the DNS queries
    unreadable: int  # uploads whose content could not be read
    unreadable_bytes: int  # bytes up of those uploads
    observations: int

    @property
    def sentence(self) -> str:
        """`5 uploads and 2 DNS queries to 2 hosts`."""
        parts = [plural(self.uploads, "upload")]
        if self.dns_queries:
            parts.append(plural(self.dns_queries, "DNS query").replace("querys", "queries"))
        return f"{join_words(parts)} to {plural(self.hosts, 'host')}"


def is_dns(exchange: Exchange) -> bool:
    return exchange.transport == "dns"


def host_key(exchange: Exchange) -> str:
    return exchange.host or exchange.server_ip or exchange.server


def counts_of(result: AuditResult) -> Counts:
    uploads = [e for e in result.exchanges if not is_dns(e)]
    queries = [e for e in result.exchanges if is_dns(e)]
    unreadable = [e for e in uploads if not e.readable]
    return Counts(
        uploads=len(uploads),
        dns_queries=len(queries),
        hosts=len({host_key(e) for e in result.exchanges}),
        bytes_up=sum(e.bytes_up for e in uploads),
        dns_bytes_up=sum(e.bytes_up for e in queries),
        unreadable=len(unreadable),
        unreadable_bytes=sum(e.bytes_up for e in unreadable),
        observations=len(result.observations),
    )


def counts_by_input(result: AuditResult) -> dict[str, tuple[int, int]]:
    """(uploads, DNS queries) of each input path."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for exchange in result.exchanges:
        out[input_path_of(exchange, result.inputs)][1 if is_dns(exchange) else 0] += 1
    return {path: (n[0], n[1]) for path, n in out.items()}


# --- what was sent, in exact words -------------------------------------------------------


def _profile_values(result: AuditResult, data_type: str) -> tuple[str, ...]:
    profile = result.profile
    if profile is None:
        return ()
    try:
        return tuple(str(v) for v in profile.identifiers().get(data_type, ()))
    except AttributeError:
        return ()


def _canary_contacts(result: AuditResult) -> list[tuple[str, str]]:
    """(name, phone) of each canary contact of the profile."""
    contacts = getattr(result.profile, "contacts", ()) or ()
    return [(str(getattr(c, "name", "") or ""), str(getattr(c, "phone", "") or ""))
            for c in contacts]


def contacts_phrase(result: AuditResult, observations: Iterable[Observation]) -> str:
    """How much of the address book the observations show, e.g. `a contact's phone number
    (1 of 2 canary contacts)` or `the address book (5 of 5 canary contacts, up to 5 in one
    upload)`. An address-book upload is one that carries two or more contacts."""
    canaries = _canary_contacts(result)
    seen: dict[int | str, set[str]] = defaultdict(set)  # contact -> parts seen
    per_upload: dict[int, set[int | str]] = defaultdict(set)
    for o in observations:
        if o.data_type != "contacts":
            continue
        index: int | str = o.value
        part = "entry"
        for i, (name, phone) in enumerate(canaries):
            if o.value in (name, phone):
                index, part = i, "name" if o.value == name else "phone number"
                break
        seen[index].add(part)
        per_upload[o.exchange].add(index)
    if not seen:
        return data_label("contacts")
    known = sum(isinstance(k, int) for k in seen)
    most = max(len(v) for v in per_upload.values())
    parts = sorted({p for v in seen.values() for p in v} - {"entry"}) or ["details"]
    what = join_words(p + "s" if len(seen) > 1 else p for p in parts)
    scope = (f"{known} of {plural(len(canaries), 'canary contact')}" if canaries and known
             else plural(len(seen), "contact entry").replace("entrys", "entries"))
    if most >= 2:
        return f"the address book ({scope}, up to {most} in one upload)"
    if len(seen) == 1:
        return f"a contact's {what} ({scope})"
    return f"the {what} of {len(seen)} contacts ({scope}, each in a separate upload)"


def data_phrases(result: AuditResult, data_types: Iterable[str],
                 observations: Iterable[Observation]) -> list[str]:
    """One exact phrase per data type, the handset being the subject: `1 of its 2 IMEIs`,
    `its IMSI`, a contacts phrase, `the location`.
    Pattern-only matches say they only look like the type."""
    observations = list(observations)
    out = []
    for data_type in data_types:
        mine = [o for o in observations if o.data_type == data_type]
        label = data_label(data_type)
        if data_type == "contacts":
            out.append(contacts_phrase(result, mine))
        elif mine and all(o.match == "pattern" for o in mine):
            out.append(f"a value shaped like {'an' if label[0] in 'AEIOUaeiou' else 'a'} "
                       f"{label}")
        elif data_type == "unreadable":
            uploads = {o.exchange for o in mine}
            size = sum(result.exchange(i).bytes_up for i in uploads)
            out.append(f"{plural(len(uploads), 'encrypted upload')} the audit could not read "
                       f"({size:,} bytes up)")
        elif data_type == "location":
            out.append("the location")
        elif data_type == "sms":
            texts = [str(t) for t in getattr(result.profile, "sms", ()) or ()]
            sent = {o.value for o in mine}
            out.append(f"{len(sent)} of {len(texts)} canary SMS texts" if len(texts) > 1
                       else "a canary SMS text")
        else:
            values = _profile_values(result, data_type)
            sent = {o.value for o in mine if o.match == "known"}
            if len(values) > 1 and sent:
                everything = "both" if len(values) == 2 else f"all {len(values)}"
                out.append(f"{everything} {label}s" if len(sent) == len(values)
                           else f"{len(sent)} of its {len(values)} {label}s")
            else:
                out.append(f"its {label}")
    return out


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def finding_subject(result: AuditResult, finding: Any) -> str:
    """`One of its two IMEIs and the phone number`: what a finding's uploads carried."""
    return _first_upper(join_words(data_phrases(result, finding.data_types,
                                                finding.observations)))


# --- where to look in the capture ---------------------------------------------------------


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """`1.2.3.4:80` or `[::1]:80` -> (address, port); ("", "") when not an endpoint."""
    if endpoint.startswith("["):
        address, _, port = endpoint[1:].partition("]:")
        return address, port
    address, _, port = endpoint.rpartition(":")
    return address, port


def display_filter(exchange: Exchange) -> str:
    """A Wireshark display filter that shows the exchange's connection (or the DNS
    query's conversation) and nothing else; "" when its endpoints are not known or it did
    not come from a capture (a flow file or HAR has no packets to filter)."""
    if len(getattr(exchange, "frames", ()) or ()) != 2:
        return ""
    client_ip, client_port = _split_endpoint(exchange.client)
    server_ip, server_port = _split_endpoint(exchange.server)
    if not (client_ip and server_ip and client_port.isdigit() and server_port.isdigit()):
        return ""
    try:
        family = "ipv6" if ipaddress.ip_address(client_ip).version == 6 else "ip"
    except ValueError:
        return ""
    transport = {"quic": "udp", "udp": "udp", "h3": "udp", "dns": "udp"}.get(
        exchange.transport, "tcp")
    ports = (f"{transport}.port == {client_port} && {transport}.port == {server_port}")
    if exchange.transport == "dns":  # over UDP or TCP: the same ports either way
        ports = (f"(udp.port == {client_port} || tcp.port == {client_port}) && "
                 f"(udp.port == {server_port} || tcp.port == {server_port})")
    return (f"{family}.addr == {client_ip} && {family}.addr == {server_ip} && {ports}")


def frames_label(exchange: Exchange) -> str:
    """`frames 6–8`, `frame 1`, or "" when the input has no frames."""
    frames = tuple(getattr(exchange, "frames", ()) or ())
    if len(frames) != 2:
        return ""
    first, last = frames
    return f"frame {first}" if first == last else f"frames {first}–{last}"


# --- provenance ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InputDigest:
    role: str  # capture | key log | device profile | policy
    path: str
    sha256: str


def provenance(result: AuditResult) -> list[InputDigest]:
    """Every input the report rests on, with its SHA-256: captures first, then the device
    profile, key logs and each policy file."""
    out = [InputDigest("capture", info.path, info.sha256 or "") for info in result.inputs
           if info.kind != "live"]
    out += [InputDigest(f.role, f.path, f.sha256) for f in getattr(result, "files", ()) or ()]
    return out

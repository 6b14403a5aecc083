"""Who received an upload: the server's address scope, country, network and organisation,
and whether that organisation is the vendor of the device under test (first party)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from auditor.judge.geo import GeoData
from auditor.judge.hosts import strip_port
from auditor.judge.organisations import OrganisationMap, load_organisations
from auditor.judge.trackers import TrackerAttribution, TrackerList, attribute, load_trackers

#: Ranges reserved for examples in documentation (RFC 5737, RFC 3849, RFC 9637).
_DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"))


@dataclass(frozen=True)
class Destination:
    """The receiving end of one exchange."""

    ip: str  # the server's IP address ("" when unknown)
    country: str  # ISO 3166 alpha-2, "" when unknown or not a public address
    scope: str  # public | private | loopback | link-local | documentation | multicast | unknown
    asn: int | None  # autonomous system number, when the data has it
    as_name: str  # the network's name ("GOOGLE", "China Mobile ..."), "" when unknown
    organisation: str  # from the domain map, "" when the host is not in it
    party: str  # first (the device's vendor) | third (another known organisation) | unknown
    trackers: tuple[str, ...] = ()  # Exodus SDK names; several: the host is one of them
    tracker_categories: tuple[str, ...] = ()  # categories every named SDK has
    tracker_note: str = ""  # why a tracker match was not used, or that SDKs share the host
    named_by: tuple[str, ...] = ()  # which sources named the receiver: "organisation map",
    #                                 "Exodus tracker list"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def address_scope(ip: str) -> str:
    """What kind of address `ip` is; never guessed from a database."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in network for network in _DOCUMENTATION):
        return "documentation"
    if address.is_unspecified or address.is_reserved:
        return "unknown"
    # Private ranges, carrier-grade NAT (100.64/10), unique-local IPv6 and the like.
    return "public" if address.is_global else "private"


class DestinationResolver:
    """Resolves (host, server IP) to a `Destination`, caching each pair."""

    def __init__(self, vendor: str = "", geoip_path: str | None = None,
                 organisations_path: str | None = None,
                 trackers: TrackerList | None = None) -> None:
        self.vendor = vendor.strip()
        self._geo = GeoData(geoip_path)
        self._organisations: OrganisationMap = load_organisations(organisations_path)
        self.trackers = trackers if trackers is not None else load_trackers()
        self.organisations_path = organisations_path or "rules/organisations.yaml"
        vendor_org = self._organisations.named(self.vendor) if self.vendor else None
        self._vendor_names = {self.vendor.lower()} | (
            {vendor_org.name.lower()} if vendor_org else set())
        self._cache: dict[tuple[str, str], Destination] = {}

    @property
    def data_description(self) -> str:
        """Which geolocation data answers, with its date, for reports."""
        return self._geo.description

    def resolve(self, host: str, ip: str) -> Destination:
        key = (host, ip)
        if key not in self._cache:
            self._cache[key] = self._resolve(strip_port(host), ip)
        return self._cache[key]

    def _resolve(self, host: str, ip: str) -> Destination:
        host_is_address = _is_address(host)
        if not ip and host_is_address:
            ip = host
        scope = address_scope(ip)
        facts = self._geo.lookup(ip) if scope == "public" else None
        owner = self._organisations.owner(host) if host and not host_is_address else None
        organisation = owner.name if owner else ""
        sdks = attribute(self.trackers, host, self._organisations.owner) \
            if host and not host_is_address else TrackerAttribution()
        named_by = (("organisation map",) if owner else ()) + (
            ("Exodus tracker list",) if sdks.trackers else ())
        return Destination(
            ip=ip, country=facts.country if facts else "", scope=scope,
            asn=facts.asn if facts else None, as_name=facts.as_name if facts else "",
            organisation=organisation, party=self._party(organisation),
            trackers=sdks.trackers, tracker_categories=sdks.categories,
            tracker_note=sdks.note, named_by=named_by)

    def _party(self, organisation: str) -> str:
        """First party is the vendor; without a vendor, no organisation can be judged."""
        if not organisation or not self.vendor:
            return "unknown"
        return "first" if organisation.lower() in self._vendor_names else "third"

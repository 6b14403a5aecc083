"""What a loaded policy is: rules, their conditions, and what counts as opting in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from auditor.judge.hosts import host_matches, host_matches_any, path_matches, strip_port
from auditor.model import App, Exchange, Severity

if TYPE_CHECKING:
    from auditor.judge.destination import Destination

CONSENTS = ("before-opt-in", "after-opt-in", "any")
TRANSPORTS = ("cleartext", "encrypted", "any")
ENCODINGS = ("readable", "hashed", "any")
MATCHES = ("known", "pattern", "any")
PARTIES = ("first", "third")


@dataclass(frozen=True)
class DestinationConditions:
    """A rule's `to:` block. Every condition given must hold; an empty one holds always.

    `countries` and `not_countries` need a known country: a server in a private,
    documentation or unlisted range satisfies neither, because where it really is cannot
    be told. `not_organisations` holds for a host of an unknown organisation, because the
    organisation map lists every domain of the organisations a rule names.
    """

    hosts: tuple[str, ...] = ()  # host globs, at least one must match exchange.host
    not_hosts: tuple[str, ...] = ()  # host globs, none may match
    countries: frozenset[str] = frozenset()  # ISO codes, groups expanded
    not_countries: frozenset[str] = frozenset()
    organisations: frozenset[str] = frozenset()  # lower-cased organisation names
    not_organisations: frozenset[str] = frozenset()
    party: str | None = None  # "first" | "third" | None (any)
    trackers: frozenset[str] = frozenset()  # lower-cased Exodus SDK names: one must be named
    categories: frozenset[str] = frozenset()  # Exodus categories: every named SDK has one
    # declarations only: the receiver is a third party — named by the organisation map or
    # the Exodus list, and not one of these organisations or domains (the app's own)
    third_party_of: tuple[str, ...] | None = None

    @property
    def needs_destination(self) -> bool:
        """Whether any condition looks beyond the host name."""
        return bool(self.countries or self.not_countries or self.organisations
                    or self.not_organisations or self.party or self.trackers
                    or self.categories or self.third_party_of is not None)

    def fits(self, host: str, destination: Destination | None) -> bool:
        host = strip_port(host)
        if self.hosts and not host_matches_any(host, self.hosts):
            return False
        if self.not_hosts and host_matches_any(host, self.not_hosts):
            return False
        if not self.needs_destination:
            return True
        if destination is None:
            return False
        country = destination.country.upper()
        if self.countries and country not in self.countries:
            return False
        if self.not_countries and (not country or country in self.not_countries):
            return False
        organisation = destination.organisation.lower()
        if self.organisations and organisation not in self.organisations:
            return False
        if self.not_organisations and organisation in self.not_organisations:
            return False
        if self.trackers and not self.trackers & {t.lower() for t in destination.trackers}:
            return False
        if self.categories and not self.categories & set(destination.tracker_categories):
            return False
        if self.third_party_of is not None and not _third_party(host, destination,
                                                                self.third_party_of):
            return False
        return self.party is None or destination.party == self.party


def _third_party(host: str, destination: Destination, first_parties: tuple[str, ...]) -> bool:
    """Named by the organisation map or the tracker list, and none of the first parties
    (organisation names, or domains the host is or is under)."""
    if not destination.organisation and not destination.trackers:
        return False
    host = host.lower().rstrip(".")
    for first in (f.lower() for f in first_parties):
        if first == destination.organisation.lower() or host == first \
                or host.endswith("." + first):
            return False
    return True


@dataclass(frozen=True)
class AppConditions:
    """A rule's `from:` block: which app sent the upload. Globs over the package or app
    name (case-insensitive), or `uid:10057`. Both need the input to record the app (a
    PCAPdroid capture): an upload of unknown app fits neither `apps` nor `not_apps`."""

    apps: tuple[str, ...] = ()
    not_apps: tuple[str, ...] = ()

    def fits(self, app: App | None) -> bool:
        if not self.apps and not self.not_apps:
            return True
        if app is None:
            return False
        if self.apps and not any(app.matches(p) for p in self.apps):
            return False
        return not any(app.matches(p) for p in self.not_apps)


@dataclass(frozen=True)
class Rule:
    """One rule of a policy file, with its data groups expanded."""

    id: str  # kebab-case, stable
    title: str
    severity: Severity
    description: str
    data: frozenset[str]  # data types (groups expanded)
    consent: str = "any"  # before-opt-in | after-opt-in | any
    transport: str = "any"  # cleartext | encrypted | any
    encoding: str = "any"  # readable | hashed | any
    match: str = "any"  # known | pattern | any
    to: DestinationConditions = field(default_factory=DestinationConditions)
    references: tuple[str, ...] = ()
    policy_file: str = ""  # the file it was read from, as shown to users
    line: int = 0  # the line of its `id:`
    false_positives: tuple[str, ...] = ()  # known harmless causes, Sigma-style
    sender: AppConditions = field(default_factory=AppConditions)  # `from:`, the sending app


@dataclass(frozen=True)
class OptInMatcher:
    """One `consent.opt_in` entry: the request by which the user agrees. Every given
    part must match; `query` and `body` are substrings of the query string and body."""

    method: str = ""
    host: str = ""  # host glob
    path: str = ""  # path glob
    query: str = ""
    body: str = ""
    policy_file: str = ""
    line: int = 0

    def matches(self, exchange: Exchange) -> bool:
        if self.method and exchange.method.upper() != self.method.upper():
            return False
        if self.host and not host_matches(strip_port(exchange.host), self.host):
            return False
        if self.path or self.query:
            if not exchange.url:
                return False
            parts = urlsplit(exchange.url)
            if self.path and not path_matches(parts.path or "/", self.path):
                return False
            if self.query and self.query not in parts.query:
                return False
        return not self.body or self.body.encode() in exchange.body

    def describe(self) -> str:
        return " ".join(p for p in (self.method, (self.host or "*") + (self.path or "")) if p)


@dataclass
class PolicySet:
    """All rules in force and every way of opting in, from one or more policy files."""

    rules: list[Rule] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    opt_in: list[OptInMatcher] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # SHA-256 of each file, as read
    declarations: list = field(default_factory=list)  # judge.declared.Declaration, --declared

    def add_declaration(self, declaration) -> None:
        """Judge uploads against what an app declared (its rules join the policies)."""
        self.declarations.append(declaration)
        self.rules.extend(declaration.rules())

    def is_opt_in(self, exchange: Exchange) -> bool:
        """Whether this request is the user opting in (per any policy's `consent.opt_in`)."""
        return any(matcher.matches(exchange) for matcher in self.opt_in)

    def find(self, rule_id: str) -> Rule | None:
        """The rule with this id (for `auditor rules show`), or None."""
        return next((rule for rule in self.rules if rule.id == rule_id), None)

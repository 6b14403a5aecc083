"""The tracker SDKs behind a host, from Exodus Privacy's tracker list.

The bundled list is a byte-exact snapshot of `https://reports.exodus-privacy.eu.org/api/trackers`
(`auditor/data/exodus-trackers.json`, Open Database License 1.0; provenance, caveats and
the licence notice in `exodus-trackers.SOURCE.md` and `exodus-trackers.NOTICE` beside it).

Each tracker's `network_signature` is an unanchored regular expression over host names,
alternatives joined by `|`. Some are loose (see SOURCE.md), so they are read strictly here:

- a dot written unescaped (`appnext.com`) means a literal dot, except in `.*`, `.+`, `.?`;
- an alternative must match at the end of the host and begin at a label boundary
  (`mopub\\.com` fits `ads.mopub.com`, not `notmopub.com`);
- of the alternatives that fit, the longest match wins (like the organisation map's
  longest suffix), so `alog\\.umeng\\.com` is preferred to `umeng\\.com`;
- a match that covers only a whole domain of the organisation map does not tell the SDK
  when that organisation runs other SDKs of the list too: `\\.google\\.com` (Google Ads)
  on `www.google.com` names no SDK, the organisation map names Google; several SDKs on one
  such signature (`\\.facebook\\.com`, seven Facebook SDKs) are listed as "one of: …";
  `adjust\\.com` on `app.adjust.com` names Adjust's SDK;
- a tracker whose website the organisation map gives to another organisation than the
  host's is not named (the two sources disagree; the map is preferred).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from auditor.model import InputError

BUNDLED_TRACKERS = Path(__file__).resolve().parent.parent / "data" / "exodus-trackers.json"
#: How the bundled snapshot is described in reports (SOURCE.md has the details).
BUNDLED_VERSION = ("Exodus Privacy tracker list, snapshot committed 2026-01-03 "
                   "(TrackerControl 517b16d)")
EXODUS_URL = "https://reports.exodus-privacy.eu.org/api/trackers"
LICENCE = ("εxodus tracker database (https://reports.exodus-privacy.eu.org/, Exodus Privacy), "
           "Open Database License 1.0; contents under the Database Contents License 1.0")
CATEGORIES = ("Advertisement", "Analytics", "Crash reporting", "Identification", "Location",
              "Profiling")


@dataclass(frozen=True)
class Tracker:
    """One SDK of the list."""

    id: int
    name: str
    categories: tuple[str, ...]
    website: str
    alternatives: tuple[tuple[str, re.Pattern[str]], ...] = field(repr=False, default=())


@dataclass(frozen=True)
class TrackerAttribution:
    """What the tracker list says about one host."""

    trackers: tuple[str, ...] = ()  # SDK names; several: the host is one of them
    categories: tuple[str, ...] = ()  # categories every named SDK has
    possible_categories: tuple[str, ...] = ()  # categories some named SDK has
    patterns: tuple[str, ...] = ()  # the network signatures that matched, as written
    note: str = ""  # why a match was not used, or that several SDKs share the host

    @property
    def label(self) -> str:
        """`Google Firebase Analytics` or `one of: Facebook Ads, Facebook Analytics`."""
        if not self.trackers:
            return ""
        if len(self.trackers) == 1:
            return self.trackers[0]
        return "one of: " + ", ".join(self.trackers)


def strict_pattern(alternative: str) -> str:
    """An Exodus signature alternative as a strict, anchored regular expression."""
    out, i, in_class = [], 0, False
    while i < len(alternative):
        char = alternative[i]
        if char == "\\" and i + 1 < len(alternative):
            out.append(alternative[i:i + 2])
            i += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "." and not in_class and alternative[i + 1:i + 2] not in ("*", "+", "?"):
            char = r"\."
        out.append(char)
        i += 1
    body = "".join(out)
    boundary = "" if body.startswith((r"\.", ".*", ".+")) else r"(?:^|(?<=\.))"
    return f"{boundary}(?:{body})$"


class TrackerList:
    """Exodus trackers with compiled signatures, and where the list came from."""

    def __init__(self, trackers: list[Tracker], *, path: str, sha256: str, version: str) -> None:
        self.trackers = trackers
        self.path = path
        self.sha256 = sha256
        self.version = version
        self.by_name = {t.name.lower(): t for t in trackers}
        self._cache: dict[str, list[tuple[Tracker, str, int, int]]] = {}

    @property
    def description(self) -> str:
        """For reports: which list, its version and SHA-256."""
        return f"{self.version}, {len(self.trackers)} trackers, SHA-256 {self.sha256}"

    def matches(self, host: str) -> list[tuple[Tracker, str, int, int]]:
        """(tracker, alternative, match start, match length) of every tracker whose
        signature fits `host` strictly, the longest match per tracker."""
        host = host.lower().rstrip(".")
        if host not in self._cache:
            found = []
            for tracker in self.trackers:
                best = None
                for text, pattern in tracker.alternatives:
                    m = pattern.search(host)
                    if m and (best is None or m.end() - m.start() > best[3]):
                        best = (tracker, text, m.start(), m.end() - m.start())
                if best:
                    found.append(best)
            self._cache[host] = found
        return self._cache[host]


@lru_cache(maxsize=1)
def bundled_trackers() -> TrackerList:
    """The bundled list, read once per process."""
    return _load(None)


def load_trackers(path: str | Path | None = None) -> TrackerList:
    """The bundled list, or a refreshed copy of the same API output. InputError when bad."""
    return _load(path) if path else bundled_trackers()


def _load(path: str | Path | None) -> TrackerList:
    file = Path(path) if path else BUNDLED_TRACKERS
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise InputError(f"{file}: cannot read the tracker list: {e.strerror}") from None
    trackers = parse_trackers(raw, str(file))
    version = BUNDLED_VERSION if path is None else f"Exodus Privacy tracker list from {file}"
    return TrackerList(trackers, path=str(file), sha256=hashlib.sha256(raw).hexdigest(),
                       version=version)


def parse_trackers(raw: bytes, shown: str) -> list[Tracker]:
    """Validate and compile the API's JSON (`{"trackers": {"<id>": {...}}}`)."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{shown}: not the Exodus tracker list: not JSON ({e})") from None
    except RecursionError:
        raise InputError(f"{shown}: not the Exodus tracker list: JSON nested too deeply") \
            from None
    entries = document.get("trackers") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise InputError(f"{shown}: not the Exodus tracker list: no 'trackers' object")
    trackers = []
    for key, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InputError(f"{shown}: tracker {key!r} has no name; not the Exodus list")
        alternatives = []
        for text in (entry.get("network_signature") or "").split("|"):
            if not text:
                continue
            try:
                alternatives.append((text, re.compile(strict_pattern(text))))
            except re.error as e:
                raise InputError(f"{shown}: tracker {key} ({entry['name']}): network "
                                 f"signature {text!r} is not a regular expression ({e})") from None
        trackers.append(Tracker(id=int(entry.get("id") or key), name=entry["name"].strip(),
                                categories=tuple(entry.get("categories") or ()),
                                website=str(entry.get("website") or ""),
                                alternatives=tuple(alternatives)))
    if not any(t.alternatives for t in trackers):
        raise InputError(f"{shown}: no tracker has a network signature; not the Exodus list")
    return trackers


def attribute(trackers: TrackerList, host: str, owner_of) -> TrackerAttribution:
    """The SDKs behind `host`, checked against the organisation map.

    `owner_of(host)` is the organisation map's lookup (an object with `name` and
    `domains`, or None)."""
    found = trackers.matches(host)
    if not found:
        return TrackerAttribution()
    host = host.lower().rstrip(".")
    owner = owner_of(host)
    owner_domains = set(owner.domains) if owner else set()
    longest = max(length for *_, length in found)
    best = [(t, text, start) for t, text, start, length in found if length == longest]
    patterns = tuple(dict.fromkeys(text for _, text, _ in best))
    names = [t.name for t, _, _ in best]
    matched = host[best[0][2]:].lstrip(".")
    if matched in owner_domains and len(best) == 1:
        others = [t.name for t in trackers.trackers
                  if t is not best[0][0] and _website_owner(t, owner_of) == owner.name]
        if others:
            return TrackerAttribution(
                patterns=patterns,
                note=f"Exodus signature `{patterns[0]}` of {names[0]} covers the whole domain "
                     f"{matched}, where {owner.name} also runs other SDKs ({len(others)} in "
                     f"the list); the organisation map names {owner.name}, no SDK is named")
    if matched in owner_domains and len(best) > 1:
        return _named(best, patterns, f"{len(best)} SDKs share the signature "
                                      f"{' | '.join(patterns)} over the whole domain {matched}")
    if owner is not None:
        agreeing = [b for b in best if _website_owner(b[0], owner_of) in (None, owner.name)]
        if not agreeing:
            return TrackerAttribution(
                patterns=patterns,
                note=f"Exodus signature `{patterns[0]}` ({', '.join(names)}) matched, but the "
                     f"organisation map names {owner.name} for this host; not named")
        best = agreeing
    note = f"{len(best)} SDKs share this host" if len(best) > 1 else ""
    return _named(best, patterns, note)


def _named(best, patterns: tuple[str, ...], note: str) -> TrackerAttribution:
    sets = [set(t.categories) for t, _, _ in best]
    common = set.intersection(*sets) if sets else set()
    some = set.union(*sets) if sets else set()
    return TrackerAttribution(
        trackers=tuple(sorted(t.name for t, _, _ in best)),
        categories=tuple(c for c in CATEGORIES if c in common),
        possible_categories=tuple(c for c in CATEGORIES if c in some),
        patterns=patterns, note=note)


def _website_owner(tracker: Tracker, owner_of) -> str | None:
    site = re.sub(r"^[a-z]+://", "", tracker.website.lower()).split("/", 1)[0]
    owner = owner_of(site) if site else None
    return owner.name if owner else None


#: A download smaller than this is not the whole list (an error page, a truncated answer).
_MIN_TRACKERS, _MIN_SIGNATURES = 200, 100


def refresh(output: str | Path, url: str = EXODUS_URL, timeout: float = 60.0) -> TrackerList:
    """Download the list, check it, and write its bytes unchanged to `output` (only when
    it passes). InputError says what was wrong with the download."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            raw = answer.read()
    except (urllib.error.URLError, OSError) as e:
        raise InputError(f"{url}: cannot download the tracker list: "
                         f"{getattr(e, 'reason', e)}") from None
    trackers = parse_trackers(raw, url)
    signed = sum(1 for t in trackers if t.alternatives)
    if len(trackers) < _MIN_TRACKERS or signed < _MIN_SIGNATURES:
        raise InputError(f"{url}: only {len(trackers)} trackers ({signed} with host "
                         f"signatures); expected the whole list (hundreds); nothing written")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    partial.write_bytes(raw)
    partial.replace(output)
    return TrackerList(trackers, path=str(output), sha256=hashlib.sha256(raw).hexdigest(),
                       version=f"Exodus Privacy tracker list from {url}")


def default_refresh_path() -> Path:
    """Where `auditor trackers refresh` writes by default ($XDG_DATA_HOME or ~/.local/share)."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "handset-auditor" / "exodus-trackers.json"

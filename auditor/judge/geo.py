"""Country and network (ASN) of a public IP address, offline.

Two sources: `geoip2fast`'s bundled data (MaxMind GeoLite2 country + ASN, IPv4 and IPv6),
or a user's MaxMind-format `.mmdb` (GeoLite2, DB-IP, IPinfo) read with `maxminddb`,
preferred when given.

Memory. geoip2fast keeps its data as Python lists of Python ints: loading its country +
ASN, IPv4 + IPv6 file costs 0.2-0.5 s and ~108 MB of RSS for the rest of the run (its
country-only IPv4 + IPv6 file: 47 MB but no networks; IPv4 country + ASN: 74 MB but no
IPv6; IPv4 country only: 27 MB). We keep all of it — country and AS name for IPv4 and
IPv6 — in a compact file instead: the networks as sorted fixed-width arrays (IPv6 split
into two 64-bit halves), the AS names as one byte string, 18 MB on disk, built once
under ~/.cache/handset-auditor (or $XDG_CACHE_HOME) and memory-mapped. A run pays only for
the pages its lookups touch — measured: +4 MB after the first lookup (the kernel maps
64 KB around each page a bisect touches), +10 MB after 1,000 random addresses, never
more than the file — and a lookup takes ~9 µs (each (host, IP) is resolved once).

The trade-off is the first run: the conversion needs geoip2fast's lists in memory once.
It runs in a child process (~0.8 s), so the auditor itself never holds them; the child
peaks at ~145 MB and exits (a tool measuring the whole process tree sees that peak once).
When the cache cannot be written or built, the data is loaded in-process as before
(~108 MB more), and the description says so.

Countries are those geoip2fast gives, address for address. AS names differ in one way:
for an IPv4 address between two networks, geoip2fast names the network before it (it
checks the range with IPv6 sizes); here such an address has no network name.
"""

from __future__ import annotations

import array
import ipaddress
import json
import mmap
import os
import re
import subprocess
import sys
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auditor.judge.countries import ISO_COUNTRIES
from auditor.model import InputError

#: geoip2fast's file with country and ASN for IPv4 and IPv6.
_GEOIP2FAST_FILE = "geoip2fast-asn-ipv6.dat.gz"
_MAGIC = b"handset-auditor geo 1\n"
_MAX_IPV4 = 2**32 - 1
_LOW64 = 2**64 - 1
#: geoip2fast numbers its private/reserved "countries" first.
_GEOIP2FAST_PRIVATE_IDS = 16
#: (section, array type code) in the order they are written.
_SECTIONS = (("v4_country_first", "I"), ("v4_country_bits", "B"), ("v4_country_id", "H"),
             ("v6_country_hi", "Q"), ("v6_country_lo", "Q"), ("v6_country_bits", "B"),
             ("v6_country_id", "H"),
             ("v4_asn_first", "I"), ("v4_asn_bits", "B"), ("v4_asn_id", "I"),
             ("v6_asn_hi", "Q"), ("v6_asn_lo", "Q"), ("v6_asn_bits", "B"), ("v6_asn_id", "I"),
             ("asn_name_ends", "I"))
_BUILD_TIMEOUT = 300


@dataclass(frozen=True)
class GeoFacts:
    country: str = ""  # ISO code or ""
    asn: int | None = None
    as_name: str = ""


def _country(code: object) -> str:
    code = str(code or "").upper()
    return code if code in ISO_COUNTRIES else ""


def cache_dir() -> Path:
    """Where built data is kept: $XDG_CACHE_HOME/handset-auditor, else ~/.cache/..."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "handset-auditor"


def _geoip2fast_source() -> Path:
    import geoip2fast

    return Path(geoip2fast.__file__).resolve().parent / _GEOIP2FAST_FILE


def _dated(source: str) -> str:
    """`MAXMIND:GeoLite2-CountryASN-IPv4IPv6-en-20240618` -> its name and date."""
    dated = re.search(r"(\d{4})(\d{2})(\d{2})$", source)
    when = f" of {dated[1]}-{dated[2]}-{dated[3]}" if dated else ""
    return f"{source.split(':')[-1]}{when}"


# -- the compact file -----------------------------------------------------------------------


def build_compact(source: str, target: str) -> None:
    """Convert geoip2fast's country + ASN file into the compact file at `target` (written
    to a temporary name, then renamed: readers never see half a file)."""
    import gzip
    import pickle

    with gzip.open(source, "rb") as f:
        version, info, _, database = pickle.load(f)
    if version not in (120, 121) or not (info.get("country") and info.get("asn")):
        raise ValueError(f"{source}: not a geoip2fast country + ASN file (version {version})")
    (_, _, country_names, asn_names, first, first_asn, country_ids, asn_ids, bits,
     bits_asn) = database
    del database
    arrays = {name: array.array(code) for name, code in _SECTIONS}
    for kind, firsts, lengths, ids in (("country", first, bits, country_ids),
                                       ("asn", first_asn, bits_asn, asn_ids)):
        for chunk_first, chunk_bits, chunk_ids in zip(firsts, lengths, ids, strict=True):
            for start, length, ident in zip(chunk_first, chunk_bits, chunk_ids, strict=True):
                if start <= _MAX_IPV4:
                    arrays[f"v4_{kind}_first"].append(start)
                    arrays[f"v4_{kind}_bits"].append(length)
                    arrays[f"v4_{kind}_id"].append(ident)
                else:
                    arrays[f"v6_{kind}_hi"].append(start >> 64)
                    arrays[f"v6_{kind}_lo"].append(start & _LOW64)
                    arrays[f"v6_{kind}_bits"].append(length)
                    arrays[f"v6_{kind}_id"].append(ident)
    del first, first_asn, country_ids, asn_ids, bits, bits_asn
    # AS id 0 is geoip2fast's "<unknown>": no name
    names = b"".join(n.encode() if i else b"" for i, n in enumerate(asn_names))
    end = 0
    for i, name in enumerate(asn_names):
        end += len(name.encode()) if i else 0
        arrays["asn_name_ends"].append(end)
    countries = [name.split(":")[0] if i >= _GEOIP2FAST_PRIVATE_IDS else ""
                 for i, name in enumerate(country_names)]
    sections, offset = {}, 0
    for name, _ in _SECTIONS:
        sections[name] = (offset, len(arrays[name]))
        offset += _aligned(len(arrays[name]) * arrays[name].itemsize)
    sections["asn_names"] = (offset, len(names))
    header = json.dumps({"source": info.get("info", ""), "countries": countries,
                         "sections": sections}).encode()
    temporary = f"{target}.{os.getpid()}.tmp"
    with open(temporary, "wb") as out:
        out.write(_MAGIC + len(header).to_bytes(4, "little") + header)
        out.write(bytes(_aligned(out.tell()) - out.tell()))
        for name, _ in _SECTIONS:
            data = arrays[name].tobytes()
            out.write(data + bytes(_aligned(len(data)) - len(data)))
        out.write(names)
    os.replace(temporary, target)


def _aligned(size: int) -> int:
    return (size + 7) // 8 * 8


class CompactGeo:
    """The compact file, memory-mapped; lookups bisect its arrays in place."""

    def __init__(self, path: str | Path) -> None:
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        # a bisect touches ~20 scattered pages; read-ahead would map megabytes around them
        self._map.madvise(mmap.MADV_RANDOM)
        if self._map[:len(_MAGIC)] != _MAGIC:
            raise ValueError(f"{path}: not a compact geolocation file")
        start = len(_MAGIC) + 4
        size = int.from_bytes(self._map[len(_MAGIC):start], "little")
        header = json.loads(self._map[start:start + size])
        base = _aligned(start + size)
        view = memoryview(self._map)
        self._countries: list[str] = header["countries"]
        self.source: str = header["source"]
        self._arrays = {}
        for name, code in _SECTIONS:
            offset, count = header["sections"][name]
            width = array.array(code).itemsize
            self._arrays[name] = view[base + offset:base + offset + count * width].cast(code)
        offset, count = header["sections"]["asn_names"]
        self._names = view[base + offset:base + offset + count]

    def lookup(self, ip: str) -> GeoFacts:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return GeoFacts()
        number, version = int(address), address.version
        country = self._find("country", number, version)
        asn = self._find("asn", number, version)
        return GeoFacts(country=_country(self._countries[country] if country is not None
                                         else ""),
                        as_name=self._as_name(asn) if asn is not None else "")

    def _find(self, kind: str, number: int, version: int) -> int | None:
        """The id of the network holding `number`, or None outside every network."""
        a = self._arrays
        if version == 4:
            prefix, width = "v4", 32
            firsts = a[f"v4_{kind}_first"]
            index = bisect_right(firsts, number) - 1
            start = firsts[index] if index >= 0 else 0
        else:
            prefix, width = "v6", 128
            highs, lows = a[f"v6_{kind}_hi"], a[f"v6_{kind}_lo"]
            high = number >> 64
            # sorted by (high, low): bisect the highs, then the lows among equal highs
            index = bisect_right(lows, number & _LOW64, bisect_left(highs, high),
                                 bisect_right(highs, high)) - 1
            start = (highs[index] << 64) | lows[index] if index >= 0 else 0
        if index < 0 or number - start >= 1 << (width - a[f"{prefix}_{kind}_bits"][index]):
            return None
        return a[f"{prefix}_{kind}_id"][index]

    def _as_name(self, ident: int) -> str:
        ends = self._arrays["asn_name_ends"]
        if not 0 < ident < len(ends):
            return ""
        return bytes(self._names[ends[ident - 1]:ends[ident]]).decode("utf-8", "replace")


class Geoip2fastData:
    """geoip2fast's bundled data, opened the first time an address is looked up: the
    compact cached form when it can be had (see the module docstring), else geoip2fast
    itself."""

    def __init__(self, cache: Path | None = None) -> None:
        self._cache = cache if cache is not None else cache_dir()
        self._geo = None
        self.description = "geoip2fast data (not loaded: no public server address was seen)"

    @property
    def loaded(self) -> bool:
        return self._geo is not None

    def lookup(self, ip: str) -> GeoFacts:
        if self._geo is None:
            self._load()
        if isinstance(self._geo, CompactGeo):
            return self._geo.lookup(ip)
        found = self._geo.lookup(ip)
        # This data names networks but carries no AS numbers.
        return GeoFacts(country=_country(found.country_code), as_name=found.asn_name or "")

    def _load(self) -> None:
        import geoip2fast

        compact = self._compact()
        if compact is not None:
            self._geo = compact
            self.description = (f"geoip2fast {geoip2fast.__version__}, "
                                f"{_dated(compact.source)} (country + AS name, IPv4 + IPv6)")
            return
        self._geo = geoip2fast.GeoIP2Fast(geoip2fast_data_file=_GEOIP2FAST_FILE)
        self.description = (f"geoip2fast {geoip2fast.__version__}, "
                            f"{_dated(str(self._geo.source_info))} (country + AS name, "
                            f"IPv4 + IPv6; loaded in full: the compact cache in "
                            f"{self._cache} could not be built)")

    def _compact(self) -> CompactGeo | None:
        """The compact file for this geoip2fast data, built first if need be."""
        import geoip2fast

        source = _geoip2fast_source()
        try:
            stat = source.stat()
            target = self._cache / (f"geoip2fast-{geoip2fast.__version__}-{stat.st_size}-"
                                    f"{stat.st_mtime_ns}.geo")
            if not target.exists():
                self._cache.mkdir(parents=True, exist_ok=True)
                _build_in_child(source, target)
            return CompactGeo(target)
        except (OSError, ValueError, KeyError, subprocess.SubprocessError):
            return None


def _build_in_child(source: Path, target: Path) -> None:
    """Run `build_compact` in a child process, so that geoip2fast's lists never count
    towards this process's memory."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    code = ("import sys; from auditor.judge.geo import build_compact; "
            "build_compact(sys.argv[1], sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(source), str(target)], env=env,
                   check=True, capture_output=True, timeout=_BUILD_TIMEOUT)


class MaxMindData:
    """A `.mmdb` file: a country database, an ASN database, or one with both."""

    def __init__(self, path: str) -> None:
        try:
            import maxminddb
        except ImportError:
            raise InputError(f"{path}: reading --geoip files needs the maxminddb package; "
                             f"pip install maxminddb") from None
        try:
            self._reader = maxminddb.open_database(path)
        except FileNotFoundError:
            raise InputError(f"{path}: no such file; check the --geoip path") from None
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as e:
            raise InputError(f"{path}: not a MaxMind .mmdb database ({e}); give a GeoLite2, "
                             f"DB-IP or IPinfo .mmdb file") from None
        meta = self._reader.metadata()
        built = datetime.fromtimestamp(meta.build_epoch, UTC).strftime("%Y-%m-%d")
        self.description = f"{Path(path).name} ({meta.database_type}), build {built}"

    def lookup(self, ip: str) -> GeoFacts:
        try:
            record = self._reader.get(ip)
        except ValueError:
            return GeoFacts()
        if not isinstance(record, dict):
            return GeoFacts()
        country = record.get("country") or record.get("registered_country") or ""
        if isinstance(country, dict):  # GeoLite2 / DB-IP layout
            country = country.get("iso_code", "")
        asn = record.get("autonomous_system_number")
        if asn is None and str(record.get("asn", "")).upper().startswith("AS"):  # IPinfo
            asn = record["asn"][2:]
        as_name = record.get("autonomous_system_organization") or record.get("as_name") or ""
        return GeoFacts(country=_country(country),
                        asn=int(asn) if str(asn or "").isdigit() else None,
                        as_name=str(as_name))


class GeoData:
    """The user's database when given, with geoip2fast filling what it lacks (an ASN-only
    database has no countries, a country database no networks)."""

    def __init__(self, mmdb_path: str | None = None) -> None:
        self._user = MaxMindData(mmdb_path) if mmdb_path else None
        self._bundled = Geoip2fastData()

    @property
    def description(self) -> str:
        if self._user is None:
            return self._bundled.description
        if not self._bundled.loaded:
            return self._user.description
        return f"{self._user.description}; gaps from {self._bundled.description}"

    def lookup(self, ip: str) -> GeoFacts:
        if self._user is None:
            return self._bundled.lookup(ip)
        mine = self._user.lookup(ip)
        if mine.country and mine.as_name:
            return mine
        other = self._bundled.lookup(ip)
        return GeoFacts(country=mine.country or other.country, asn=mine.asn,
                        as_name=mine.as_name or other.as_name)

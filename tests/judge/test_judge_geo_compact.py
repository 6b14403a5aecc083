"""The compact, memory-mapped form of geoip2fast's country + ASN data (auditor/judge/geo.py):
the same answers as geoip2fast, in a fraction of its memory, built once in a child process."""

from __future__ import annotations

import ipaddress
import random
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.judge.geo import Geoip2fastData, _country

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("geo-cache")


@pytest.fixture(scope="module")
def compact(cache) -> Geoip2fastData:
    data = Geoip2fastData(cache=cache)
    data.lookup("8.8.8.8")
    return data


def _addresses() -> list[str]:
    rng = random.Random(2014)
    v4 = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(3000)]
    v6 = [str(ipaddress.IPv6Address((0x2000 + rng.getrandbits(13) << 112)
                                    | rng.getrandbits(112))) for _ in range(3000)]
    return v4 + v6 + ["8.8.8.8", "1.1.1.1", "111.13.100.91", "2001:4860:4860::8888",
                      "240e:e9:6002::1", "2a00:1450:4001:82b::200e"]


def test_the_compact_file_is_built_once_and_described(compact, cache):
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".geo"
    assert "loaded in full" not in compact.description
    assert "geoip2fast" in compact.description and "IPv4 + IPv6" in compact.description
    again = Geoip2fastData(cache=cache)
    again.lookup("1.1.1.1")
    assert list(cache.iterdir()) == files


def test_answers_agree_with_geoip2fast(compact):
    import geoip2fast

    full = geoip2fast.GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz")
    named = 0
    for ip in _addresses():
        theirs, ours = full.lookup(ip), compact.lookup(ip)
        assert ours.country == _country(theirs.country_code), ip
        # geoip2fast names the network before an IPv4 address that no network holds
        holds = bool(theirs.asn_cidr) and ipaddress.ip_address(ip) in ipaddress.ip_network(
            theirs.asn_cidr, strict=False)
        expected = theirs.asn_name if holds and theirs.asn_name != "<unknown>" else ""
        assert ours.as_name == expected, ip
        named += bool(ours.as_name)
    assert named > 1000  # the sample does reach named networks, in both families
    assert compact.lookup("2001:4860:4860::8888").as_name == "GOOGLE"
    assert compact.lookup("not an address").country == ""


def test_a_run_maps_only_what_it_touches(compact, cache):
    """Peak RSS of a process that opens the compact data and looks 200 addresses up, next
    to one that only imports the engine; geoip2fast loaded in full adds ~108 MB."""
    lookups = ("import resource, sys; from pathlib import Path; import auditor.engine; "
               "from auditor.judge.geo import Geoip2fastData; "
               "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
               "g = Geoip2fastData(cache=Path(sys.argv[1])); "
               "[g.lookup(f'{a}.23.7.9') for a in range(1, 201)]; "
               "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)")
    grown = subprocess.run([sys.executable, "-c", lookups, str(cache)], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert int(grown) < 30, f"{grown} MB"


def test_without_a_writable_cache_the_data_is_loaded_in_full(tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    data = Geoip2fastData(cache=blocked / "handset-auditor")
    assert data.lookup("8.8.8.8").country == "US"
    assert "loaded in full" in data.description

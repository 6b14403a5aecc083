"""Destinations: address scope, country and network from offline data, organisation and
party from the domain map."""

from __future__ import annotations

import pytest

from auditor.judge.destination import DestinationResolver, address_scope
from auditor.judge.organisations import load_organisations
from auditor.model import InputError


@pytest.fixture(scope="module")
def resolver() -> DestinationResolver:
    return DestinationResolver(vendor="Xiaomi")


@pytest.mark.parametrize(("ip", "scope"), [
    ("8.8.8.8", "public"), ("2001:4860:4860::8888", "public"),
    ("10.1.2.3", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("100.64.0.1", "private"), ("fd12:3456::1", "private"),
    ("127.0.0.1", "loopback"), ("::1", "loopback"),
    ("169.254.10.10", "link-local"), ("fe80::1", "link-local"),
    ("192.0.2.10", "documentation"), ("198.51.100.7", "documentation"),
    ("203.0.113.99", "documentation"), ("2001:db8::42", "documentation"),
    ("224.0.0.251", "multicast"), ("ff02::fb", "multicast"),
    ("::ffff:8.8.4.4", "public"), ("::ffff:10.0.0.1", "private"),
    ("0.0.0.0", "unknown"), ("not-an-ip", "unknown"), ("", "unknown"),
])
def test_address_scope(ip, scope):
    assert address_scope(ip) == scope


@pytest.mark.parametrize(("ip", "country", "as_name"), [
    ("8.8.8.8", "US", "GOOGLE"),
    ("1.1.1.1", "AU", "CLOUDFLARENET"),
    ("114.114.114.114", "CN", ""),
    ("111.13.100.91", "CN", "China Mobile"),
    ("2001:4860:4860::8888", "US", "GOOGLE"),
])
def test_public_addresses_get_country_and_network(resolver, ip, country, as_name):
    found = resolver.resolve(ip, ip)
    assert (found.scope, found.country) == ("public", country)
    assert as_name in found.as_name and found.as_name
    assert "geoip2fast" in resolver.data_description
    assert "20" in resolver.data_description  # the data's date is shown


@pytest.mark.parametrize("ip", ["10.0.0.7", "192.0.2.1", "2001:db8::1", "127.0.0.1", "fe80::2"])
def test_non_public_addresses_are_never_geolocated(resolver, ip):
    found = resolver.resolve("api.account.xiaomi.com", ip)
    assert (found.country, found.asn, found.as_name) == ("", None, "")
    assert found.scope == address_scope(ip)
    assert found.organisation == "Xiaomi"  # the name still says who runs it


def test_geolocation_data_loads_only_for_public_addresses():
    lazy = DestinationResolver()
    lazy.resolve("router.lan", "192.168.1.1")
    assert "not loaded" in lazy.data_description


@pytest.mark.parametrize(("vendor", "host", "organisation", "party"), [
    ("Xiaomi", "api.account.xiaomi.com", "Xiaomi", "first"),
    ("xiaomi", "data.mistat.xiaomi.com", "Xiaomi", "first"),
    ("MIUI", "sdkconfig.ad.intl.xiaomi.com", "Xiaomi", "first"),  # an alias of the vendor
    ("Xiaomi", "app-measurement.com", "Google", "third"),
    ("Xiaomi", "graph.facebook.com", "Meta", "third"),
    ("Xiaomi", "alog.umeng.com", "Umeng", "third"),
    ("Realme", "dcs-en.allawnos.com", "OPPO", "first"),
    ("Xiaomi", "tracker.unknown-example.net", "", "unknown"),
    ("", "api.account.xiaomi.com", "Xiaomi", "unknown"),  # no vendor: no judgement of party
    ("Xiaomi", "notxiaomi.com", "", "unknown"),
])
def test_organisation_and_party(vendor, host, organisation, party):
    found = DestinationResolver(vendor=vendor).resolve(host, "10.0.0.1")
    assert (found.organisation, found.party) == (organisation, party)


def test_host_literal_is_used_when_no_ip_is_known(resolver):
    found = resolver.resolve("192.0.2.5:443", "")
    assert (found.ip, found.scope, found.organisation) == ("192.0.2.5", "documentation", "")


def test_organisation_map_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "orgs.yaml"
    bad.write_text("kind: organisations\norganisations:\n  - name: A\n    domains: [a.com]\n"
                   "  - name: B\n    domains: [A.com]\n    source: x\n")
    with pytest.raises(InputError, match=r"orgs.yaml:3: an organisation needs 'source:'"):
        load_organisations(bad)
    bad.write_text("kind: organisations\norganisations:\n  - {name: A, domains: [a.com], "
                   "source: x}\n  - {name: B, domains: [a.com], source: y}\n")
    with pytest.raises(InputError, match=r"orgs.yaml:4: domain 'a.com' is already listed for A"):
        load_organisations(bad)
    with pytest.raises(InputError, match="no such file"):
        DestinationResolver(geoip_path=str(tmp_path / "missing.mmdb"))


def test_bundled_map_lists_a_source_for_every_organisation():
    organisations = load_organisations().organisations
    assert len(organisations) >= 30
    assert all(o.source and o.domains for o in organisations)

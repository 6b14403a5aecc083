"""Rule evaluation: consent timeline, and every condition of `when`."""

from __future__ import annotations

import pytest
from judge_builders import destination, exchange, observation

from auditor.judge import PolicySet, Rule, consent_phase, evaluate
from auditor.judge.rules import DestinationConditions, OptInMatcher
from auditor.model import Severity, expand_data


def rule(**conditions) -> Rule:
    to = conditions.pop("to", DestinationConditions())
    data = expand_data(conditions.pop("data", ["identifiers"]))
    return Rule(id="r", title="t", severity=Severity.HIGH, description="", data=data, to=to,
                **conditions)


def fires(r: Rule, ex=None, observations=None, opt_in_at=None, dest=None) -> bool:
    ex = ex or exchange()
    observations = [observation()] if observations is None else observations
    return bool(evaluate(PolicySet(rules=[r]), ex, observations, opt_in_at, dest))


@pytest.mark.parametrize(("time", "opt_in_at", "phase"), [
    (100.0, None, "before-opt-in"),
    (100.0, 150.0, "before-opt-in"),
    (150.0, 150.0, "after-opt-in"),  # the opt-in request itself is the agreement
    (200.0, 150.0, "after-opt-in"),
])
def test_consent_phase(time, opt_in_at, phase):
    assert consent_phase(time, opt_in_at) == phase


def test_consent_condition_follows_the_timeline():
    before, after = rule(consent="before-opt-in"), rule(consent="after-opt-in")
    early, late = exchange(time=100.0), exchange(time=200.0)
    assert fires(before, early, opt_in_at=150.0) and not fires(before, late, opt_in_at=150.0)
    assert fires(after, late, opt_in_at=150.0) and not fires(after, early, opt_in_at=150.0)
    assert fires(before, late, opt_in_at=None)  # no opt-in known: all of it is before
    hit, = evaluate(PolicySet(rules=[rule()]), late, [observation()], 150.0, None)
    assert hit.consent == "after-opt-in"


def test_data_types_and_groups():
    assert fires(rule(data=["identifiers"]), observations=[observation("imsi")])
    assert not fires(rule(data=["identifiers"]), observations=[observation("sms")])
    assert fires(rule(data=["sms"]), observations=[observation("imei"), observation("sms")])
    assert not fires(rule(), observations=[])


def test_only_fitting_observations_are_evidence():
    hit, = evaluate(PolicySet(rules=[rule(data=["sim-ids"])]), exchange(),
                    [observation("imei"), observation("imsi"), observation("iccid")], None, None)
    assert [o.data_type for o in hit.observations] == ["imsi", "iccid"]


@pytest.mark.parametrize(("transport", "cleartext", "encrypted"), [
    ("http", True, False), ("dns", True, False), ("tcp", True, False),
    ("https", False, True), ("tls", False, True), ("quic", False, True),
])
def test_transport(transport, cleartext, encrypted):
    ex = exchange(transport=transport)
    assert fires(rule(transport="cleartext"), ex) is cleartext
    assert fires(rule(transport="encrypted"), ex) is encrypted
    assert fires(rule(transport="any"), ex)


def test_encoding():
    plain, hashed = [observation(hashed=False)], [observation(hashed=True)]
    assert fires(rule(encoding="readable"), observations=plain)
    assert not fires(rule(encoding="readable"), observations=hashed)
    assert fires(rule(encoding="hashed"), observations=hashed)
    assert not fires(rule(encoding="hashed"), observations=plain)


def test_match_and_confirmation_by_a_known_value():
    known, pattern = observation(match="known"), observation(match="pattern")
    assert fires(rule(match="known"), observations=[known])
    assert not fires(rule(match="known"), observations=[pattern])
    assert fires(rule(match="pattern"), observations=[pattern])
    # The same place already matched as a known value: judged once, as known.
    assert not fires(rule(match="pattern"), observations=[known, pattern])
    elsewhere = observation(match="pattern", key="deviceId")
    assert fires(rule(match="pattern"), observations=[known, elsewhere])


@pytest.mark.parametrize(("host", "hosts", "not_hosts", "expected"), [
    ("api.account.xiaomi.com", ("*.xiaomi.com",), (), True),
    ("xiaomi.com", ("*.xiaomi.com",), (), True),  # the bare domain belongs to *.domain
    ("API.Account.Xiaomi.COM", ("*.xiaomi.com",), (), True),
    ("api.account.xiaomi.com:8080", ("*.xiaomi.com",), (), True),
    ("evilxiaomi.com", ("*.xiaomi.com",), (), False),
    ("data.mistat.xiaomi.com", (), ("data.*.xiaomi.com",), False),
    ("tracking.example.net", (), ("*.xiaomi.com",), True),
    ("tracking.example.net", ("tracking.example.ne?",), (), True),
])
def test_hosts(host, hosts, not_hosts, expected):
    r = rule(to=DestinationConditions(hosts=hosts, not_hosts=not_hosts))
    assert fires(r, exchange(host=host)) is expected


@pytest.mark.parametrize(("conditions", "dest", "expected"), [
    ({"countries": frozenset({"CN"})}, destination(country="CN"), True),
    ({"countries": frozenset({"CN"})}, destination(country="US"), False),
    ({"countries": frozenset({"CN"})}, destination(country="", scope="private"), False),
    ({"not_countries": frozenset({"DE", "FR"})}, destination(country="CN"), True),
    ({"not_countries": frozenset({"DE", "FR"})}, destination(country="DE"), False),
    # Where a private or unknown server really is cannot be told: no verdict on it.
    ({"not_countries": frozenset({"DE"})}, destination(country="", scope="private"), False),
    ({"not_countries": frozenset({"DE"})}, None, False),
    ({"organisations": frozenset({"xiaomi"})}, destination(organisation="Xiaomi"), True),
    ({"organisations": frozenset({"xiaomi"})}, destination(organisation="Google"), False),
    ({"not_organisations": frozenset({"xiaomi"})}, destination(organisation="Google"), True),
    ({"not_organisations": frozenset({"xiaomi"})}, destination(organisation=""), True),
    ({"not_organisations": frozenset({"xiaomi"})}, destination(organisation="Xiaomi"), False),
    ({"party": "third"}, destination(party="third"), True),
    ({"party": "third"}, destination(party="first"), False),
    ({"party": "third"}, destination(party="unknown"), False),
    ({"party": "first"}, destination(party="first"), True),
])
def test_destination_conditions(conditions, dest, expected):
    assert fires(rule(to=DestinationConditions(**conditions)), dest=dest) is expected


def test_unreadable_exchanges_carry_an_unreadable_observation():
    r = rule(data=["unreadable"], consent="before-opt-in")
    tls = exchange(transport="tls", method="", readable=False)
    hit, = evaluate(PolicySet(rules=[r]), tls, [], None, None)
    assert hit.observations[0].data_type == "unreadable"
    assert hit.observations[0].where == "sni"
    assert not fires(r, exchange(transport="https"), observations=[])
    given = observation("unreadable", where="udp", key="")
    hit, = evaluate(PolicySet(rules=[r]), tls, [given], None, None)
    assert hit.observations == (given,)  # the detector's own evidence is not doubled


@pytest.mark.parametrize(("matcher", "ex", "expected"), [
    (OptInMatcher(method="POST", host="*.xiaomi.com", path="/v1/consent*"),
     exchange(method="POST", path="/v1/consent/cloud-messaging"), True),
    (OptInMatcher(method="post", host="*.xiaomi.com", path="/v1/consent*"),
     exchange(method="POST", path="/v1/consent?x=1"), True),
    (OptInMatcher(method="POST", host="*.xiaomi.com", path="/v1/consent*"),
     exchange(method="GET", path="/v1/consent"), False),
    (OptInMatcher(method="POST", host="*.xiaomi.com", path="/v1/consent*"),
     exchange(host="api.example.com", path="/v1/consent"), False),
    (OptInMatcher(path="/settings", query="cloud_messaging=1"),
     exchange(path="/settings?cloud_messaging=1&x=2"), True),
    (OptInMatcher(path="/settings", query="cloud_messaging=1"),
     exchange(path="/settings?cloud_messaging=0"), False),
    (OptInMatcher(path="/consent", body='"accepted":true'),
     exchange(path="/consent", body=b'{"accepted":true}'), True),
    (OptInMatcher(path="/consent", body='"accepted":true'),
     exchange(path="/consent", body=b'{"accepted":false}'), False),
    (OptInMatcher(path="/consent"), exchange(transport="tls", method="", readable=False), False),
])
def test_opt_in_matchers(matcher, ex, expected):
    assert PolicySet(opt_in=[matcher]).is_opt_in(ex) is expected


def test_no_opt_in_matchers_means_no_opt_in():
    assert not PolicySet().is_opt_in(exchange(path="/v1/consent"))

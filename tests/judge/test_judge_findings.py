"""Hits grouped into findings, and fingerprints that survive another run."""

from __future__ import annotations

from judge_builders import exchange, observation

from auditor.judge import Hit, Rule, build_findings, fingerprint
from auditor.model import Severity


def make_rule(rule_id: str, severity: Severity) -> Rule:
    return Rule(id=rule_id, title=rule_id.title(), severity=severity, description="why",
                data=frozenset({"imei", "imsi"}), references=("https://example.org",),
                policy_file="rules/p.yaml", line=3)


def test_hits_are_grouped_by_rule_host_and_consent_and_ordered():
    high, critical = make_rule("ids", Severity.HIGH), make_rule("content", Severity.CRITICAL)
    a1, a2 = exchange(1, time=10.0), exchange(2, time=5.0)
    b = exchange(3, time=1.0, host="other.example.com")
    hits = [
        Hit(high, a1, (observation("imei", exchange=1),), "before-opt-in"),
        Hit(high, a2, (observation("imsi", exchange=2, key="s"),), "before-opt-in"),
        Hit(high, a1, (observation("imei", exchange=1),), "after-opt-in"),
        Hit(high, b, (observation("imei", exchange=3),), "before-opt-in"),
        Hit(critical, a1, (observation("imei", exchange=1),), "before-opt-in"),
    ]
    findings = build_findings(hits, [a1, a2, b])
    assert [(f.id, f.rule, f.host, f.consent) for f in findings] == [
        ("F1", "content", "api.account.xiaomi.com", "before-opt-in"),
        ("F2", "ids", "other.example.com", "before-opt-in"),
        ("F3", "ids", "api.account.xiaomi.com", "before-opt-in"),
        ("F4", "ids", "api.account.xiaomi.com", "after-opt-in"),
    ]
    grouped = findings[2]
    assert grouped.exchanges == (2, 1)  # time order
    assert grouped.first_seen == 5.0
    assert grouped.data_types == ("imei", "imsi")
    assert [o.exchange for o in grouped.observations] == [2, 1]
    assert (grouped.severity, grouped.title, grouped.description, grouped.references,
            grouped.policy_file) == (Severity.HIGH, "Ids", "why", ("https://example.org",),
                                     "rules/p.yaml")
    assert len({f.fingerprint for f in findings}) == 4


def test_fingerprint_ignores_ids_ports_times_order_and_array_indexes():
    base = fingerprint("no-ids", "api.example.com", ["imei", "imsi"],
                       [("body", "$.contacts[3].phone"), ("query", "imei")])
    assert len(base) == 16 and int(base, 16) >= 0
    assert fingerprint("no-ids", "API.example.com:8080", ("imsi", "imei"),
                       [("query", "imei"), ("body", "$.contacts[0].phone"),
                        ("body", "$.contacts[12].phone")]) == base
    assert fingerprint("no-ids", "api.example.com", ["imei"], [("query", "imei")]) != base
    assert fingerprint("other", "api.example.com", ["imei", "imsi"],
                       [("body", "$.contacts[].phone"), ("query", "imei")]) != base
    assert fingerprint("no-ids", "api.example.org", ["imei", "imsi"],
                       [("body", "$.contacts[].phone"), ("query", "imei")]) != base
    assert fingerprint("no-ids", "api.example.com", ["imei", "imsi"],
                       [("body", "$.contacts[].phone"), ("header", "imei")]) != base


def test_findings_of_another_run_keep_their_fingerprints():
    r = make_rule("ids", Severity.HIGH)
    first = build_findings([Hit(r, exchange(1, time=10.0, server="1.2.3.4:80"),
                                (observation(exchange=1, key="$.d[0].imei"),),
                                "before-opt-in")], [])
    second = build_findings([Hit(r, exchange(7, time=99.0, server="1.2.3.4:8080"),
                                 (observation(exchange=7, key="$.d[5].imei"),),
                                 "before-opt-in")], [])
    assert first[0].fingerprint == second[0].fingerprint

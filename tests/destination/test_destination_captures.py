"""Country rules on real captures whose server addresses are rewritten (issue 8).

The sample capture was recorded on loopback and its server addresses were rewritten once
to Chinese public addresses (captures/recorder.py). Here the same packets are rewritten
again by the same function (scapy) — IP source/destination swapped for a German public address
(212.227.0.0/16, IONOS, geolocates to DE in the bundled data), checksums recomputed, payloads and timestamps untouched —
so one capture can be judged against "no identifiers outside the EU" both ways.
"""

import sys

import pytest
from auditor_paths import ROOT, SAMPLE

from auditor.cli import main

sys.path.insert(0, str(ROOT / "captures"))
from recorder import rewrite_addresses

EU_POLICY = str(ROOT / "rules" / "examples" / "eu-only.yaml")
CN_SERVERS = {"42.62.94.174", "120.92.96.37"}
DE_SERVER = "212.227.17.1"


def rewrite_servers(src, dst, new_ip):
    rewrite_addresses(src, dst, {ip: new_ip for ip in CN_SERVERS})


@pytest.fixture
def eu_case(sample_case):
    rewrite_servers(SAMPLE / "capture.pcap", sample_case / "capture.pcap", DE_SERVER)
    return sample_case


def analyze_json(tmp_path, capture):
    import json

    out = tmp_path / "r.json"
    main(["analyze", str(capture), "--device", str(SAMPLE / "device.yaml"), "--policy",
          EU_POLICY, "--format", "json", "-o", str(out)])
    return json.loads(out.read_text())


def test_chinese_servers_break_the_eu_rule(tmp_path):
    report = analyze_json(tmp_path, SAMPLE / "capture.pcap")
    hits = [f for f in report["findings"] if f["rule"] == "no-identifiers-outside-eu"]
    assert [f["host"] for f in hits] == ["api.account.xiaomi.com"]
    assert hits[0]["destination"]["country"] == "CN"


def test_the_same_uploads_to_a_german_server_pass(tmp_path, eu_case):
    report = analyze_json(tmp_path, eu_case / "capture.pcap")
    assert not [f for f in report["findings"] if f["rule"] == "no-identifiers-outside-eu"]
    api = [e for e in report["exchanges"]
           if e["host"] == "api.account.xiaomi.com" and e["transport"] == "http"]
    assert api and all(e["destination"]["country"] == "DE" for e in api)


@pytest.mark.parametrize("rewritten, code", [(False, 1), (True, 0)])
def test_country_rule_in_check(sample_case, rewritten, code):
    if rewritten:
        rewrite_servers(SAMPLE / "capture.pcap", sample_case / "capture.pcap", DE_SERVER)
    (sample_case / "expect.yaml").write_text(
        f"policies: [{EU_POLICY}]\nexpect:\n  - {{rule: no-identifiers-to-third-parties, count: 0}}\n")
    assert main(["check", str(sample_case)]) == code

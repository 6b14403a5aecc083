"""The app behind each upload, read from PCAPdroid's pcap trailer and pcapng UID-map blocks."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from auditor.engine import Audit, analyze_files
from auditor.judge import load_policies
from auditor.model import App
from auditor.sources import open_capture
from auditor.sources.pcap.pcapdroid import trailer_app

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "captures" / "pcapdroid-apps"
PCAP = CASE / "capture.pcap"
PCAPNG = ROOT / "tests" / "fixtures" / "pcap" / "pcapdroid.pcapng"
PLAIN = ROOT / "tests" / "fixtures" / "pcap" / "http.pcap"


def _apps(path: Path) -> list[tuple[str, str, App | None]]:
    _, exchanges = open_capture(str(path), keylogs=[], progress=None)
    return [(e.transport, e.host, e.app) for e in exchanges]


def test_the_pcap_trailer_names_the_app_of_every_exchange():
    seen = {(transport, host): app for transport, host, app in _apps(PCAP)}
    assert seen[("http", "graph.facebook.com")] == App(uid=10123, name="Weather",
                                                       source="PCAPdroid pcap trailer")
    assert seen[("dns", "www.google.com")].uid == 10087
    assert seen[("http", "www.google.com")].label == "Chrome (uid 10087)"
    assert all(app is not None for app in seen.values())


def test_the_pcapng_uid_map_gives_package_and_name():
    seen = {(transport, host): app for transport, host, app in _apps(PCAPNG)}
    weather = seen[("http", "api.weather.example")]
    assert (weather.uid, weather.package, weather.name) == (10123, "com.example.weather",
                                                            "Weather")
    assert weather.label == "Weather (com.example.weather, uid 10123)"
    assert seen[("http", "www.google.com")].package == "com.android.chrome"


def test_a_capture_without_app_metadata_invents_none():
    assert all(app is None for _, _, app in _apps(PLAIN))


def test_the_magic_inside_a_payload_is_not_a_trailer():
    # an Ethernet/IPv4 frame whose payload ends with the magic and 28 more bytes, but the
    # IP packet runs to the end of the frame: no PCAPdroid padding and trailer after it
    payload = b"x" * 10 + struct.pack("!I", 0x01072021) + b"\0" * 28
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, 17, 0,
                     bytes(4), bytes(4)) + payload
    frame = bytes(12) + b"\x08\x00" + ip
    assert trailer_app(frame, 0, len(frame)) is None


def test_findings_group_and_name_by_app_and_from_apps_selects(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("""\
rules:
  - id: weather-ad-id
    title: The weather app sends the advertising ID
    severity: high
    when:
      data: [advertising_id]
      from: {apps: [com.example.*, Weather]}
  - id: not-weather
    title: Others send the advertising ID
    severity: high
    when:
      data: [advertising_id]
      from: {not_apps: [Weather]}
""")
    audit = Audit(None, load_policies([str(policy)]))
    result = analyze_files([str(PCAP)], audit)
    assert {f.rule for f in result.findings} == {"weather-ad-id"}
    assert {f.app for f in result.findings} == {"Weather (uid 10123)"}
    plain = analyze_files([str(PLAIN)], Audit(None, load_policies([str(policy)])))
    assert all(f.rule != "not-weather" for f in plain.findings)  # unknown app: no guess


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_pcapdroids_own_dissector_reads_the_fixtures_as_the_auditor_does(tmp_path):
    """tools/pcapdroid.lua (PCAPdroid's Wireshark dissector, copied beside this test)."""
    lua = Path(__file__).with_name("pcapdroid.lua")
    for path, field in ((PCAP, "pcapdroid.appname"), (PCAPNG, "pcapdroid.packagename")):
        out = subprocess.run(["tshark", "-X", f"lua_script:{lua}", "-r", str(path), "-T",
                              "fields", "-e", "pcapdroid.uid", "-e", field],
                             capture_output=True, text=True, check=True).stdout
        rows = {tuple(line.split("\t")) for line in out.splitlines() if line}
        assert rows == ({("10123", "Weather"), ("10087", "Chrome")} if path == PCAP else
                        {("10123", "com.example.weather"), ("10087", "com.android.chrome")})


def test_an_apps_fingerprint_does_not_depend_on_its_uid():
    from dataclasses import replace

    from auditor.judge import Hit, build_findings
    from auditor.judge.rules import Rule
    from auditor.model import Exchange, Observation, Severity

    rule = Rule(id="r", title="t", severity=Severity.HIGH, description="",
                data=frozenset({"imei"}))
    base = Exchange(id=1, time=1.0, client="", server="", host="h.example", transport="http",
                    app=App(uid=10123, package="com.example.weather", name="Weather"))
    seen = Observation(exchange=1, data_type="imei", where="query", key="imei",
                       encodings=("plain",), match="known", value="1")
    prints = set()
    for uid in (10123, 10999):
        exchange = replace(base, app=replace(base.app, uid=uid))
        finding, = build_findings([Hit(rule, exchange, (seen,), "before-opt-in")], [exchange])
        prints.add(finding.fingerprint)
    without = build_findings([Hit(rule, replace(base, app=None), (seen,), "before-opt-in")],
                             [base])[0].fingerprint
    assert len(prints) == 1 and without not in prints


def test_an_unreadable_pcapdroid_block_is_a_warning_and_the_uid_stays(tmp_path):
    data = bytearray(PCAPNG.read_bytes())
    at = data.find(struct.pack("<II", 0xBAD, 0)[:4])  # the first custom block
    assert at > 0
    struct.pack_into("<H", data, at + 12, 7)  # its version: 7
    damaged = tmp_path / "damaged.pcapng"
    damaged.write_bytes(bytes(data))
    info, exchanges = open_capture(str(damaged), keylogs=[], progress=None)
    apps = {e.app for e in exchanges if e.host == "api.weather.example"}
    assert apps == {App(uid=10123, source="PCAPdroid pcapng packet comment")}
    assert any(f"custom block at offset {at}: PCAPdroid block version 7" in w
               for w in info.warnings)

"""The SDKs behind each host, from the bundled Exodus list, read strictly."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from auditor.judge import load_policies, validate_files
from auditor.judge.destination import DestinationResolver
from auditor.judge.trackers import BUNDLED_TRACKERS, load_trackers
from auditor.model import InputError


def test_the_bundled_list_is_the_byte_exact_snapshot_with_its_notice():
    raw = BUNDLED_TRACKERS.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == (
        "4fe6319f60286db64cf71b93597610a0b676135162b009b2845fe271dff905b7")
    assert len(json.loads(raw)["trackers"]) == 432
    notice = (BUNDLED_TRACKERS.parent / "exodus-trackers.NOTICE").read_text()
    assert "Open Database License" in notice and "Exodus Privacy" in notice
    assert (BUNDLED_TRACKERS.parent / "exodus-trackers.SOURCE.md").is_file()


@pytest.fixture(scope="module")
def resolver():
    return DestinationResolver()


@pytest.mark.parametrize(("host", "organisation", "trackers", "categories"), [
    ("firebaselogging-pa.googleapis.com", "Google", ("Google Firebase Analytics",),
     ("Analytics",)),
    ("googleads.g.doubleclick.net", "Google", ("Google AdMob",), ("Advertisement",)),
    # `\.google\.com` (Google Ads) covers all of google.com: the map names Google, no SDK
    ("www.google.com", "Google", (), ()),
    # seven Facebook SDKs share `\.facebook\.com`: one of them, no category they all have
    ("graph.facebook.com", "Meta", ("Facebook Ads", "Facebook Analytics", "Facebook Audience",
                                    "Facebook Login", "Facebook Notifications",
                                    "Facebook Places", "Facebook Share"), ()),
    # unescaped dots are dots, and matches begin at a label boundary
    ("appnextxcom.example.org", "", (), ()),
    ("notmopub.com", "", (), ()),
    ("ads.mopub.com", "", ("Twitter MoPub",), ("Advertisement", "Analytics")),
    ("api.weather.example", "", (), ()),
])
def test_each_receiver_is_named_with_its_sdks(resolver, host, organisation, trackers,
                                                categories):
    destination = resolver.resolve(host, "")
    assert destination.organisation == organisation
    assert destination.trackers == trackers
    assert destination.tracker_categories == categories
    assert destination.named_by == (("organisation map",) if organisation else ()) + (
        ("Exodus tracker list",) if trackers else ())


def test_a_domain_wide_signature_says_why_it_named_no_sdk(resolver):
    note = resolver.resolve("www.google.com", "").tracker_note
    assert "Google Ads" in note and "organisation map names Google" in note


def test_a_refreshed_list_is_validated(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text('{"trackers": {"1": {"name": "X", "network_signature": "(("}}}')
    with pytest.raises(InputError, match=r"t.json: tracker 1 \(X\): network signature"):
        load_trackers(bad)
    bad.write_text("<html>rate limited</html>")
    with pytest.raises(InputError, match="not JSON"):
        load_trackers(bad)
    bad.write_text('{"trackers": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(InputError, match="JSON nested too deeply"):
        load_trackers(bad)


def test_policies_name_trackers_and_categories_checked_at_their_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""\
        rules:
          - id: r
            title: t
            severity: high
            when:
              data: [imei]
              to:
                trackers: [Google Firebase Analytcs]
                categories: [Adverts]
              from: {apps: [""], colour: red}
        """))
    errors = validate_files([str(path)])
    assert any(":8: unknown tracker 'Google Firebase Analytcs' (did you mean "
               "'Google Firebase Analytics'?" in e for e in errors)
    assert any(":9: bad tracker category 'Adverts'" in e for e in errors)
    assert any(":10: unknown key 'colour' in from" in e for e in errors)
    assert any(":10: an empty app" in e for e in errors)
    path.write_text(path.read_text().replace("Analytcs", "Analytics")
                    .replace("Adverts", "Analytics").replace('[""], colour: red', "[x]"))
    rule = load_policies([str(path)]).rules[0]
    assert rule.to.trackers == {"google firebase analytics"}
    assert rule.sender.apps == ("x",)


@pytest.fixture
def served(tmp_path):
    """A local HTTP server (127.0.0.1, free port) serving files of tmp_path/www."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_refresh_saves_a_checked_download_unchanged(served, tmp_path, capsys):
    from auditor.cli import main

    root, base = served
    (root / "trackers").write_bytes(BUNDLED_TRACKERS.read_bytes())
    (root / "short").write_text('{"trackers": {"1": {"name": "X", "network_signature": "x"}}}')
    out = tmp_path / "list.json"
    assert main(["trackers", "refresh", "--url", f"{base}/trackers", "-o", str(out)]) == 0
    assert out.read_bytes() == BUNDLED_TRACKERS.read_bytes()
    assert "432 trackers (260 with host signatures)" in capsys.readouterr().out
    out.unlink()
    assert main(["trackers", "refresh", "--url", f"{base}/short", "-o", str(out)]) == 2
    assert "only 1 trackers" in capsys.readouterr().err and not out.exists()
    assert main(["trackers", "refresh", "--url", f"{base}/missing", "-o", str(out)]) == 2
    assert "cannot download" in capsys.readouterr().err and not out.exists()


def test_a_refreshed_list_is_used_and_named_in_the_report(tmp_path):
    from auditor.engine import analyze_files, build_audit

    changed = tmp_path / "list.json"
    document = json.loads(BUNDLED_TRACKERS.read_bytes())
    document["trackers"]["999"] = {"id": 999, "name": "Weather Ads", "network_signature":
                                   r"api\.weather\.example", "categories": ["Advertisement"],
                                   "website": ""}
    changed.write_text(json.dumps(document))
    case = Path(__file__).resolve().parents[2] / "captures" / "pcapdroid-apps"
    result = analyze_files([str(case / "capture.pcap")], build_audit(trackers=str(changed)))
    weather = next(d for i, d in result.destinations.items()
                   if result.exchange(i).host == "api.weather.example")
    assert weather.trackers == ("Weather Ads",)
    assert result.trackers.path == str(changed)
    assert result.trackers.sha256 == hashlib.sha256(changed.read_bytes()).hexdigest()

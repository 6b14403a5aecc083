"""The SDKs behind each host, from the bundled Exodus list, read strictly."""

from __future__ import annotations

import hashlib
import json
import textwrap

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

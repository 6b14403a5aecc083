"""Policy loading: every kind of mistake is reported at its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from auditor import BUNDLED_RULES
from auditor.judge import load_policies, validate_files
from auditor.model import DATA_GROUPS, InputError, Severity

GOOD_RULE = """\
rules:
  - id: no-imei
    title: IMEI leaves
    severity: high
    when:
      data: [imei]
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def test_a_full_rule_is_read_with_every_condition(tmp_path):
    path = write(tmp_path, """\
        consent:
          opt_in:
            - {method: POST, host: "*.example.com", path: "/v1/consent*", body: accepted}
        rules:
          - id: no-ids-abroad
            title: IDs abroad
            severity: critical
            description: >
              Why it
              matters.
            when:
              data: [sim-ids, email]
              consent: after-opt-in
              transport: encrypted
              encoding: hashed
              match: pattern
              to:
                hosts: ["*.Example.com"]
                not_hosts: [cdn.example.com]
                countries: [EU, US]
                not_countries: [NO]
                organisations: [Google]
                not_organisations: [Xiaomi]
                party: third
            references: [https://example.org/why]
            false_positives: [a lab server]
        """)
    policies = load_policies([path])
    (rule,) = policies.rules
    assert rule.severity is Severity.CRITICAL
    assert rule.data == frozenset({"imsi", "iccid", "phone_number", "email"})
    assert (rule.consent, rule.transport, rule.encoding, rule.match) == \
        ("after-opt-in", "encrypted", "hashed", "pattern")
    assert rule.description == "Why it matters."
    assert rule.to.hosts == ("*.example.com",)
    assert "DE" in rule.to.countries and "US" in rule.to.countries and "NO" not in rule.to.countries
    # `NO` stays Norway: values are read as written, not as YAML 1.1 booleans.
    assert rule.to.not_countries == frozenset({"NO"})
    assert rule.to.organisations == frozenset({"google"})
    assert rule.to.party == "third"
    assert rule.references == ("https://example.org/why",)
    assert rule.false_positives == ("a lab server",)
    assert (rule.policy_file, rule.line) == (path, 5)
    (matcher,) = policies.opt_in
    assert (matcher.method, matcher.host, matcher.path, matcher.body, matcher.line) == \
        ("POST", "*.example.com", "/v1/consent*", "accepted", 3)


@pytest.mark.parametrize(("text", "line", "message"), [
    (GOOD_RULE.replace("[imei]", "[imie]"), 6,
     "unknown data type 'imie' (did you mean 'imei'? known:"),
    (GOOD_RULE.replace("[imei]", "[device-idz]"), 6, "unknown data type 'device-idz' (did you"),
    (GOOD_RULE.replace("high", "hgh"), 4, "bad severity 'hgh' (did you mean 'high'? one of:"),
    (GOOD_RULE.replace("    title:", "    titel:"), 3, "unknown key 'titel' in a rule (did you"),
    (GOOD_RULE.replace("no-imei", "No_IMEI"), 2, "rule id 'No_IMEI' must be kebab-case"),
    (GOOD_RULE.replace("    title: IMEI leaves\n", ""), 2, "a rule needs 'title:'"),
    (GOOD_RULE.replace("    severity: high\n", ""), 2, "a rule needs 'severity:'"),
    (GOOD_RULE.replace("  - id: no-imei\n", "  - title: x\n").replace("    title: IMEI leaves\n",
                                                                      ""), 2, "a rule needs 'id:'"),
    (GOOD_RULE.replace("      data: [imei]", "      consent: any"), 6, "'when' needs 'data:'"),
    (GOOD_RULE + "      consent: before-optin\n", 7, "bad consent 'before-optin'"),
    (GOOD_RULE + "      transport: tls\n", 7, "bad transport 'tls'"),
    (GOOD_RULE + "      encoding: base64\n", 7, "bad encoding 'base64'"),
    (GOOD_RULE + "      match: exact\n", 7, "bad match 'exact'"),
    (GOOD_RULE + "      to: {hosts: ['http://x.com/a']}\n", 7, "looks like a URL"),
    (GOOD_RULE + "      to: {hosts: ['[ab.com']}\n", 7, "has an unclosed '['"),
    (GOOD_RULE + "      to: {not_hosts: ['a b.com']}\n", 7, "characters a host name cannot"),
    (GOOD_RULE + "      to: {countries: [XX]}\n", 7, "unknown country 'XX' in countries"),
    (GOOD_RULE + "      to: {not_countries: [EUR]}\n", 7, "unknown country 'EUR'"),
    (GOOD_RULE + "      to: {party: second}\n", 7, "bad party 'second'"),
    (GOOD_RULE + "      to: {contry: [DE]}\n", 7, "unknown key 'contry' in to (did you mean"),
    (GOOD_RULE + "      data: [imsi]\n", 7, "'data' given twice in when"),
    ("rulez: []\n", 1, "unknown key 'rulez' in a policy file (did you mean 'rules'?"),
    ("rules: {id: x}\n", 1, "'rules' must be a list of rules"),
    ("consent:\n  opt_in:\n    - {method: POST, path: 'v1/consent'}\n", 3,
     "path glob 'v1/consent' must start with '/'"),
    ("consent:\n  opt_in:\n    - {verb: POST}\n", 3, "unknown key 'verb' in an opt_in entry"),
    ("consent:\n  opt_in:\n    - {}\n", 3, "an empty opt_in entry would match every request"),
    ("kind: organisations\nrules: []\n", 1, "kind 'organisations' is not a policy"),
    ("rules:\n  - id: a\n    title: [x\n", 4, "malformed YAML"),
    ("rules:\n  - id: a\n\tseverity: high\n", 3, "malformed YAML"),
    ("", 1, "the file is empty"),
])
def test_each_mistake_is_reported_at_its_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    errors = validate_files([path])
    assert any(e.startswith(f"{path}:{line}: ") and message in e for e in errors), errors
    with pytest.raises(InputError) as raised:
        load_policies([path])
    assert str(raised.value).startswith(errors[0])


def test_every_error_of_every_file_is_listed(tmp_path):
    one = write(tmp_path, GOOD_RULE.replace("[imei]", "[imie, smss]"), "one.yaml")
    two = write(tmp_path, GOOD_RULE.replace("high", "urgent"), "two.yaml")
    errors = validate_files([one, two])
    assert [e.split(": ")[0] for e in errors] == [f"{one}:6", f"{one}:6", f"{two}:4"]
    with pytest.raises(InputError, match=r"\(and 2 more; run `auditor rules validate`\)"):
        load_policies([one, two])


def test_duplicate_rule_ids_across_files_name_both_places(tmp_path):
    first = write(tmp_path, GOOD_RULE, "a.yaml")
    second = write(tmp_path, "# another file\n" + GOOD_RULE, "b.yaml")
    assert validate_files([first, second]) == [
        f"{second}:3: duplicate rule id 'no-imei', already defined at {first}:2; ids are unique"]


def test_folders_load_sorted_and_skip_data_files(tmp_path):
    write(tmp_path, GOOD_RULE.replace("no-imei", "b-rule"), "b.yaml")
    write(tmp_path, GOOD_RULE.replace("no-imei", "a-rule"), "a.yml")
    write(tmp_path, "kind: organisations\norganisations: []\n", "orgs.yaml")
    write(tmp_path, "hints: [imei]\n", "key-hints.yaml")
    write(tmp_path, "not yaml at all: [", "notes.txt")
    policies = load_policies([str(tmp_path)])
    assert [r.id for r in policies.rules] == ["a-rule", "b-rule"]
    assert [Path(f).name for f in policies.files] == ["a.yml", "b.yaml"]


def test_missing_path_and_empty_folder_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such policy file or folder"):
        load_policies([str(tmp_path / "nope.yaml")])
    with pytest.raises(InputError, match="no policy files"):
        load_policies([str(tmp_path)])


def test_a_lone_value_counts_as_a_list_of_one(tmp_path):
    (rule,) = load_policies([write(tmp_path, GOOD_RULE.replace("[imei]", "content"))]).rules
    assert rule.data == frozenset(DATA_GROUPS["content"])


def test_bundled_policies_load_and_validate():
    assert validate_files([str(BUNDLED_RULES), str(BUNDLED_RULES / "examples")]) == []
    policies = load_policies(None)
    assert policies.files == ["rules/baseline.yaml", "rules/xiaomi-2014.yaml"]
    ids = {r.id for r in policies.rules}
    assert {"no-identifiers-before-opt-in", "no-content-before-opt-in",
            "no-cleartext-personal-data", "no-readable-phone-numbers",
            "unreadable-uploads-before-opt-in"} <= ids
    assert policies.find("no-content-before-opt-in").severity is Severity.CRITICAL
    assert policies.find("no-such-rule") is None
    assert all(r.references and r.description for r in policies.rules)

"""Issue 16 G and H: YAML files that are nested 500 deep, not UTF-8, carry a NUL byte or
a huge bad value, and device profiles over the documented limits — each a one-line
`file:line: what is wrong` and exit 2, never a traceback."""

from __future__ import annotations

import pytest
from auditor_paths import ROOT

from auditor.cli import main
from auditor.detect import profile as p

CAPTURE = ROOT / "captures" / "redmi-1s-2014" / "capture.pcap"


def _error(capsys, *argv: str) -> str:
    assert main(["analyze", str(CAPTURE), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    return err.strip().removeprefix("auditor: error: ")


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_a_device_value_nested_500_deep(tmp_path, capsys) -> None:
    device = tmp_path / "device.yaml"
    device.write_text(f"imei: {_nested(500)}\n")
    assert _error(capsys, "--device", str(device)) == (
        f"{device}:1: nested more than 32 levels deep; this is not a file the tool writes "
        f"or reads")


def test_rules_nested_500_deep(tmp_path, capsys) -> None:
    policy = tmp_path / "deep.yaml"
    policy.write_text(f"rules: {_nested(500)}\n")
    assert _error(capsys, "--policy", str(policy)).startswith(
        f"{policy}:1: nested more than 32 levels deep")


def test_an_ignore_file_that_is_not_utf8(tmp_path, capsys) -> None:
    ignore = tmp_path / "ignore.yaml"
    ignore.write_bytes(b"suppressions:\n  - rule: r\n    reason: caf\xe9\n")
    assert _error(capsys, "--ignore", str(ignore)) == (
        f"{ignore}:3: not UTF-8 text (byte 41: 0xe9); save the suppression file as UTF-8")


def test_a_nul_byte_is_one_line(tmp_path, capsys) -> None:
    device = tmp_path / "device.yaml"
    device.write_bytes(b"name: x\nimei: '8672030241\x0082737'\n")
    assert _error(capsys, "--device", str(device)) == (
        f"{device}:2: a NUL byte is not allowed in YAML; remove it")


def test_a_huge_bad_imei_is_not_echoed_whole(tmp_path, capsys) -> None:
    device = tmp_path / "device.yaml"
    device.write_text("imei: '" + "9" * 200 + "x'\n")  # under the length limit, still bad
    err = _error(capsys, "--device", str(device))
    assert err.startswith(f"{device}:1: imei '9999") and "(201 characters)" in err
    assert len(err) < 200 + len(str(device))


@pytest.mark.parametrize("key, value, message", [
    ("android_id", "a" * (1 << 20), ("'android_id' is 1,048,576 characters long; the limit "
                                    f"is {p.MAX_VALUE_LENGTH}")),
    ("serial_number", "s" * (1 << 20), "'serial_number' is 1,048,576 characters long"),
    ("sms", "hello " * 200_000, (f"'sms' is 1,200,000 characters long; the limit is "
                                f"{p.MAX_SMS_LENGTH:,}")),
])
def test_values_over_the_length_limit(tmp_path, capsys, key, value, message) -> None:
    """1 MiB android_id/serial aborted natively (3.5 GB allocation); 1 MiB SMS ran > 150 s."""
    device = tmp_path / "device.yaml"
    device.write_text(f"{key}: '{value}'\n")
    err = _error(capsys, "--device", str(device))
    assert err.startswith(f"{device}:1: {message}") and "see Limits in the README" in err


@pytest.mark.parametrize("key, count, body", [
    ("imei", 100_000, lambda n: f"  - '{867203024182737 + n}'"),
    ("contacts", 20_000, lambda n: f"  - {{name: 'C {n}'}}"),
    ("sms", 1000, lambda n: f"  - 'text {n}'"),
])
def test_counts_over_the_limit(tmp_path, capsys, key, count, body) -> None:
    """100,000 IMEIs took 8.25 GB then aborted; 20,000 contacts ran > 150 s."""
    device = tmp_path / "device.yaml"
    device.write_text(f"{key}:\n" + "\n".join(body(n) for n in range(count)) + "\n")
    err = _error(capsys, "--device", str(device))
    assert err.startswith(f"{device}:2: '{key}' has {count:,} entries; the limit is ")


def test_a_declaration_nested_500_deep(tmp_path, capsys) -> None:
    declared = tmp_path / "declared.yaml"
    declared.write_text(f"store: google-play\ncollected: {_nested(500)}\n")
    assert _error(capsys, "--declared", str(declared)).startswith(
        f"{declared}:2: nested more than 32 levels deep")


def test_an_organisation_map_with_a_nul_byte(tmp_path, capsys) -> None:
    from auditor.judge.organisations import load_organisations
    from auditor.model import InputError

    organisations = tmp_path / "organisations.yaml"
    organisations.write_bytes(b"organisations:\n  - name: X\x00\n")
    with pytest.raises(InputError, match=f"^{organisations}:2: a NUL byte is not allowed"):
        load_organisations(organisations)
    organisations.write_bytes(b"organisations:\n  - name: caf\xe9\n")
    with pytest.raises(InputError, match=f"^{organisations}:2: not UTF-8 text"):
        load_organisations(organisations)


def test_a_policy_folder_holding_a_file_nested_500_deep(tmp_path, capsys) -> None:
    """Files in a folder are first sniffed for their kind: that look is checked too."""
    (tmp_path / "deep.yaml").write_text(f"rules: {_nested(500)}\n")
    assert _error(capsys, "--policy", str(tmp_path)).startswith(
        f"{tmp_path / 'deep.yaml'}:1: nested more than 32 levels deep")
    assert main(["rules", "validate", str(tmp_path / "deep.yaml")]) == 2
    assert capsys.readouterr().err.startswith(
        f"{tmp_path / 'deep.yaml'}:1: nested more than 32 levels deep")

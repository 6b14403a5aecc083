"""KeyLog: reading NSS key log files and pcapng secrets text."""

from __future__ import annotations

import pytest

from auditor.model import InputError
from auditor.sources.pcap.tls.decrypt import KeyLog

RANDOM = bytes(range(32))
LINE = f"CLIENT_RANDOM {RANDOM.hex()} {'ab' * 48}"


def write(tmp_path, text: str, name: str = "keys.log") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_reads_secrets_and_skips_comments_blanks_and_unknown_labels(tmp_path):
    path = write(tmp_path, f"# made by curl\n\n{LINE}\n"
                           f"EXPORTER_SECRET {'11' * 32} {'22' * 32}\n")
    keylog = KeyLog.from_files([path])
    assert keylog.has(RANDOM)
    assert keylog.secret(RANDOM, "CLIENT_RANDOM") == bytes([0xAB]) * 48
    assert not keylog.has(bytes([0x11]) * 32)  # EXPORTER_SECRET is not used for decryption
    assert keylog.warnings == []


def test_several_files_are_merged(tmp_path):
    other = bytes(32)
    keylog = KeyLog.from_files([
        write(tmp_path, LINE + "\n", "a.log"),
        write(tmp_path, f"CLIENT_TRAFFIC_SECRET_0 {other.hex()} {'cd' * 32}\n", "b.log"),
    ])
    assert keylog.has(RANDOM) and keylog.has(other)
    assert len(keylog) == 2


def test_bad_lines_become_warnings_with_file_and_line(tmp_path):
    path = write(tmp_path, f"{LINE}\nCLIENT_RANDOM zz {'ab' * 48}\nCLIENT_RANDOM {'00' * 5} 01\n")
    keylog = KeyLog.from_files([path])
    assert keylog.has(RANDOM)
    assert [w.split(": ")[0] for w in keylog.warnings] == [f"{path}:2", f"{path}:3"]
    assert "not an NSS key log line" in keylog.warnings[0]


def test_many_bad_lines_are_summarised(tmp_path):
    path = write(tmp_path, LINE + "\n" + "garbage\n" * 12)
    keylog = KeyLog.from_files([path])
    assert len(keylog.warnings) == 6
    assert keylog.warnings[-1] == f"{path}: 7 more bad lines skipped"


def test_a_file_without_any_key_line_is_an_input_error(tmp_path):
    path = write(tmp_path, "GET / HTTP/1.1\nHost: example.com\n")
    with pytest.raises(InputError, match=rf"^{path}:1: not an NSS key log line"):
        KeyLog.from_files([path])


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such key log file"):
        KeyLog.from_files([str(tmp_path / "nope.log")])


def test_add_text_from_a_secrets_block():
    keylog = KeyLog()
    keylog.add_text(LINE + "\n", "capture.pcapng#block 2")
    assert keylog.has(RANDOM)
    keylog.add_text("not keys at all", "capture.pcapng#block 5")
    assert keylog.warnings[-1].startswith("capture.pcapng#block 5:")

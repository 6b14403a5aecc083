"""Damaged and hostile input: clear errors for unreadable files, warnings for damaged
ones, never a traceback; streaming and progress."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest
from pcap_helpers import FIXTURES

from auditor.model import InputError, InputInfo
from auditor.sources.pcap.reader import read_pcap


def run(path: Path, progress=None) -> tuple[list, InputInfo]:
    info = InputInfo(path=str(path), kind="pcap", size=os.path.getsize(path))
    return list(read_pcap(str(path), info, keylogs=[], progress=progress)), info


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_truncated_mid_packet_keeps_what_came_before(tmp_path: Path) -> None:
    data = (FIXTURES / "http.pcap").read_bytes()
    offset, number = 24, 1
    while offset + 16 + struct.unpack_from("<I", data, offset + 8)[0] <= 20000:
        offset += 16 + struct.unpack_from("<I", data, offset + 8)[0]
        number += 1
    caplen = struct.unpack_from("<I", data, offset + 8)[0]
    exchanges, info = run(write(tmp_path, "cut.pcap", data[:20000]))
    assert info.warnings == [(f"{tmp_path / 'cut.pcap'}: packet {number}: truncated mid-packet "
                             f"({20000 - offset - 16} of {caplen} bytes); the rest of the "
                             f"file was skipped")]
    assert info.packets == number - 1
    assert [e.url for e in exchanges][:3] == ["dns:cdn.example.net", "dns:tcp.example.org",
                                              ("http://api.account.xiaomi.com/v1/config?imei="
                                              "867203024182737&lang=en")]


def test_short_pcap_header_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "short.pcap", b"\xd4\xc3\xb2\xa1\x02\x00")
    with pytest.raises(InputError, match=r"short\.pcap: the pcap file header is cut short"):
        run(path)


def test_corrupt_first_pcapng_block_is_an_error(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "http.pcapng").read_bytes())
    data[4:8] = struct.pack("<I", 13)  # a section header length that is not a multiple of 4
    with pytest.raises(InputError, match=r"packet 1: corrupt section header block at offset 0"):
        run(write(tmp_path, "bad.pcapng", bytes(data)))


def test_corrupt_later_pcapng_block_is_a_warning(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "http.pcapng").read_bytes())
    offset = 0
    for _ in range(40):  # walk to the 40th block and break its trailing length
        offset += struct.unpack_from("<I", data, offset + 4)[0]
    size = struct.unpack_from("<I", data, offset + 4)[0]
    data[offset + size - 4:offset + size] = b"\xff\xff\xff\xff"
    exchanges, info = run(write(tmp_path, "later.pcapng", bytes(data)))
    assert info.warnings[0] == (f"{tmp_path / 'later.pcapng'}: packet 39: corrupt pcapng "
                                f"block at offset {offset} (type 0x6: trailing length does "
                                f"not match); the rest of the file was skipped")
    assert info.packets == 38 and exchanges  # 40 blocks before it: SHB, IDB, 38 packets


def test_not_a_capture(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a pcap or pcapng file"):
        run(write(tmp_path, "x.pcap", b"hello world, not a capture"))


@pytest.mark.parametrize("name", ["http.pcap", "http.pcapng", "fragments.pcap", "reorder.pcap"])
def test_fuzzed_captures_never_raise_anything_but_input_error(tmp_path: Path, name: str) -> None:
    original = (FIXTURES / name).read_bytes()
    rng = random.Random(name)
    variants = [original[:rng.randrange(len(original))] for _ in range(15)]
    for _ in range(25):
        flipped = bytearray(original)
        for _ in range(rng.randrange(1, 40)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        variants.append(bytes(flipped))
    for i, data in enumerate(variants):
        path = write(tmp_path, f"{i}-{name}", data)
        try:
            run(path)
        except InputError as e:
            assert str(e).startswith(str(path))


def test_exchanges_stream_out_while_reading(tmp_path: Path) -> None:
    path = FIXTURES / "http.pcap"
    info = InputInfo(path=str(path), kind="pcap", size=os.path.getsize(path))
    reader = read_pcap(str(path), info, keylogs=[], progress=None)
    first = next(reader)
    assert first.transport == "dns"
    assert info.packets == 2  # the DNS query (packet 1) came out with its answer (packet 2)


def test_progress_reaches_the_file_size() -> None:
    calls: list[tuple[int, int]] = []
    run(FIXTURES / "http.pcap", progress=lambda done, total: calls.append((done, total)))
    size = os.path.getsize(FIXTURES / "http.pcap")
    assert calls[-1] == (size, size)

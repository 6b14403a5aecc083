"""What goes wrong while reading one TLS connection ends up as a warning on the input,
naming the connection — never as a traceback, and the rest is still read."""

from __future__ import annotations

from pathlib import Path

from tls_streams import FIXTURES

from auditor.model import InputInfo
from auditor.sources.pcap import http2
from auditor.sources.pcap.reader import read_pcap
from auditor.sources.pcap.tls import decrypt as tlsdecrypt

H2_CONNECTION = "TLS 127.0.0.1:56668 -> 127.0.0.1:443"


def read(name: str, keys: Path):
    path = FIXTURES / name
    info = InputInfo(path=str(path), kind="pcap")
    return list(read_pcap(str(path), info, keylogs=[str(keys)], progress=None)), info


def test_bad_key_log_lines_are_warned_once_per_file(tmp_path):
    keys = tmp_path / "keys.log"
    keys.write_text("CLIENT_RANDOM nothex 00\n" + (FIXTURES / "h2-nginx.keys").read_text())
    exchanges, info = read("h2-nginx.pcap", keys)
    assert len(exchanges) == 3 and all(e.decrypted for e in exchanges)
    assert info.warnings == [(f"key log {keys}:1: not an NSS key log line (expected 'LABEL "
                              f"<client_random hex> <secret hex>', as written by "
                              f"SSLKEYLOGFILE); line skipped")]


def test_http2_warnings_reach_the_input(monkeypatch):
    real = http2.parse_http2

    def cut_last_frame(client, server, warnings=None):
        return real(client[:-3], server, warnings)

    monkeypatch.setattr(http2, "parse_http2", cut_last_frame)
    exchanges, info = read("h2-nginx.pcap", FIXTURES / "h2-nginx.keys")
    # the client's last frame opened stream 5; the streams before it are still read
    assert [e.notes for e in exchanges] == [("HTTP/2 stream 1",), ("HTTP/2 stream 3",)]
    assert len(info.warnings) == 1
    assert info.warnings[0].startswith(f"{H2_CONNECTION}: http2 client: the data ends "
                                       f"inside a frame")


def test_a_failure_inside_decryption_lists_the_connection_unread(monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(tlsdecrypt, "decrypt_connection", broken)
    (exchange,), info = read("h2-nginx.pcap", FIXTURES / "h2-nginx.keys")
    assert (exchange.transport, exchange.readable, exchange.decrypted) == ("tls", False, False)
    assert exchange.host == "api.account.xiaomi.com"
    assert info.warnings == [(f"{H2_CONNECTION}: reading the decrypted connection failed "
                              f"(RuntimeError: boom); it is listed unread")]

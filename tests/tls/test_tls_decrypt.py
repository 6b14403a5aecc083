"""decrypt_connection on captures made by curl, Python `ssl` and nginx on loopback."""

from __future__ import annotations

import random

import pytest
from tls_streams import FIXTURES, connections

from auditor.sources.pcap.http2 import parse_http2
from auditor.sources.pcap.tls.decrypt import KeyLog, decrypt_connection

IMEI, PHONE, IMSI = "867203024182737", "+8615627394810", "460013728150946"

SUITES = [
    ("tls12-ecdhe-aes128gcm", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("tls12-ecdhe-aes256gcm", "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    ("tls12-ecdhe-chacha20", "TLS 1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("tls12-rsa-aes256cbc-etm", "TLS 1.2", "TLS_RSA_WITH_AES_256_CBC_SHA"),
    ("tls12-rsa-aes128cbc-sha256", "TLS 1.2", "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    ("tls12-port5228", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("tls13-aes128gcm", "TLS 1.3", "TLS_AES_128_GCM_SHA256"),
    ("tls13-aes256gcm", "TLS 1.3", "TLS_AES_256_GCM_SHA384"),
    ("tls13-chacha20", "TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256"),
]


def keylog_of(name: str) -> KeyLog:
    return KeyLog.from_files([str(FIXTURES / f"{name}.keys")])


def only_connection(name: str):
    (conn,) = connections(f"{name}.pcap")
    return conn


@pytest.mark.parametrize(("name", "version", "cipher"), SUITES)
def test_every_suite_decrypts_the_upload(name, version, cipher):
    conn = only_connection(name)
    result = decrypt_connection(conn.client_stream, conn.server_stream, keylog_of(name))
    assert result.ok and result.warnings == []
    assert (result.version, result.cipher) == (version, cipher)
    head, _, body = result.client_data.partition(b"\r\n\r\n")
    assert head.startswith(f"POST /v1/{name}/register?imei={IMEI}&lang=zh_CN HTTP/1.1".encode())
    assert body == (b'{"phone": "+8615627394810", "imsi": "460013728150946", '
                    b'"carrier": "China Mobile"}')
    assert result.server_data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert result.server_data.endswith(b'{"result":"ok","code":0}\n')
    assert result.client_records > 3 and result.server_records > 3


def test_encrypt_then_mac_is_told_apart_from_mac_then_encrypt():
    etm, mte = "tls12-rsa-aes256cbc-etm", "tls12-rsa-aes128cbc-sha256"
    assert decrypt_connection(*streams(etm), keylog_of(etm)).encrypt_then_mac
    assert not decrypt_connection(*streams(mte), keylog_of(mte)).encrypt_then_mac


def streams(name: str) -> tuple[bytes, bytes]:
    conn = only_connection(name)
    return conn.client_stream, conn.server_stream


def test_tls13_alpn_comes_from_encrypted_extensions():
    result = decrypt_connection(*streams("h2-nginx"), keylog_of("h2-nginx"))
    assert (result.version, result.alpn) == ("TLS 1.3", "h2")
    assert result.client_data.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")


def test_tls12_alpn_comes_from_the_server_hello():
    result = decrypt_connection(*streams("http1-keepalive"), keylog_of("http1-keepalive"))
    assert (result.version, result.alpn) == ("TLS 1.2", "http/1.1")
    # two requests on one kept-alive connection, the first chunked
    assert result.client_data.count(b" HTTP/1.1\r\n") == 2
    assert b"Transfer-Encoding: chunked" in result.client_data
    assert b"GET /v1/config?android_id=3f8a1c0b7d52e946 HTTP/1.1" in result.client_data


def test_websocket_messages_are_in_the_client_data():
    result = decrypt_connection(*streams("websocket"), keylog_of("websocket"))
    assert result.ok
    assert result.client_data.startswith(f"GET /ws/v2?imei={IMEI} HTTP/1.1".encode())
    assert result.server_data.startswith(b"HTTP/1.1 101 ")


def test_a_connection_missing_from_the_key_log_stays_encrypted():
    keylog = keylog_of("missing-keys")
    first, second = connections("missing-keys.pcap")
    assert decrypt_connection(first.client_stream, first.server_stream, keylog).ok
    result = decrypt_connection(second.client_stream, second.server_stream, keylog)
    assert not result.ok
    assert result.client_data == result.server_data == b""
    assert result.version == "TLS 1.3" and result.client_records > 0
    assert "no secrets for this connection" in result.warnings[0]


@pytest.mark.parametrize("name", ["tls12-ecdhe-aes128gcm", "tls12-rsa-aes128cbc-sha256",
                                  "tls13-aes256gcm"])
def test_wrong_keys_fail_with_a_warning(name, tmp_path):
    # the same client randoms with every secret's first byte flipped
    lines = []
    for line in (FIXTURES / f"{name}.keys").read_text().splitlines():
        label, random, secret = line.split()
        lines.append(f"{label} {random} {int(secret[:2], 16) ^ 0xFF:02x}{secret[2:]}")
    (tmp_path / "wrong.keys").write_text("\n".join(lines))
    result = decrypt_connection(*streams(name), KeyLog.from_files([str(tmp_path / "wrong.keys")]))
    assert not result.ok
    assert result.client_data == b""
    assert any("does not authenticate" in w for w in result.warnings)


@pytest.mark.parametrize("name", ["tls12-ecdhe-chacha20", "tls13-chacha20"])
def test_a_stream_cut_by_a_gap_is_decrypted_up_to_the_cut(name):
    client, server = streams(name)
    full = decrypt_connection(client, server, keylog_of(name))
    result = decrypt_connection(client, server[:len(server) - 30], keylog_of(name))
    assert result.ok
    assert result.client_data == full.client_data
    assert full.server_data.startswith(result.server_data)
    assert len(result.server_data) < len(full.server_data)
    assert any("ends inside a TLS record" in w and w.startswith("server:")
               for w in result.warnings)


def test_not_tls_at_all():
    result = decrypt_connection(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", KeyLog())
    assert not result.ok
    assert result.warnings[0].startswith("client: bytes at offset 0 are not a TLS record")


def test_a_capture_that_starts_after_the_handshake():
    client, server = streams("tls13-aes128gcm")
    # drop the ClientHello record: the stream now starts with the client's CCS
    hello_len = 5 + int.from_bytes(client[3:5], "big")
    result = decrypt_connection(client[hello_len:], server, keylog_of("tls13-aes128gcm"))
    assert not result.ok
    assert "no ClientHello" in result.warnings[0]


def test_hello_retry_request_then_second_client_hello():
    client, server = streams("tls13-hello-retry")
    result = decrypt_connection(client, server, keylog_of("tls13-hello-retry"))
    assert result.ok and result.warnings == []
    assert result.client_data.startswith(f"GET /v1/ping?imei={IMEI} HTTP/1.1".encode())
    assert result.server_data.startswith(b"HTTP/1.0 200 ok\r\n")


def test_data_after_a_key_update_is_decrypted():
    client, server = streams("tls13-keyupdate")
    result = decrypt_connection(client, server, keylog_of("tls13-keyupdate"))
    assert result.warnings == []
    # openssl s_client sent "k" (KeyUpdate) between the two lines
    assert result.client_data == f"imei={IMEI}\nimsi={IMSI}\n".encode()


def test_traffic_secrets_alone_are_enough_for_application_data(tmp_path):
    name = "tls13-aes128gcm"
    lines = [line for line in (FIXTURES / f"{name}.keys").read_text().splitlines()
             if "HANDSHAKE" not in line]
    (tmp_path / "traffic-only.keys").write_text("\n".join(lines))
    keylog = KeyLog.from_files([str(tmp_path / "traffic-only.keys")])
    result = decrypt_connection(*streams(name), keylog)
    assert result.ok
    assert result.client_data == decrypt_connection(*streams(name), keylog_of(name)).client_data


def test_wrong_traffic_secrets_without_handshake_secrets_warn(tmp_path):
    name = "tls13-aes128gcm"
    lines = []
    for line in (FIXTURES / f"{name}.keys").read_text().splitlines():
        label, random, secret = line.split()
        if "HANDSHAKE" not in label:
            lines.append(f"{label} {random} {'00' * (len(secret) // 2)}")
    (tmp_path / "wrong.keys").write_text("\n".join(lines))
    result = decrypt_connection(*streams(name), KeyLog.from_files([str(tmp_path / "wrong.keys")]))
    assert not result.ok
    assert any(w.startswith("client: no TLS record authenticates") for w in result.warnings)


@pytest.mark.parametrize("name", ["tls12-rsa-aes256cbc-etm", "tls12-rsa-aes128cbc-sha256",
                                  "tls12-ecdhe-chacha20", "tls12-ecdhe-aes128gcm",
                                  "tls13-aes128gcm", "h2-nginx"])
def test_damaged_streams_never_raise(name):
    """Flipped, cut and shrunk bytes anywhere give warnings, never an exception."""
    rng = random.Random(name)
    client, server = streams(name)
    keylog = keylog_of(name)
    for _ in range(150):
        damaged = [bytearray(client), bytearray(server)]
        side = damaged[rng.randrange(2)]
        at = rng.randrange(len(side))
        action = rng.randrange(3)
        if action == 0:
            side[at] ^= 1 << rng.randrange(8)
        elif action == 1:
            del side[at:]
        else:
            del side[at:at + rng.randrange(1, 40)]
        result = decrypt_connection(bytes(damaged[0]), bytes(damaged[1]), keylog)
        assert result.ok or result.warnings
        parse_http2(result.client_data, result.server_data, [])

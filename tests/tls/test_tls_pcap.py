"""End to end through the pcap reader: decrypted HTTPS exchanges with a key log (file or
pcapng Decryption Secrets Block), encrypted `tls` exchanges without one."""

from __future__ import annotations

import pytest
from tls_streams import FIXTURES

from auditor.model import InputInfo
from auditor.sources.pcap.reader import read_pcap

IMEI = "867203024182737"
REGISTER_BODY = b'{"phone": "+8615627394810", "imsi": "460013728150946", "carrier": "China Mobile"}'
SUITE_FIXTURES = ["tls12-ecdhe-aes128gcm", "tls12-ecdhe-aes256gcm", "tls12-ecdhe-chacha20",
                  "tls12-rsa-aes256cbc-etm", "tls12-rsa-aes128cbc-sha256", "tls13-aes128gcm",
                  "tls13-aes256gcm", "tls13-chacha20"]


def read(name: str, keys: str | None = None):
    path = str(FIXTURES / name)
    info = InputInfo(path=path, kind=name.rsplit(".", 1)[1])
    keylogs = [str(FIXTURES / keys)] if keys else []
    return list(read_pcap(path, info, keylogs=keylogs, progress=None)), info


@pytest.mark.parametrize("name", SUITE_FIXTURES)
def test_uploads_over_every_suite_read_as_in_the_clear(name):
    (exchange,), info = read(f"{name}.pcap", f"{name}.keys")
    assert info.warnings == []
    assert (exchange.transport, exchange.decrypted, exchange.method) == ("https", True, "POST")
    assert exchange.url == (f"https://api.account.xiaomi.com/v1/{name}/register"
                            f"?imei={IMEI}&lang=zh_CN")
    assert exchange.body == REGISTER_BODY
    assert exchange.status == 200


def test_non_standard_port():
    (exchange,), _ = read("tls12-port5228.pcap", "tls12-port5228.keys")
    assert exchange.decrypted and exchange.server.endswith(":5228")
    assert exchange.url.startswith("https://api.account.xiaomi.com:5228/v1/")


@pytest.mark.parametrize("name", SUITE_FIXTURES[:1] + SUITE_FIXTURES[-1:])
def test_without_keys_a_tls_exchange_with_sni_and_sizes(name):
    (exchange,), _ = read(f"{name}.pcap")
    assert (exchange.transport, exchange.decrypted, exchange.readable) == ("tls", False, False)
    assert exchange.host == "api.account.xiaomi.com"
    assert exchange.server.endswith(":443")
    assert exchange.bytes_up > len(REGISTER_BODY) and exchange.bytes_down > 1000
    assert exchange.body == b""


def test_only_the_connection_with_keys_is_decrypted():
    (readable, sealed), _ = read("missing-keys.pcap", "missing-keys.keys")
    assert (readable.transport, readable.decrypted) == ("https", True)
    assert readable.url == f"https://api.account.xiaomi.com/v1/device?imei={IMEI}"
    assert (sealed.transport, sealed.decrypted) == ("tls", False)
    assert sealed.host == "api.account.xiaomi.com" and sealed.bytes_up > 0


def test_http2_streams():
    exchanges, _ = read("h2-nginx.pcap", "h2-nginx.keys")
    assert [(e.transport, e.decrypted, e.method, e.url, e.status) for e in exchanges] == [
        ("https", True, "GET",
         "https://api.account.xiaomi.com/v1/config?android_id=3f8a1c0b7d52e946", 200),
        ("https", True, "POST", "https://api.account.xiaomi.com/v1/contacts", 200),
        ("https", True, "GET",
         "https://api.account.xiaomi.com/v1/ping?gaid=5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5", 200),
    ]
    assert b'"owner": "+8615627394810"' in exchanges[1].body


@pytest.mark.parametrize(("name", "keys"), [("http1-keepalive.pcap", "http1-keepalive.keys"),
                                            ("http1-keepalive-dsb.pcapng", None)])
def test_keep_alive_chunked_gzip_upload_with_file_or_embedded_keys(name, keys):
    (upload, config), info = read(name, keys)
    assert info.warnings == []
    assert (upload.transport, upload.decrypted, upload.method) == ("https", True, "POST")
    assert upload.body.startswith(f'{{"imei": "{IMEI}", "contacts": '.encode())
    assert config.url == "https://api.account.xiaomi.com/v1/config?android_id=3f8a1c0b7d52e946"


def test_websocket_inside_tls():
    exchanges, _ = read("websocket.pcap", "websocket.keys")
    message = next(e for e in exchanges if e.transport == "wss")
    assert message.decrypted and message.host == "push.miui.com"
    assert message.url == f"wss://push.miui.com/ws/v2?imei={IMEI}"
    assert b'"msisdn": "+8615627394810"' in message.body


def test_hello_retry_request():
    (exchange,), _ = read("tls13-hello-retry.pcap", "tls13-hello-retry.keys")
    assert (exchange.transport, exchange.decrypted) == ("https", True)
    assert exchange.url == f"https://api.account.xiaomi.com/v1/ping?imei={IMEI}"

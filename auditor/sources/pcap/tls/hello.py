"""What TLS and QUIC show without keys: the ClientHello's SNI, ALPN and client random,
the ServerHello's chosen ALPN, and — for QUIC v1 — the ClientHello inside the Initial
packets, whose keys derive from the Destination Connection ID (RFC 9001 section 5)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

_HANDSHAKE = 0x16
_SNI, _ALPN, _SUPPORTED_VERSIONS = 0, 16, 43
_QUIC_V1 = 0x00000001
_QUIC_V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_MAX_HELLO = 1 << 16
_VERSIONS = {0x0304: "TLS 1.3", 0x0303: "TLS 1.2", 0x0302: "TLS 1.1", 0x0301: "TLS 1.0"}


@dataclass
class Hello:
    """What a ClientHello or ServerHello says in the clear."""

    sni: str = ""
    alpn: list[str] = field(default_factory=list)  # offered (client) or chosen (server)
    random: bytes = b""
    version: str = ""  # the ServerHello's chosen version


def looks_like_client_hello(data: bytes) -> bool:
    """A TLS handshake record that starts a ClientHello."""
    return len(data) >= 6 and data[0] == _HANDSHAKE and data[1] == 3 and data[5] == 1


def looks_like_server_hello(data: bytes) -> bool:
    return len(data) >= 6 and data[0] == _HANDSHAKE and data[1] == 3 and data[5] == 2


def handshake_message(stream: bytes) -> bytes | None:
    """The first handshake message carried by the TLS records at the start of `stream`,
    or None while it is still incomplete (or the stream does not start with one)."""
    message = bytearray()
    pos = 0
    while pos + 5 <= len(stream) and stream[pos] == _HANDSHAKE:
        size = struct.unpack_from("!H", stream, pos + 3)[0]
        message += stream[pos + 5:pos + 5 + size]
        pos += 5 + size
        if len(message) >= 4:
            need = 4 + int.from_bytes(message[1:4], "big")
            if len(message) >= need:
                return bytes(message[:need])
    return None


def parse_hello(message: bytes) -> Hello | None:
    """A ClientHello (type 1) or ServerHello (type 2) handshake message."""
    try:
        kind = message[0]
        pos = 4 + 2  # handshake header, legacy version
        hello = Hello(random=message[pos:pos + 32])
        if kind == 2:  # TLS 1.3 names itself in supported_versions, read below
            hello.version = _VERSIONS.get(struct.unpack_from("!H", message, 4)[0], "")
        pos += 32
        pos += 1 + message[pos]  # session id
        if kind == 1:
            pos += 2 + struct.unpack_from("!H", message, pos)[0]  # cipher suites
            pos += 1 + message[pos]  # compression methods
        elif kind == 2:
            pos += 3  # chosen cipher suite and compression
        else:
            return None
        if pos + 2 > len(message):
            return hello
        end = pos + 2 + struct.unpack_from("!H", message, pos)[0]
        pos += 2
        while pos + 4 <= end:
            ext, size = struct.unpack_from("!HH", message, pos)
            body = message[pos + 4:pos + 4 + size]
            pos += 4 + size
            if ext == _SNI and kind == 1 and len(body) >= 5 and body[2] == 0:
                name_len = struct.unpack_from("!H", body, 3)[0]
                hello.sni = body[5:5 + name_len].decode("ascii", "replace")
            elif ext == _ALPN and len(body) >= 2:
                hello.alpn = _alpn_list(body[2:])
            elif ext == _SUPPORTED_VERSIONS and kind == 2 and size == 2:
                hello.version = _VERSIONS.get(struct.unpack("!H", body)[0], "")
        return hello
    except (IndexError, struct.error):
        return None


def _alpn_list(data: bytes) -> list[str]:
    names, pos = [], 0
    while pos < len(data):
        size = data[pos]
        names.append(data[pos + 1:pos + 1 + size].decode("ascii", "replace"))
        pos += 1 + size
    return names


def count_records(stream_state: list[int], chunk: bytes) -> None:
    """Counts TLS records across chunks. `stream_state` is [records, bytes left in the
    current record, header bytes seen, length so far] and is updated in place."""
    records, left, seen, length = stream_state
    pos = 0
    while pos < len(chunk):
        if left:
            take = min(left, len(chunk) - pos)
            left -= take
            pos += take
            continue
        take = min(5 - seen, len(chunk) - pos)
        for byte in chunk[pos:pos + take]:
            seen += 1
            if seen >= 4:
                length = (length << 8) | byte
        pos += take
        if seen == 5:
            records += 1
            left, seen, length = length, 0, 0
    stream_state[:] = [records, left, seen, length]


# --- QUIC -------------------------------------------------------------------------------


def _expand_label(secret: bytes, label: str, size: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!H", size) + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), size, info).derive(secret)


def _client_initial_keys(dcid: bytes) -> tuple[bytes, bytes, bytes]:
    mac = HMAC(_QUIC_V1_SALT, hashes.SHA256())
    mac.update(dcid)
    initial = mac.finalize()  # HKDF-Extract(salt, dcid)
    client = _expand_label(initial, "client in", 32)
    return (_expand_label(client, "quic key", 16), _expand_label(client, "quic iv", 12),
            _expand_label(client, "quic hp", 16))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    size = 1 << (first >> 6)
    value = first & 0x3F
    for byte in data[pos + 1:pos + size]:
        value = (value << 8) | byte
    if pos + size > len(data):
        raise IndexError("varint cut short")
    return value, pos + size


def is_quic_initial(datagram: bytes) -> bool:
    """A QUIC v1 long-header Initial packet."""
    return (len(datagram) >= 7 and datagram[0] & 0xF0 == 0xC0
            and struct.unpack_from("!I", datagram, 1)[0] == _QUIC_V1)


class QuicInitialReader:
    """Collects the CRYPTO frames of a client's Initial packets until the ClientHello is
    whole. Needs no secrets: Initial keys derive from the client's first DCID."""

    def __init__(self) -> None:
        self.keys: tuple[bytes, bytes, bytes] | None = None
        self.crypto: dict[int, bytes] = {}
        self.hello: Hello | None = None
        self.error = ""

    def add(self, datagram: bytes) -> None:
        if self.hello is not None or not is_quic_initial(datagram):
            return
        try:
            self._decrypt_initial(datagram)
        except (IndexError, ValueError, struct.error) as e:
            self.error = f"QUIC Initial could not be read ({e})"
        except Exception as e:  # noqa: BLE001 — cryptography's InvalidTag has no message
            self.error = f"QUIC Initial could not be decrypted ({type(e).__name__})"

    def _decrypt_initial(self, packet: bytes) -> None:
        pos = 5
        dcid = packet[pos + 1:pos + 1 + packet[pos]]
        pos += 1 + packet[pos]
        pos += 1 + packet[pos]  # source connection id
        token_len, pos = _varint(packet, pos)
        pos += token_len
        length, pos = _varint(packet, pos)
        if self.keys is None:
            self.keys = _client_initial_keys(dcid)
        key, iv, hp = self.keys
        sample = packet[pos + 4:pos + 20]
        if len(sample) < 16:
            raise ValueError("packet too short for header protection sample")
        encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
        mask = encryptor.update(sample) + encryptor.finalize()
        first = packet[0] ^ (mask[0] & 0x0F)
        pn_len = (first & 0x03) + 1
        pn_bytes = bytes(b ^ m for b, m in zip(packet[pos:pos + pn_len], mask[1:1 + pn_len]))
        header = bytes([first]) + packet[1:pos] + pn_bytes
        number = int.from_bytes(pn_bytes, "big")
        nonce = (int.from_bytes(iv, "big") ^ number).to_bytes(12, "big")
        payload = AESGCM(key).decrypt(nonce, packet[pos + pn_len:pos + length], header)
        self._read_frames(payload)

    def _read_frames(self, payload: bytes) -> None:
        pos = 0
        while pos < len(payload):
            kind = payload[pos]
            if kind in (0x00, 0x01):  # PADDING, PING
                pos += 1
            elif kind in (0x02, 0x03):  # ACK: skip its ranges
                pos += 1
                for _ in range(2):
                    _, pos = _varint(payload, pos)
                count, pos = _varint(payload, pos)
                _, pos = _varint(payload, pos)
                for _ in range(2 * count):
                    _, pos = _varint(payload, pos)
                if kind == 0x03:
                    for _ in range(3):
                        _, pos = _varint(payload, pos)
            elif kind == 0x06:  # CRYPTO
                offset, pos = _varint(payload, pos + 1)
                size, pos = _varint(payload, pos)
                self.crypto[offset] = payload[pos:pos + size]
                pos += size
            else:
                break  # CONNECTION_CLOSE and others end what an Initial can tell us
        self._try_hello()

    def _try_hello(self) -> None:
        data = bytearray()
        for offset in sorted(self.crypto):
            if offset > len(data):
                return
            data += self.crypto[offset][len(data) - offset:]
        if len(data) >= 4 and data[0] == 1:
            need = 4 + int.from_bytes(data[1:4], "big")
            if need <= min(len(data), _MAX_HELLO):
                self.hello = parse_hello(bytes(data[:need]))

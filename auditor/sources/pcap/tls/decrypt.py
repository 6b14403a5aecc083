"""Decrypt one captured TLS 1.2 or 1.3 connection with the secrets of a key log.

The caller (the pcap reader) hands over the reassembled TCP payload of each direction
from the ClientHello on; this module splits it into TLS records, reads the hellos for the
randoms, the cipher suite and the version, derives the record keys from the key log
(TLS 1.2: the master secret through the PRF; TLS 1.3: the traffic secrets through
HKDF-Expand-Label) and opens every record with the `cryptography` package. It works on
any port, because nothing here looks at ports.

What cannot be decrypted is never an exception: it is a warning on the result, and
`ok` says whether anything at all was read.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from auditor.sources.pcap.tls.keylog import KeyLog

__all__ = ["Decrypted", "KeyLog", "decrypt_connection"]

# Record content types (RFC 8446 5.1).
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT = 20, 21, 22, 23, 24
# Handshake message types.
CLIENT_HELLO, SERVER_HELLO, ENCRYPTED_EXTENSIONS, FINISHED, KEY_UPDATE = 1, 2, 8, 20, 24
# Extension types.
EXT_ALPN, EXT_ENCRYPT_THEN_MAC, EXT_EARLY_DATA, EXT_SUPPORTED_VERSIONS = 16, 22, 42, 43

TLS12, TLS13 = 0x0303, 0x0304
_VERSION_NAMES = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", TLS12: "TLS 1.2",
                  TLS13: "TLS 1.3"}
#: A ServerHello with this random is a HelloRetryRequest (RFC 8446 4.1.3).
_HELLO_RETRY_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
#: Largest record payload any TLS version allows (ciphertext of 2^14 plus expansion).
_MAX_RECORD_PAYLOAD = 2**14 + 2048


@dataclass
class Decrypted:
    """What could be read of one TLS connection."""

    client_data: bytes = b""  # application data the client sent, records concatenated in order
    server_data: bytes = b""  # application data the server sent, likewise
    alpn: str = ""  # negotiated ALPN protocol ("h2", "http/1.1"), "" when none or unknown
    version: str = ""  # "TLS 1.2" / "TLS 1.3" as the ServerHello chose it
    cipher: str = ""  # IANA name of the chosen cipher suite
    warnings: list[str] = field(default_factory=list)  # what could not be read, and why
    ok: bool = False  # True when at least one record was decrypted with the key log
    client_records: int = 0  # TLS records on the wire, client to server
    server_records: int = 0  # TLS records on the wire, server to client
    encrypt_then_mac: bool = False  # TLS 1.2 CBC: RFC 7366 encrypt-then-MAC was negotiated
    # Where each decrypted record's plaintext lies, so the reader can tell which captured
    # segment carried a byte: (offset in client_data, offset in the client's TCP stream of
    # that record's first plaintext byte), one pair per application data record, in order.
    # Within a record plaintext and ciphertext run byte for byte.
    client_marks: list[tuple[int, int]] = field(default_factory=list)
    server_marks: list[tuple[int, int]] = field(default_factory=list)  # likewise, server_data


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """The parameters of a suite that record decryption needs."""

    name: str  # IANA name
    cipher: str  # "gcm" | "chacha" | "cbc"
    key_len: int  # bytes
    hash_name: str  # hash of the PRF (TLS 1.2) or HKDF (TLS 1.3)
    mac_name: str = ""  # HMAC hash of CBC suites


def _suite(name: str) -> CipherSuite:
    """Parameters read off an IANA suite name, e.g. TLS_RSA_WITH_AES_256_CBC_SHA."""
    prf_hash = "sha384" if name.endswith("SHA384") else "sha256"
    if "CHACHA20_POLY1305" in name:
        return CipherSuite(name, "chacha", 32, prf_hash)
    key_len = 32 if "AES_256" in name else 16
    if "_GCM_" in name:
        return CipherSuite(name, "gcm", key_len, prf_hash)
    mac_name = {"SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384"}[name.rsplit("_", 1)[1]]
    return CipherSuite(name, "cbc", key_len, prf_hash, mac_name)


SUITES_TLS13: dict[int, CipherSuite] = {code: _suite(name) for code, name in {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
}.items()}

SUITES_TLS12: dict[int, CipherSuite] = {code: _suite(name) for code, name in {
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}.items()}


# --- records and handshake messages -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    type: int
    header: bytes  # the 5 header bytes as on the wire (TLS 1.3 authenticates them)
    payload: bytes
    offset: int  # where the record header starts in its direction's stream


def _split_records(stream: bytes, side: str, warnings: list[str]) -> list[_Record]:
    """The TLS records of one direction; stops with a warning at a cut or at non-TLS bytes."""
    records: list[_Record] = []
    pos, size = 0, len(stream)
    while pos < size:
        header = stream[pos:pos + 5]
        if len(header) < 5:
            warnings.append(f"{side}: the stream ends inside a TLS record header "
                            f"({5 - len(header)} bytes missing; a gap in the capture?)")
            break
        length = int.from_bytes(header[3:5], "big")
        if not CHANGE_CIPHER_SPEC <= header[0] <= HEARTBEAT or header[1] != 3 \
                or length > _MAX_RECORD_PAYLOAD:
            warnings.append(f"{side}: bytes at offset {pos} are not a TLS record "
                            f"({header.hex(' ')}); the last {size - pos} bytes are not read")
            break
        end = pos + 5 + length
        if end > size:
            warnings.append(f"{side}: the stream ends inside a TLS record ({end - size} of "
                            f"{length} bytes missing; a gap in the capture?); "
                            f"that record is not decrypted")
            break
        records.append(_Record(header[0], header, stream[pos + 5:end], pos))
        pos = end
    return records


class _HandshakeMessages:
    """Handshake messages out of record fragments (a message may span records)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, fragment: bytes) -> list[tuple[int, bytes]]:
        self._pending += fragment
        messages = []
        while len(self._pending) >= 4:
            end = 4 + int.from_bytes(self._pending[1:4], "big")
            if len(self._pending) < end:
                break
            messages.append((self._pending[0], self._pending[4:end]))
            self._pending = self._pending[end:]
        return messages


@dataclass(frozen=True, slots=True)
class _Hello:
    version: int  # legacy_version, or the supported_versions choice of a ServerHello
    random: bytes
    cipher_suite: int  # chosen suite (ServerHello); 0 for a ClientHello
    extensions: dict[int, bytes]


def _parse_hello(body: bytes, is_client: bool) -> _Hello:
    """A ClientHello or ServerHello body. Raises IndexError/ValueError when malformed."""
    version, random = int.from_bytes(body[0:2], "big"), body[2:34]
    if len(random) != 32:
        raise ValueError("short random")
    pos = 35 + body[34]  # past the session id
    suite = 0
    if is_client:
        pos += 2 + int.from_bytes(body[pos:pos + 2], "big")  # cipher suites offered
        pos += 1 + body[pos]  # compression methods
    else:
        suite = int.from_bytes(body[pos:pos + 2], "big")
        pos += 3  # suite and compression method
    extensions = _parse_extensions(body[pos:])
    if not is_client and len(extensions.get(EXT_SUPPORTED_VERSIONS, b"")) == 2:
        version = int.from_bytes(extensions[EXT_SUPPORTED_VERSIONS], "big")
    return _Hello(version, random, suite, extensions)


def _parse_extensions(block: bytes) -> dict[int, bytes]:
    """Extensions by type, from a block that starts with their 2-byte total length."""
    extensions: dict[int, bytes] = {}
    end, pos = min(len(block), 2 + int.from_bytes(block[0:2], "big")), 2
    while pos + 4 <= end:
        ext_type = int.from_bytes(block[pos:pos + 2], "big")
        ext_len = int.from_bytes(block[pos + 2:pos + 4], "big")
        extensions[ext_type] = block[pos + 4:pos + 4 + ext_len]
        pos += 4 + ext_len
    return extensions


def _alpn_names(extensions: dict[int, bytes]) -> list[str]:
    """The protocol names of an ALPN extension (offered list or the one chosen)."""
    data = extensions.get(EXT_ALPN, b"")
    names, pos = [], 2
    while pos < len(data):
        end = pos + 1 + data[pos]
        names.append(data[pos + 1:end].decode("ascii", "replace"))
        pos = end
    return names


def _find_hello(records: list[_Record], wanted: int) -> _Hello | None:
    """The first ClientHello, or the ServerHello (a HelloRetryRequest is passed over),
    from the plaintext handshake records at the start of a direction."""
    messages = _HandshakeMessages()
    for record in records:
        if record.type == APPLICATION_DATA:
            break
        if record.type != HANDSHAKE:
            continue
        for msg_type, body in messages.feed(record.payload):
            if msg_type != wanted:
                continue
            hello = _parse_hello(body, is_client=wanted == CLIENT_HELLO)
            if hello.random != _HELLO_RETRY_RANDOM:
                return hello
    return None


# --- key derivation ---------------------------------------------------------------------


def _tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """P_hash of RFC 5246 section 5."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < length:
        a = hmac.digest(secret, a, hash_name)
        out += hmac.digest(secret, a + seed, hash_name)
    return out[:length]


def _hkdf_expand_label(secret: bytes, label: str, length: int, hash_name: str) -> bytes:
    """HKDF-Expand-Label of RFC 8446 7.1 with an empty context."""
    full_label = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(secret, block + info + bytes([counter]), hash_name)
        out += block
        counter += 1
    return out[:length]


def _aead(suite: CipherSuite, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(key) if suite.cipher == "chacha" else AESGCM(key)


class _BadRecord(Exception):
    """A record that does not authenticate: wrong keys, or not the record we think."""


class _Tls13Keys:
    """Opens the records of one direction under one TLS 1.3 traffic secret."""

    def __init__(self, suite: CipherSuite, secret: bytes) -> None:
        self.suite, self.secret = suite, secret
        self._aead = _aead(suite, _hkdf_expand_label(secret, "key", suite.key_len,
                                                     suite.hash_name))
        self._iv = int.from_bytes(_hkdf_expand_label(secret, "iv", 12, suite.hash_name), "big")
        self._seq = 0

    def open(self, record: _Record) -> tuple[int, bytes]:
        """(inner content type, content) of a protected record."""
        nonce = (self._iv ^ self._seq).to_bytes(12, "big")
        try:
            inner = self._aead.decrypt(nonce, record.payload, record.header)
        except (InvalidTag, ValueError):
            raise _BadRecord from None
        self._seq += 1
        inner = inner.rstrip(b"\x00")  # TLSInnerPlaintext padding
        if not inner:
            raise _BadRecord
        return inner[-1], inner[:-1]

    def updated(self) -> _Tls13Keys:
        """The keys after a KeyUpdate (RFC 8446 7.2)."""
        size = hashlib.new(self.suite.hash_name).digest_size
        return _Tls13Keys(self.suite, _hkdf_expand_label(self.secret, "traffic upd", size,
                                                         self.suite.hash_name))


class _Tls12Keys:
    """Opens the records of one direction after its ChangeCipherSpec (TLS 1.2)."""

    def __init__(self, suite: CipherSuite, key: bytes, iv: bytes, mac_key: bytes,
                 encrypt_then_mac: bool) -> None:
        self.suite, self._key, self._iv, self._mac_key = suite, key, iv, mac_key
        self._encrypt_then_mac = encrypt_then_mac
        self._aead = None if suite.cipher == "cbc" else _aead(suite, key)
        self._seq = 0
        #: Bytes of a record payload before its plaintext: explicit nonce (GCM) or IV (CBC).
        self.plain_start = {"gcm": 8, "cbc": 16, "chacha": 0}[suite.cipher]

    def open(self, record: _Record) -> bytes:
        seq = self._seq.to_bytes(8, "big")
        type_version = record.header[:3]
        try:
            if self.suite.cipher == "gcm":  # 8-byte explicit nonce, 16-byte tag
                ciphertext = record.payload[8:]
                aad = seq + type_version + (len(ciphertext) - 16).to_bytes(2, "big")
                plain = self._aead.decrypt(self._iv + record.payload[:8], ciphertext, aad)
            elif self.suite.cipher == "chacha":  # RFC 7905: nonce is the IV XOR the sequence
                nonce = (int.from_bytes(self._iv, "big") ^ self._seq).to_bytes(12, "big")
                aad = seq + type_version + (len(record.payload) - 16).to_bytes(2, "big")
                plain = self._aead.decrypt(nonce, record.payload, aad)
            else:
                plain = self._open_cbc(record.payload, seq + type_version)
        except (InvalidTag, ValueError, OverflowError):  # OverflowError: shorter than a tag
            raise _BadRecord from None
        self._seq += 1
        return plain

    def _open_cbc(self, payload: bytes, mac_prefix: bytes) -> bytes:
        mac_len = hashlib.new(self.suite.mac_name).digest_size
        if self._encrypt_then_mac:  # RFC 7366: the MAC covers IV and ciphertext
            payload, mac = payload[:-mac_len], payload[-mac_len:]
            self._check_mac(mac_prefix, payload, mac)
            return _strip_cbc_padding(self._cbc_decrypt(payload))
        content = _strip_cbc_padding(self._cbc_decrypt(payload))
        if len(content) < mac_len:
            raise ValueError("record shorter than its MAC")
        content, mac = content[:-mac_len], content[-mac_len:]
        self._check_mac(mac_prefix, content, mac)
        return content

    def _cbc_decrypt(self, payload: bytes) -> bytes:
        # TLS 1.1+ sends each record's IV in front of its ciphertext.
        iv, ciphertext = payload[:16], payload[16:]
        if len(iv) < 16 or not ciphertext or len(ciphertext) % 16:
            raise ValueError("not a whole number of AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(iv)).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()

    def _check_mac(self, prefix: bytes, data: bytes, mac: bytes) -> None:
        expected = hmac.digest(self._mac_key, prefix + len(data).to_bytes(2, "big") + data,
                               self.suite.mac_name)
        if not hmac.compare_digest(expected, mac):
            raise ValueError("bad MAC")


def _strip_cbc_padding(plain: bytes) -> bytes:
    pad = plain[-1]
    if pad + 1 > len(plain) or plain[-pad - 1:] != bytes([pad]) * (pad + 1):
        raise ValueError("bad CBC padding")
    return plain[:-pad - 1]


def _tls12_keys(suite: CipherSuite, master: bytes, client: _Hello, server: _Hello,
                encrypt_then_mac: bool) -> tuple[_Tls12Keys, _Tls12Keys]:
    """(client write keys, server write keys) from the master secret (RFC 5246 6.3)."""
    mac_len = hashlib.new(suite.mac_name).digest_size if suite.cipher == "cbc" else 0
    iv_len = {"gcm": 4, "chacha": 12, "cbc": 0}[suite.cipher]
    block = _tls12_prf(master, b"key expansion", server.random + client.random,
                       2 * (mac_len + suite.key_len + iv_len), suite.hash_name)
    parts, pos = [], 0
    for size in (mac_len, mac_len, suite.key_len, suite.key_len, iv_len, iv_len):
        parts.append(block[pos:pos + size])
        pos += size
    client_mac, server_mac, client_key, server_key, client_iv, server_iv = parts
    return (_Tls12Keys(suite, client_key, client_iv, client_mac, encrypt_then_mac),
            _Tls12Keys(suite, server_key, server_iv, server_mac, encrypt_then_mac))


# --- one direction ----------------------------------------------------------------------


def _read_tls12(records: list[_Record], keys: _Tls12Keys, side: str, warnings: list[str],
                marks: list[tuple[int, int]]) -> tuple[bytes, int]:
    """(application data, records decrypted) of one TLS 1.2 direction; `marks` gets
    where each record's plaintext lies (see `Decrypted.client_marks`)."""
    data, opened, protected = bytearray(), 0, False
    for number, record in enumerate(records, 1):
        if not protected:
            protected = record.type == CHANGE_CIPHER_SPEC
            continue
        try:
            plain = keys.open(record)
        except _BadRecord:
            warnings.append(f"{side}: TLS record {number} does not authenticate with the key "
                            f"log's master secret (wrong keys?); the rest of this direction "
                            f"is not decrypted")
            break
        opened += 1
        if record.type == APPLICATION_DATA and plain:
            marks.append((len(data), record.offset + 5 + keys.plain_start))
            data += plain
    return bytes(data), opened


def _read_tls13(records: list[_Record], suite: CipherSuite, handshake_secret: bytes | None,
                traffic_secret: bytes | None, side: str, result: Decrypted,
                marks: list[tuple[int, int]]) -> tuple[bytes, int]:
    """(application data, records decrypted) of one TLS 1.3 direction. Handshake keys
    protect the records up to this side's Finished, traffic keys those after it; `marks`
    gets where each record's plaintext lies (see `Decrypted.client_marks`)."""
    data, opened, passed_over = bytearray(), 0, 0
    label = side.upper()
    if traffic_secret is None:
        result.warnings.append(f"{side}: the key log has no {label}_TRAFFIC_SECRET_0 for "
                               f"this connection; its application data is not decrypted")
    # Without the handshake secret, records fail until the traffic keys start to fit.
    in_handshake = handshake_secret is not None
    keys = _Tls13Keys(suite, handshake_secret if in_handshake else traffic_secret) \
        if (handshake_secret or traffic_secret) else None
    messages = _HandshakeMessages()
    for number, record in enumerate(records, 1):
        if record.type != APPLICATION_DATA:
            continue  # hellos, compatibility ChangeCipherSpec, plaintext alerts
        if keys is None:
            break
        try:
            inner_type, content = keys.open(record)
        except _BadRecord:
            if not in_handshake and not opened:
                passed_over += 1
                continue
            result.warnings.append(f"{side}: TLS record {number} does not authenticate with "
                                   f"the key log's {label} secrets (wrong keys, or 0-RTT "
                                   f"data?); the rest of this direction is not decrypted")
            break
        opened += 1
        if inner_type == APPLICATION_DATA and content:
            marks.append((len(data), record.offset + 5))
            data += content
        elif inner_type == HANDSHAKE:
            for msg_type, body in messages.feed(content):
                if msg_type == ENCRYPTED_EXTENSIONS:
                    result.alpn = next(iter(_alpn_names(_parse_extensions(body))), result.alpn)
                elif msg_type == FINISHED and in_handshake:
                    in_handshake = False
                    keys = _Tls13Keys(suite, traffic_secret) if traffic_secret else None
                elif msg_type == KEY_UPDATE and not in_handshake:
                    keys = keys.updated()
    if passed_over and not opened:
        result.warnings.append(f"{side}: no TLS record authenticates with the key log's "
                               f"{label}_TRAFFIC_SECRET_0 (wrong keys?); not decrypted")
    return bytes(data), opened


# --- the connection ---------------------------------------------------------------------


def decrypt_connection(client_stream: bytes, server_stream: bytes, keylog: KeyLog) -> Decrypted:
    """Decrypt what the key log allows of one TLS connection; never raises on bad input."""
    result = Decrypted()
    client_records = _split_records(client_stream, "client", result.warnings)
    server_records = _split_records(server_stream, "server", result.warnings)
    result.client_records, result.server_records = len(client_records), len(server_records)
    try:
        client_hello = _find_hello(client_records, CLIENT_HELLO)
        server_hello = _find_hello(server_records, SERVER_HELLO)
    except (IndexError, ValueError):
        result.warnings.append("malformed TLS hello message; the connection is not decrypted")
        return result
    if client_hello is None:
        result.warnings.append("no ClientHello at the start of the client stream (the "
                               "capture began mid-connection?); not decrypted")
        return result
    if server_hello is None:
        result.warnings.append("no ServerHello in the server stream; not decrypted")
        return result
    result.version = _VERSION_NAMES.get(server_hello.version, f"0x{server_hello.version:04x}")
    suites = SUITES_TLS13 if server_hello.version == TLS13 else SUITES_TLS12
    suite = suites.get(server_hello.cipher_suite)
    result.cipher = suite.name if suite else f"0x{server_hello.cipher_suite:04X}"
    result.alpn = next(iter(_alpn_names(server_hello.extensions)), "")
    if not keylog.has(client_hello.random):
        result.warnings.append(f"the key log has no secrets for this connection (client "
                               f"random {client_hello.random.hex()}); it stays encrypted")
        return result
    if server_hello.version not in (TLS12, TLS13) or suite is None:
        result.warnings.append(f"{result.version} with {result.cipher} cannot be decrypted "
                               f"(supported: TLS 1.2 and 1.3 with AES-GCM, ChaCha20-Poly1305 "
                               f"and, in TLS 1.2, AES-CBC)")
        return result
    if server_hello.version == TLS13:
        _decrypt_tls13(client_hello, suite, client_records, server_records, keylog, result)
    else:
        _decrypt_tls12(client_hello, server_hello, suite, client_records, server_records,
                       keylog, result)
    return result


def _decrypt_tls13(client_hello: _Hello, suite: CipherSuite, client_records: list[_Record],
                   server_records: list[_Record], keylog: KeyLog, result: Decrypted) -> None:
    def secret(label: str) -> bytes | None:
        return keylog.secret(client_hello.random, label)

    if EXT_EARLY_DATA in client_hello.extensions:
        result.warnings.append("the client offered 0-RTT early data; early data records "
                               "are not decrypted")
    # The server side first: its EncryptedExtensions carry the negotiated ALPN.
    result.server_data, server_opened = _read_tls13(
        server_records, suite, secret("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
        secret("SERVER_TRAFFIC_SECRET_0"), "server", result, result.server_marks)
    result.client_data, client_opened = _read_tls13(
        client_records, suite, secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
        secret("CLIENT_TRAFFIC_SECRET_0"), "client", result, result.client_marks)
    result.ok = bool(server_opened or client_opened)


def _decrypt_tls12(client_hello: _Hello, server_hello: _Hello, suite: CipherSuite,
                   client_records: list[_Record], server_records: list[_Record],
                   keylog: KeyLog, result: Decrypted) -> None:
    master = keylog.secret(client_hello.random, "CLIENT_RANDOM")
    if master is None or len(master) != 48:
        result.warnings.append("the key log has no 48-byte CLIENT_RANDOM master secret for "
                               "this TLS 1.2 connection; it stays encrypted")
        return
    result.encrypt_then_mac = suite.cipher == "cbc" and \
        EXT_ENCRYPT_THEN_MAC in server_hello.extensions
    client_keys, server_keys = _tls12_keys(suite, master, client_hello, server_hello,
                                           result.encrypt_then_mac)
    result.client_data, client_opened = _read_tls12(client_records, client_keys, "client",
                                                    result.warnings, result.client_marks)
    result.server_data, server_opened = _read_tls12(server_records, server_keys, "server",
                                                    result.warnings, result.server_marks)
    result.ok = bool(client_opened or server_opened)

"""TLS session secrets in the NSS key log format (`SSLKEYLOGFILE`).

Each line is `LABEL <client_random hex> <secret hex>`; `#` lines are comments. Browsers,
curl, Python's `ssl`, Frida hooks and PCAPdroid write it; pcapng files carry the same
text in Decryption Secrets Blocks. Secrets are looked up by the ClientHello random.
"""

from __future__ import annotations

from pathlib import Path

from auditor.model import InputError

#: Labels this tool uses; other well-formed labels (EXPORTER_SECRET, ...) are skipped.
KNOWN_LABELS = frozenset({
    "CLIENT_RANDOM",  # TLS 1.2: the 48-byte master secret
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
})

#: Past this many, bad lines of one file are counted rather than listed one by one.
_MAX_LINE_WARNINGS = 5

_LINE_HELP = ("not an NSS key log line (expected 'LABEL <client_random hex> <secret hex>', "
              "as written by SSLKEYLOGFILE)")


class KeyLog:
    """Secrets of many TLS sessions, by client random and label."""

    def __init__(self) -> None:
        self._secrets: dict[bytes, dict[str, bytes]] = {}
        self.warnings: list[str] = []  # bad lines that were skipped, as "file:line: ..."

    @classmethod
    def from_files(cls, paths: list[str]) -> KeyLog:
        """Read key log files. Raises InputError for a missing file or one without a
        single key log line; bad lines in an otherwise good file become warnings."""
        keylog = cls()
        for path in paths:
            try:
                text = Path(path).read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                raise InputError(f"{path}: no such key log file; check the --keylog path") \
                    from None
            except OSError as e:
                raise InputError(f"{path}: cannot read the key log: {e.strerror}") from None
            if not keylog._parse(text, path):
                raise InputError(f"{path}:1: {_LINE_HELP}; no line of this file is one — "
                                 f"is it really a key log?")
        return keylog

    def add_text(self, text: str, origin: str) -> None:
        """Add key log text from elsewhere, e.g. a pcapng Decryption Secrets Block;
        `origin` names it in warnings ("capture.pcapng#block 3")."""
        if not self._parse(text, origin) and text.strip():
            self.warnings.append(f"{origin}: no usable key log line in it; skipped")

    def has(self, client_random: bytes) -> bool:
        """Whether any secret of the session with this ClientHello random is known."""
        return client_random in self._secrets

    def secret(self, client_random: bytes, label: str) -> bytes | None:
        """The secret with this label for this session, or None."""
        return self._secrets.get(client_random, {}).get(label)

    def __len__(self) -> int:
        return len(self._secrets)

    def _parse(self, text: str, origin: str) -> int:
        """Add every good line of `text`; returns how many well-formed lines it had."""
        good = bad = 0
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parsed = _parse_line(line)
            if parsed is None:
                bad += 1
                if bad <= _MAX_LINE_WARNINGS:
                    self.warnings.append(f"{origin}:{number}: {_LINE_HELP}; line skipped")
                continue
            good += 1
            label, client_random, secret = parsed
            if label in KNOWN_LABELS:
                self._secrets.setdefault(client_random, {})[label] = secret
        if bad > _MAX_LINE_WARNINGS:
            self.warnings.append(f"{origin}: {bad - _MAX_LINE_WARNINGS} more bad lines skipped")
        return good


def _parse_line(line: str) -> tuple[str, bytes, bytes] | None:
    parts = line.split()
    if len(parts) != 3 or not parts[0].replace("_", "").isalnum():
        return None
    try:
        client_random, secret = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    # The RSA label keys by 8 bytes of the encrypted pre-master secret, not a random.
    if parts[0] != "RSA" and len(client_random) != 32:
        return None
    if not secret:
        return None
    return parts[0].upper(), client_random, secret

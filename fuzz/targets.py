"""Fuzz targets: each takes arbitrary bytes and runs one reader or parser on them.

A target may end in `InputError` (the reader's one-line "file: what is wrong"): that is the
promised answer to bad input. Anything else escaping — a traceback, a hang, memory without
bound — is a finding. Run them coverage-guided with `fuzz/run.py` (atheris), replay a
corpus with `fuzz/run.py TARGET --replay DIR`, or from the test suite (tests/fuzz/).

File readers get their input through a file in /dev/shm (or the temp folder), because
that is how the tool meets it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from auditor.model import Exchange, InputError, InputInfo

_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
_FILES: dict[str, str] = {}


def _as_file(data: bytes, suffix: str) -> str:
    """The same scratch file per process and suffix, rewritten for every input."""
    path = _FILES.get(suffix)
    if path is None:
        fd, path = tempfile.mkstemp(prefix="auditor-fuzz-", suffix=suffix, dir=_TMP)
        os.close(fd)
        _FILES[suffix] = path
    with open(path, "wb") as f:
        f.write(data)
    return path


def cleanup() -> None:
    for path in _FILES.values():
        try:
            os.unlink(path)
        except OSError:
            pass
    _FILES.clear()


def _drain(info_and_exchanges) -> None:
    _, exchanges = info_and_exchanges
    for _ in exchanges:
        pass


def capture(data: bytes) -> None:
    """pcap/pcapng (and whatever else `open_capture` sniffs) read to the end."""
    from auditor.sources import open_capture
    try:
        _drain(open_capture(_as_file(data, ".pcap")))
    except InputError:
        pass


def http1(data: bytes) -> None:
    """One HTTP/1 connection: the first byte picks how the rest is cut into client and
    server chunks, so pipelining, gaps and resynchronisation are all reached."""
    from auditor.sources.pcap.http1 import HttpConversation
    if not data:
        return
    conv = HttpConversation(lambda request: None, lambda upgrade, message: None)
    step = 1 + data[0] % 97
    payload = data[1:]
    for n, start in enumerate(range(0, len(payload), step)):
        chunk = payload[start:start + step]
        if chunk[:1] == b"\xff" and len(chunk) > 2:  # a gap of chunk[1] bytes
            (conv.up if n % 2 else conv.down).gap(chunk[1], start)
        elif n % 3 == 2:
            conv.down.data(chunk, float(n), n)
        else:
            conv.up.data(chunk, float(n), n)
    conv.close()


def http2(data: bytes) -> None:
    """One HTTP/2 connection: byte 0 says whether the client preface is added, bytes 1-2
    where the rest is cut into client and server data."""
    from auditor.sources.pcap.http2 import CLIENT_PREFACE, parse_http2
    if len(data) < 3:
        return
    cut = int.from_bytes(data[1:3], "big") % (len(data) - 2)
    client = data[3:3 + cut]
    if data[0] & 1:
        client = CLIENT_PREFACE + client
    parse_http2(client, data[3 + cut:], [])


def walker(data: bytes) -> None:
    """The decode walker on a request whose Content-Type and Content-Encoding the first
    byte picks and whose body is the rest."""
    from auditor.decode import fields_of
    if not data:
        return
    types = ["", "application/json", "application/x-www-form-urlencoded", "text/plain",
             "application/x-protobuf", "application/grpc", "multipart/form-data; boundary=b",
             "application/octet-stream"]
    codings = ["", "gzip", "br", "zstd", "deflate"]
    headers = []
    if types[data[0] % len(types)]:
        headers.append(("Content-Type", types[data[0] % len(types)]))
    if codings[data[0] // len(types) % len(codings)]:
        headers.append(("Content-Encoding", codings[data[0] // len(types) % len(codings)]))
    text = data[1:].decode("latin-1")
    exchange = Exchange(id=1, time=0.0, client="10.0.0.2:5000", server="10.0.0.1:80",
                        host="h.example", transport="http", method="POST",
                        url=f"http://h.example/p/{text[:64]}?q={text[:128]}",
                        headers=tuple(headers), body=data[1:])
    for _ in fields_of(exchange, warnings=[]):
        pass


def _flows(data: bytes, kind: str) -> None:
    from auditor.sources.flowfile import read_flowfile
    path = _as_file(data, f".{kind}")
    try:
        for _ in read_flowfile(path, InputInfo(path=path, kind=kind, size=len(data))):
            pass
    except InputError:
        pass


def har(data: bytes) -> None:
    _flows(data, "har")


def flowfile(data: bytes) -> None:
    _flows(data, "mitm")


def yaml_files(data: bytes) -> None:
    """The YAML loaders: device profile, policy file, suppression file, case expect.yaml,
    key hints — the first byte picks which."""
    from auditor.check import load_case
    from auditor.detect.hints import load_key_hints
    from auditor.detect.profile import load_profile
    from auditor.judge.loader import load_policies
    from auditor.suppress import load_suppressions
    if not data:
        return
    loaders: list[Callable[[str], object]] = [
        load_profile, lambda p: load_policies([p]), load_suppressions, load_case,
        load_key_hints]
    path = _as_file(data[1:], ".yaml")
    try:
        loaders[data[0] % len(loaders)](path)
    except InputError:
        pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "capture": capture, "http1": http1, "http2": http2, "walker": walker, "har": har,
    "flowfile": flowfile, "yaml": yaml_files,
}

"""Inputs: each module turns one kind of input into `Exchange`s and nothing more.

One kind of input each: `pcap/` (pcap and pcapng, a package shaped like the path of a
packet), `flowfile` (mitmproxy .mitm and HAR), `live` (flows from the running addon).
`bodycodec` decodes Content-Encoding for all of them. Only modules in this package import
scapy or mitmproxy.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Self

from auditor.model import Exchange, InputError, InputInfo

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)

_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


def sniff_kind(path: str) -> str:
    """The kind of a capture told from its first bytes: pcap, pcapng, mitm or har."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a capture file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if not head:
        raise InputError(f"{path}: the file is empty; expected a pcap, pcapng, "
                         f"mitmproxy flow file or HAR")
    if head[:4] in _PCAP_MAGICS:
        return "pcap"
    if head[:4] == _PCAPNG_MAGIC:
        return "pcapng"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        if b'"log"' in head or _is_har(path):
            return "har"
        raise InputError(f"{path}: JSON, but not a HAR file (no top-level \"log\" object)")
    # mitmproxy flow files are tnetstrings: "<length>:<payload><type>"
    colon = head.find(b":")
    if 0 < colon <= 12 and head[:colon].isdigit():
        return "mitm"
    raise InputError(f"{path}: not a capture this tool reads (expected pcap, pcapng, "
                     f"mitmproxy flow file or HAR; the first bytes are {head[:8].hex(' ')})")


def _is_har(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return isinstance(json.load(f).get("log"), dict)
    except (ValueError, AttributeError, OSError):
        return False


#: The name reports give a capture read from standard input (`-` or /dev/stdin).
STDIN_NAME = "<stdin>"
_SNIFF = 4096
#: Streams already opened and sniffed, by the name the framing is given (consumed once).
_PENDING_STREAMS: dict[str, _Prefixed] = {}


class _Prefixed:
    """A pipe whose first bytes were read to tell its kind, read on from the start: those
    bytes first, then the rest of the pipe. Never seeks; counts what was read."""

    def __init__(self, head: bytes, stream) -> None:
        self.head = head
        self.stream = stream
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = (self.head, b"") if n < 0 or n >= len(self.head) \
                else (self.head[:n], self.head[n:])
            if n < 0 or len(out) < n:
                out += self.stream.read(-1 if n < 0 else n - len(out))
        else:
            out = self.stream.read(n)
        self.count += len(out)
        return out

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self.stream is not sys.stdin.buffer:
            self.stream.close()


def take_stream(name: str) -> _Prefixed | None:
    """The already-opened pipe registered under `name` by `open_capture`, if any."""
    return _PENDING_STREAMS.pop(name, None)


def is_stream(path: str) -> bool:
    """`-`, /dev/stdin, or a path naming a pipe or terminal (e.g. `<(tcpdump -w - ...)`)."""
    if path in ("-", "/dev/stdin"):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _open_stream(path: str, keylogs: list[str]) -> tuple[InputInfo, Iterator[Exchange]]:
    """A pcap or pcapng read from a pipe in one pass: its kind from the first bytes, its
    SHA-256 and size from what was read."""
    name = STDIN_NAME if path in ("-", "/dev/stdin") else path
    if name == STDIN_NAME:
        if sys.stdin.isatty():
            raise InputError(f"{name}: standard input is a terminal, not a capture; pipe one "
                             f"in: tcpdump -r x.pcap -w - | auditor analyze -")
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115 — closed by _Prefixed
        except OSError as e:
            raise InputError(f"{name}: cannot read: {e.strerror}") from None
    head = stream.read(_SNIFF)
    if not head:
        raise InputError(f"{name}: nothing was read (an empty pipe); expected a pcap or "
                         f"pcapng, e.g. `tcpdump -r x.pcap -w - | auditor analyze -`")
    if head[:4] not in _PCAP_MAGICS and head[:4] != _PCAPNG_MAGIC:
        raise InputError(f"{name}: from a pipe only pcap and pcapng are read (the first "
                         f"bytes are {head[:8].hex(' ')}); give a flow file or HAR by its path")
    info = InputInfo(path=name, kind="pcap" if head[:4] in _PCAP_MAGICS else "pcapng")
    prefixed = _Prefixed(head, stream)
    _PENDING_STREAMS[name] = prefixed

    def exchanges() -> Iterator[Exchange]:
        from auditor.sources.pcap.reader import read_pcap

        try:
            yield from read_pcap(name, info, keylogs=keylogs, progress=None)
        finally:
            _PENDING_STREAMS.pop(name, None)
            info.size = prefixed.count
    return info, exchanges()


def open_capture(
    path: str,
    *,
    keylogs: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[InputInfo, Iterator[Exchange]]:
    """Open any supported capture. Returns its `InputInfo` (filled in while reading) and
    a lazy iterator of exchanges. Raises `InputError` when the file cannot be read at all.
    `-` and /dev/stdin (or any pipe) are read once, without seeking, as `<stdin>`."""
    if is_stream(path):
        return _open_stream(path, keylogs or [])
    kind = sniff_kind(path)
    info = InputInfo(path=path, kind=kind, size=os.path.getsize(path))
    if kind in ("pcap", "pcapng"):
        from auditor.sources.pcap.reader import read_pcap

        return info, read_pcap(path, info, keylogs=keylogs or [], progress=progress)
    from auditor.sources.flowfile import read_flowfile

    return info, read_flowfile(path, info, progress=progress)


def frame_time(path: str, number: int) -> float:
    """The capture time of packet `number` (from 1, as Wireshark counts) of a pcap or
    pcapng file, for `--opt-in-at frame:N`. Raises InputError."""
    if is_stream(path):
        raise InputError(f"--opt-in-at frame:{number}: {path} is a pipe, read only once; "
                         f"save the capture to a file, or give the time instead")
    kind = sniff_kind(path)
    if kind not in ("pcap", "pcapng"):
        raise InputError(f"--opt-in-at frame:{number}: {path} is a {kind} file; frame numbers "
                         f"exist in pcap and pcapng only; give the time instead")
    from auditor.sources.pcap.framing import iter_frames

    seen = 0
    for seen, time, *_ in iter_frames(path, InputInfo(path=path, kind=kind)):
        if seen == number:
            return time
    raise InputError(f"--opt-in-at frame:{number}: {path} has only {seen} packets")

"""Inputs: each module turns one kind of input into `Exchange`s and nothing more.

One kind of input each: `pcap/` (pcap and pcapng, a package shaped like the path of a
packet), `flowfile` (mitmproxy .mitm and HAR), `live` (flows from the running addon).
`bodycodec` decodes Content-Encoding for all of them. Only modules in this package import
scapy or mitmproxy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

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


def open_capture(
    path: str,
    *,
    keylogs: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[InputInfo, Iterator[Exchange]]:
    """Open any supported capture. Returns its `InputInfo` (filled in while reading) and
    a lazy iterator of exchanges. Raises `InputError` when the file cannot be read at all."""
    kind = sniff_kind(path)
    info = InputInfo(path=path, kind=kind, size=os.path.getsize(path))
    if kind in ("pcap", "pcapng"):
        from auditor.sources.pcap.reader import read_pcap

        return info, read_pcap(path, info, keylogs=keylogs or [], progress=progress)
    from auditor.sources.flowfile import read_flowfile

    return info, read_flowfile(path, info, progress=progress)

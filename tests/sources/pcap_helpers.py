"""Shared helpers of the pcap reader tests: read a fixture, summarise its exchanges."""

from __future__ import annotations

import os
from pathlib import Path

from auditor.model import Exchange, InputInfo
from auditor.sources.pcap.reader import read_pcap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pcap"


def read(name: str | Path, keylogs: list[str] | None = None) -> tuple[list[Exchange], InputInfo]:
    path = str(FIXTURES / name)
    kind = "pcapng" if str(name).endswith(".pcapng") else "pcap"
    info = InputInfo(path=path, kind=kind, size=os.path.getsize(path))
    return list(read_pcap(path, info, keylogs=keylogs or [], progress=None)), info


def signature(exchange: Exchange) -> tuple:
    """What must not change whichever way the same traffic was captured."""
    return (exchange.transport, exchange.method, exchange.host, exchange.url, exchange.status,
            exchange.body, exchange.bytes_up, exchange.bytes_down, exchange.client,
            exchange.server, exchange.server_ip, exchange.alpn, exchange.readable)

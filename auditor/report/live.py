"""The line `auditor proxy` prints for each upload with personal data, as it happens."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from rich.text import Text

from auditor.model import Exchange, Observation
from auditor.report.common import data_label, destination_label, severity_of
from auditor.report.mask import Masker
from auditor.report.terminal import SEVERITY_STYLES


def upload_line(exchange: Exchange, observations: Sequence[Observation], hits: Sequence[Any],
                destination: Any, *, reveal: bool = False) -> Text:
    """`12:00:03  host (country, network)  POST /path  IMEI, IMSI  rule [high] consent`:
    one line per upload, whatever number of data and rules it holds. Values are masked
    (in the path too) unless `reveal`."""
    masker = Masker([(o.value, o.data_type) for o in observations], reveal=reveal)
    line = Text()
    line.append(time.strftime("%H:%M:%S", time.localtime(exchange.time)), style="dim")
    line.append("  ")
    line.append(masker.text(exchange.host), style="bold")
    label = destination_label(destination)
    if label:
        line.append(f" ({label})", style="dim")
    line.append("  ")
    line.append(masker.text(_request(exchange)))
    line.append("  ")
    line.append(", ".join(data_label(t) for t in dict.fromkeys(o.data_type
                                                               for o in observations)) or "-")
    line.append("  ")
    if not hits:
        line.append("no rule broken", style="dim")
    for n, hit in enumerate(hits):
        severity = str(severity_of(hit.rule.severity))
        line.append(", " if n else "")
        line.append(f"{hit.rule.id} [{severity}]", style=SEVERITY_STYLES.get(severity, ""))
    consents = sorted({getattr(hit, "consent", "") for hit in hits} - {""})
    if consents:
        line.append(f" {'/'.join(consents)}", style="dim")
    return line


def _request(exchange: Exchange) -> str:
    """`POST /v1/activate?x=1`, `WSS /push`, `DNS name`, `TCP`."""
    if exchange.transport == "dns":
        return f"DNS {exchange.host}"
    if exchange.url:
        parts = urlsplit(exchange.url)
        path = parts.path or "/"
        path += f"?{parts.query}" if parts.query else ""
        return f"{exchange.method or exchange.transport.upper()} {path}"
    return exchange.transport.upper()

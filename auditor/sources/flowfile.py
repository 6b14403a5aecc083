"""mitmproxy flow files (.mitm) and HAR files as `Exchange`s.

Flow files are read one flow at a time (memory stays flat), through the same conversion
the live addon uses. HAR is read by this module rather than by mitmproxy's reader, which
drops base64 and params-only request bodies and gives up on the whole file at the first
odd entry; here one odd entry is a warning and the rest is still read.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from mitmproxy import flow as mflow
from mitmproxy.io import compat, tnetstring
from mitmproxy.net import encoding

from auditor.model import Exchange, InputError, InputInfo
from auditor.sources import ProgressCallback
from auditor.sources.live import Warn, exchanges_from_flow


def read_flowfile(path: str, info: InputInfo, *,
                  progress: ProgressCallback | None = None) -> Iterator[Exchange]:
    """Exchanges of a mitmproxy flow file or a HAR file (`info.kind` says which)."""
    if info.kind == "har":
        yield from _read_har(path, info)
    else:
        yield from _read_mitm(path, info, progress)


# --- mitmproxy flow files ---------------------------------------------------------------


def _read_mitm(path: str, info: InputInfo,
               progress: ProgressCallback | None) -> Iterator[Exchange]:
    total = os.path.getsize(path)
    with open(path, "rb") as fo:
        number = 0
        while True:
            number += 1
            try:
                state = tnetstring.load(fo)
            except (ValueError, TypeError, IndexError) as e:
                if str(e) == "not a tnetstring: empty file":
                    return
                _stream_broken(path, info, number, fo.tell() >= total, e)
                return
            info.packets += 1
            try:
                flow = mflow.Flow.from_state(compat.migrate_flow(state))
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                if number == 1:
                    raise InputError(f"{path}: flow 1: not a mitmproxy flow ({e}); "
                                     f"give a file written by mitmdump -w or mitmproxy") from None
                info.warn(f"{path}: flow {number}: unreadable ({e}); skipped")
                continue
            for exchange in exchanges_from_flow(flow, source=f"{path}#{number}", warn=info.warn):
                _count(info, exchange)
                yield exchange
            if progress is not None:
                progress(fo.tell(), total)


def _stream_broken(path: str, info: InputInfo, number: int, at_end: bool,
                   error: Exception) -> None:
    if number == 1:
        raise InputError(f"{path}: not a mitmproxy flow file ({error}); "
                         f"give a file written by mitmdump -w or mitmproxy, or a HAR file")
    if at_end:
        info.warn(f"{path}: flow {number}: truncated; the rest was skipped")
    else:
        info.warn(f"{path}: flow {number}: damaged ({error}); the rest was skipped")


def _count(info: InputInfo, exchange: Exchange) -> None:
    info.exchanges += 1
    if info.first_time is None or exchange.time < info.first_time:
        info.first_time = exchange.time
    if info.last_time is None or exchange.time > info.last_time:
        info.last_time = exchange.time


# --- HAR --------------------------------------------------------------------------------


def _read_har(path: str, info: InputInfo) -> Iterator[Exchange]:
    try:
        with open(path, "rb") as f:
            document = json.loads(f.read().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: byte {e.start}: not UTF-8 text; a HAR file is JSON") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); "
                         f"the HAR file is damaged or truncated") from None
    entries = document.get("log", {}).get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{path}: no log.entries list; not a HAR file")
    for number, entry in enumerate(entries, 1):
        info.packets += 1
        source = f"{path}#{number}"
        try:
            exchanges = har_entry_exchanges(entry, source=source, warn=info.warn)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            info.warn(f"{path}: entry {number}: unreadable ({type(e).__name__}: {e}); skipped")
            continue
        for exchange in exchanges:
            _count(info, exchange)
            yield exchange


def har_entry_exchanges(entry: dict, *, source: str, warn: Warn | None = None) -> list[Exchange]:
    """One HAR entry: its request and, for a WebSocket, the messages the client sent."""
    request = entry["request"]
    url = request["url"]
    parts = urlsplit(url)
    headers = tuple((str(h["name"]), str(h["value"])) for h in request.get("headers", [])
                    if not str(h["name"]).startswith(":"))  # HTTP/2 pseudo-headers
    body, notes = _har_body(request.get("postData"), headers)
    if notes and warn is not None:
        warn(f"{source}: {notes[0]}")
    tls = parts.scheme in ("https", "wss")
    port = parts.port or (443 if tls else 80)
    server_ip = str(entry.get("serverIPAddress") or "").strip("[]")
    server = (f"[{server_ip}]:{port}" if ":" in server_ip else f"{server_ip}:{port}"
              ) if server_ip else ""
    host = _header(headers, "host") or _authority(request) or parts.hostname or ""
    host = _strip_port(host)
    time = _har_time(entry["startedDateTime"])
    response = entry.get("response") or {}
    common = {"client": "", "server": server, "server_ip": server_ip, "host": host,
              "decrypted": tls}
    exchange = Exchange(
        id=0, time=time, transport="https" if tls else "http", method=str(request["method"]),
        url=url, headers=headers, body=body, source=source, notes=tuple(notes),
        bytes_up=_har_size(request, fallback=len(body)),
        bytes_down=_har_size(response, fallback=(response.get("content") or {}).get("size", 0)),
        status=int(response.get("status") or 0) or None,
        end_time=time + float(entry.get("time") or 0) / 1000, **common)
    out = [exchange]
    ws_scheme = "wss" if tls else "ws"
    ws_url = f"{ws_scheme}://{url.split('://', 1)[-1]}"
    for n, message in enumerate(entry.get("_webSocketMessages") or [], 1):
        if message.get("type") != "send":
            continue
        data = str(message.get("data", ""))
        content = base64.b64decode(data) if message.get("opcode") == 2 else data.encode()
        out.append(Exchange(id=0, time=float(message.get("time") or time), transport=ws_scheme,
                            url=ws_url, body=content, source=f"{source} ws {n}",
                            bytes_up=len(content), **common))
    return out


def _har_body(post_data: dict | None, headers: tuple[tuple[str, str], ...]
              ) -> tuple[bytes, list[str]]:
    """The request body: HAR writers store it as text (usually already content-decoded),
    as base64 (usually as sent), or only as parsed form params."""
    if not post_data:
        return b"", []
    text = post_data.get("text")
    from_base64 = post_data.get("encoding") == "base64"
    if text is None:
        params = [(p["name"], p.get("value", "")) for p in post_data.get("params") or []]
        return urlencode(params).encode(), []
    if from_base64:
        body = base64.b64decode(text)
    else:
        try:
            body = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            body = text.encode("utf-8", "replace")
    content_encoding = _header(headers, "content-encoding")
    if not body or not content_encoding or content_encoding == "identity":
        return body, []
    try:
        return encoding.decode(body, content_encoding), []
    except ValueError:
        if from_base64:  # stored as sent, yet not what its header says
            return body, [(f"body is not valid {content_encoding!r} as its Content-Encoding "
                           f"says; analysed as stored")]
        return body, []  # text bodies are stored decoded


def _har_time(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _har_size(message: dict, *, fallback: int) -> int:
    head, body = message.get("headersSize", -1), message.get("bodySize", -1)
    if isinstance(head, int) and isinstance(body, int) and head >= 0 and body >= 0:
        return head + body
    return int(fallback or 0)


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.strip()
    return ""


def _authority(request: dict) -> str:
    for h in request.get("headers", []):
        if str(h.get("name", "")).lower() == ":authority":
            return str(h.get("value", ""))
    return ""


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

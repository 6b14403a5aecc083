"""mitmproxy flow files (.mitm) and HAR files as `Exchange`s.

Flow files are read one flow at a time (memory stays flat), through the same conversion
the live addon uses. HAR is read by this module rather than by mitmproxy's reader, which
drops base64 and params-only request bodies and gives up on the whole file at the first
odd entry; here one odd entry is a warning and the rest is still read.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from mitmproxy import flow as mflow
from mitmproxy.io import compat, tnetstring

from auditor.model import Exchange, InputError, InputInfo
from auditor.sources import ProgressCallback
from auditor.sources.bodycodec import decode_body, over_cap
from auditor.sources.live import Warn, exchanges_from_flow
from auditor.yamlcheck import quote

#: What a malformed flow or HAR entry can raise while it is read; one such entry is a
#: warning and the rest of the file is still read.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
              RecursionError,
              AssertionError)  # mitmproxy's from_state asserts that no key is left over
_LAST_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: the last moment a report can print
_QUOTE = 80  # characters of a bad value quoted in a message at most



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
            except RecursionError:
                _stream_broken(path, info, number, False, ValueError("nested too deeply"))
                return
            except (ValueError, TypeError, IndexError) as e:
                if str(e) == "not a tnetstring: empty file":
                    return
                _stream_broken(path, info, number, fo.tell() >= total, e)
                return
            info.packets += 1
            try:
                flow = mflow.Flow.from_state(compat.migrate_flow(state))
            except _MALFORMED as e:
                if number == 1:
                    raise InputError(f"{path}: flow 1: not a mitmproxy flow ({_why(e)}); "
                                     f"give a file written by mitmdump -w or mitmproxy") from None
                info.warn(f"{path}: flow {number}: unreadable ({_why(e)}); skipped")
                continue
            source = f"{path}#{number}"
            try:
                exchanges = exchanges_from_flow(flow, source=source, warn=info.warn)
            except _MALFORMED as e:
                info.warn(f"{path}: flow {number}: unreadable ({_why(e)}); skipped")
                continue
            yield from _counted(info, exchanges)
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


def _why(error: BaseException) -> str:
    text = str(error) if not isinstance(error, RecursionError) else "nested too deeply"
    if len(text) > _QUOTE:
        text = f"{text[:_QUOTE - 20]}… ({len(text)} characters)"
    return f"{type(error).__name__}: {text}"


def _sane_time(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= _LAST_TIME


def _sane_times(exchange: Exchange, warn: Warn) -> Exchange:
    """An exchange whose times no calendar can hold (1e300, NaN) gets the epoch instead,
    with a warning, rather than failing every report that prints it."""
    if _sane_time(exchange.time) and (exchange.end_time is None
                                      or _sane_time(exchange.end_time)):
        return exchange
    warn(f"{exchange.source}: time {quote(exchange.time)} is out of range; "
         f"shown as 1970-01-01")
    time = exchange.time if _sane_time(exchange.time) else 0.0
    return dataclasses.replace(exchange, time=time, end_time=time)


def _counted(info: InputInfo, exchanges: list[Exchange]) -> Iterator[Exchange]:
    for exchange in exchanges:
        exchange = _sane_times(exchange, info.warn)
        _count(info, exchange)
        yield exchange


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
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read (arrays or objects more "
                         f"than about {sys.getrecursionlimit()} levels deep); not a HAR "
                         f"file") from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{path}: no log.entries list; not a HAR file")
    for number, entry in enumerate(entries, 1):
        info.packets += 1
        source = f"{path}#{number}"
        try:
            if not isinstance(entry, dict):
                raise TypeError(f"an entry is an object, not {type(entry).__name__}")
            exchanges = har_entry_exchanges(entry, source=source, warn=info.warn)
        except _MALFORMED as e:
            info.warn(f"{path}: entry {number}: unreadable ({_why(e)}); skipped")
            continue
        yield from _counted(info, exchanges)


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
        out.append(Exchange(id=0, time=float(message.get("time") or time),
                            transport=ws_scheme,
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
    decoded, problem = decode_body(body, content_encoding)
    if not problem:
        return decoded, []
    if over_cap(problem):  # a bomb: kept as stored, and the report says so
        return body, [problem]
    if from_base64:  # stored as sent, yet not what its header says
        return body, [(f"body is not valid {quote(content_encoding)} as its "
                       f"Content-Encoding says; analysed as stored")]
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

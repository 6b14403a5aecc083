"""mitmproxy flows as `Exchange`s: shared by the live addon and the flow-file reader.

Only what the phone sent is kept; what came back is only counted. HTTP bodies are given
to the engine content-decoded (mitmproxy keeps them as they went over the wire), falling
back to the bytes as sent, with a note, when the declared Content-Encoding is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mitmproxy import connection, dns, flow, http, tcp, udp, websocket

from auditor.model import Exchange
from auditor.sources.bodycodec import decode_body, over_cap

Warn = Callable[[str], None]


def exchanges_from_flow(f: flow.Flow, *, source: str, warn: Warn | None = None) -> list[Exchange]:
    """Every upload in one mitmproxy flow: an HTTP request and the WebSocket messages the
    client sent over it, each raw TCP/UDP message from the client, or each DNS question."""
    if isinstance(f, http.HTTPFlow):
        out = [] if f.request.method == "CONNECT" else [http_exchange(f, source=source, warn=warn)]
        if f.websocket is not None:
            out += [websocket_exchange(f, m, source=f"{source} ws {n}")
                    for n, m in enumerate(f.websocket.messages, 1) if m.from_client]
        return out
    if isinstance(f, tcp.TCPFlow | udp.UDPFlow):
        return [stream_exchange(f, m, source=f"{source} msg {n}")
                for n, m in enumerate(f.messages, 1) if m.from_client]
    if isinstance(f, dns.DNSFlow):
        return dns_exchanges(f, source=source)
    return []


def http_exchange(f: http.HTTPFlow, *, source: str, warn: Warn | None = None,
                  raw_body: bool = False) -> Exchange:
    """One HTTP request (HTTP/1, 2 or 3) as the phone sent it. `raw_body`: keep the body as
    it went over the wire (the live proxy leaves decoding to its analysis process)."""
    request = f.request
    notes: list[str] = []
    body = (request.raw_content or b"") if raw_body else _decoded_body(request, notes)
    if notes and warn is not None:
        warn(f"{source}: {notes[0]}")
    response = f.response
    return Exchange(
        id=0,
        time=request.timestamp_start,
        end_time=request.timestamp_end,
        client=_address(f.client_conn.peername),
        server=_address(f.server_conn.peername or f.server_conn.address),
        server_ip=_server_ip(f.server_conn),
        host=request.pretty_host,
        transport="https" if _is_tls(f) else "http",
        method=request.method,
        url=request.pretty_url,
        headers=_headers(request.headers),
        body=body,
        decrypted=_is_tls(f),
        source=source,
        bytes_up=_head_size(request) + len(request.raw_content or b""),
        bytes_down=_response_size(response),
        status=response.status_code if response is not None else None,
        alpn=_alpn(f.client_conn),
        notes=tuple(notes),
    )


def with_server(exchange: Exchange, f: http.HTTPFlow) -> Exchange:
    """`exchange` (made when the request arrived) with what is known once the flow has
    ended: the server connection (plain HTTP connects upstream only after the request
    hook), the response, and a note when no connection to the server was made."""
    notes = exchange.notes
    if not f.server_conn.peername:
        why = (f" ({f.error.msg})" if f.error is not None else
               " before the audit ended" if f.response is None else "")
        notes += (f"no connection to the server was made{why}",)
    return replace(exchange, server=_address(f.server_conn.peername or f.server_conn.address),
                   server_ip=_server_ip(f.server_conn), bytes_down=_response_size(f.response),
                   status=f.response.status_code if f.response is not None else None,
                   notes=notes)


def websocket_exchange(f: http.HTTPFlow, message: websocket.WebSocketMessage, *,
                       source: str) -> Exchange:
    """One WebSocket message the phone sent over an upgraded HTTP flow."""
    tls = _is_tls(f)
    scheme = "wss" if tls else "ws"
    url = f.request.pretty_url.split("://", 1)[-1]
    return Exchange(
        id=0,
        time=message.timestamp,
        client=_address(f.client_conn.peername),
        server=_address(f.server_conn.peername or f.server_conn.address),
        server_ip=_server_ip(f.server_conn),
        host=f.request.pretty_host,
        transport=scheme,
        url=f"{scheme}://{url}",
        body=message.content,
        decrypted=tls,
        source=source,
        bytes_up=len(message.content),
    )


def stream_exchange(f: tcp.TCPFlow | udp.UDPFlow, message: tcp.TCPMessage | udp.UDPMessage, *,
                    source: str) -> Exchange:
    """One raw TCP or UDP message from the phone (when mitmproxy does not speak the protocol)."""
    server_conn = f.server_conn
    tls = bool(f.client_conn.tls or server_conn.tls)
    transport = "udp" if isinstance(f, udp.UDPFlow) else "tcp"
    return Exchange(
        id=0,
        time=message.timestamp,
        client=_address(f.client_conn.peername),
        server=_address(server_conn.peername or server_conn.address),
        server_ip=_server_ip(server_conn),
        host=f.client_conn.sni or server_conn.sni or _host_of(server_conn),
        # decrypted TLS carrying an unknown protocol is still an encrypted upload
        transport="tls" if tls else transport,
        body=message.content,
        decrypted=tls,
        source=source,
        bytes_up=len(message.content),
    )


def dns_exchanges(f: dns.DNSFlow, *, source: str) -> list[Exchange]:
    """One exchange per question of a DNS query: the name asked for is what leaves."""
    request = f.request
    server_conn = f.server_conn
    size = len(request.packed)
    return [
        Exchange(
            id=0,
            time=request.timestamp,
            client=_address(f.client_conn.peername),
            server=_address(server_conn.peername or server_conn.address),
            server_ip=_server_ip(server_conn),
            host=question.name,
            transport="dns",
            method="QUERY",
            url=f"dns:{question.name}",
            source=source,
            bytes_up=size,
            bytes_down=len(f.response.packed) if f.response is not None else 0,
        )
        for question in request.questions
    ]


def unreadable_exchange(client: connection.Client, server: connection.Server | None, *,
                        source: str) -> Exchange:
    """A TLS connection the phone refused to complete with our certificate: we cannot see
    what it would have sent, and the report must say so rather than under-count."""
    host = client.sni or (_host_of(server) if server is not None else "") or "an unknown host"
    notes = [f"could not inspect {host}: the app refused our certificate (pinning?)"]
    if client.error:
        notes.append(f"mitmproxy: {client.error}")
    return Exchange(
        id=0,
        time=client.timestamp_start,
        client=_address(client.peername),
        server=_address(server.peername or server.address) if server is not None else "",
        server_ip=_server_ip(server) if server is not None else "",
        host=host,
        transport="tls",
        readable=False,
        source=source,
        alpn=",".join(a.decode("ascii", "replace") for a in client.alpn_offers),
        notes=tuple(notes),
    )


def _decoded_body(message: http.Message, notes: list[str]) -> bytes:
    """The body content-decoded by the one capped, streaming decoder (never mitmproxy's
    `get_content`, which expands a bomb in full before any cap applies)."""
    raw = message.raw_content
    if not raw:
        return b""
    encoding = message.headers.get("content-encoding", "")
    if not encoding:
        return raw
    body, problem = decode_body(raw, encoding)
    if problem and over_cap(problem):
        notes.append(problem)
    elif problem:
        notes.append(f"body is not valid {encoding[:40]!r} as its Content-Encoding says; "
                     f"analysed as sent")
    return body


def _alpn(client: connection.Client) -> str:
    return client.alpn.decode("ascii", "replace") if client.alpn else ""


def _is_tls(f: http.HTTPFlow) -> bool:
    return bool(f.client_conn.tls or f.server_conn.tls or f.request.scheme == "https")


def _headers(headers: http.Headers) -> tuple[tuple[str, str], ...]:
    return tuple((name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
                 for name, value in headers.fields)


def _head_size(request: http.Request) -> int:
    """Size of the request head as HTTP/1 spells it (HTTP/2 and 3 compress it; this is
    close enough to compare uploads)."""
    line = len(request.method) + len(request.path) + len(request.http_version) + 4
    return line + sum(len(k) + len(v) + 4 for k, v in request.headers.fields) + 2


def _response_size(response: http.Response | None) -> int:
    if response is None:
        return 0
    head = sum(len(k) + len(v) + 4 for k, v in response.headers.fields)
    return head + len(response.raw_content or b"")


def _address(address: tuple | None) -> str:
    if not address:
        return ""
    if len(address) < 2:  # a damaged flow file: a host without a port
        return str(address[0])
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _server_ip(server: connection.Server) -> str:
    if server.peername:
        return str(server.peername[0])
    return ""


def _host_of(server: connection.Server) -> str:
    if server.address:
        return str(server.address[0])
    return ""


"""Builders for judge unit tests: exchanges, observations and destinations made directly."""

from __future__ import annotations

from auditor.judge.destination import Destination
from auditor.model import Exchange, Observation


def exchange(id: int = 1, *, time: float = 100.0, host: str = "api.account.xiaomi.com",
             transport: str = "http", method: str = "POST", path: str = "/upload",
             body: bytes = b"", readable: bool = True, server: str = "42.62.94.174:80"
             ) -> Exchange:
    scheme = "https" if transport in ("https", "tls") else "http"
    return Exchange(id=id, time=time, client="192.168.1.23:40000", server=server, host=host,
                    transport=transport, method=method,
                    url=f"{scheme}://{host}{path}" if method else "", body=body,
                    readable=readable, server_ip=server.rsplit(":", 1)[0], bytes_up=300)


def observation(data_type: str = "imei", *, exchange: int = 1, where: str = "query",
                key: str = "imei", match: str = "known", hashed: bool = False,
                value: str = "867203024182737") -> Observation:
    return Observation(exchange=exchange, data_type=data_type, where=where, key=key,
                       encodings=("sha256",) if hashed else ("plain",), match=match,
                       value=value, hashed=hashed,
                       confidence=1.0 if match == "known" else 0.8)


def destination(*, country: str = "CN", organisation: str = "Xiaomi", party: str = "first",
                scope: str = "public", ip: str = "42.62.94.174") -> Destination:
    return Destination(ip=ip, country=country, scope=scope, asn=None, as_name="",
                       organisation=organisation, party=party)

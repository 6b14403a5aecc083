"""Throughput of `fields_of` on a realistic mix of uploads (not a test: run it by hand).

    python3 tests/decode/bench_decode.py

Prints microseconds per exchange for each kind and MB/s of request bytes over the mix.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from decode_helpers import http, pb_bytes, pb_double, pb_varint

from auditor.decode import fields_of
from auditor.model import Exchange

rng = random.Random(1)


def small_json() -> Exchange:
    body = json.dumps({"app": "com.miui.cloud", "ver": "5.2.1", "imei": "867203024182737",
                       "ts": 1406887203123, "net": "wifi", "lang": "zh_CN",
                       "events": [{"id": i, "name": "open", "dur": rng.random()}
                                  for i in range(5)]}).encode()
    return http("http://api.example/v1/stat?appid=12&sign=d41d8cd98f00b204e9800998ecf8427e",
                body=body, content_type="application/json",
                headers=(("User-Agent", "Dalvik/1.6.0 (Linux; U; Android 4.4.2; 2014011)"),
                         ("Cookie", "sid=ab12cd34; lang=zh")))


def form() -> Exchange:
    return http("http://api.example/pass/register",
                body=b"imei=867203024182737&imsi=460013728150946&phone=%2B8615627394810"
                     b"&model=2014011&sdk=19&sign=" + base64.b64encode(rng.randbytes(24)),
                content_type="application/x-www-form-urlencoded")


def gzip_json() -> Exchange:
    contacts = [{"name": f"Contact {i}", "phone": f"+86156{rng.randrange(10**8):08d}"}
                for i in range(300)]
    return http("http://api.example/contacts", body=gzip.compress(json.dumps(contacts).encode()),
                content_type="application/json")


def protobuf() -> Exchange:
    body = b"".join(pb_bytes(1, pb_varint(1, rng.randrange(1 << 40)) + pb_bytes(2, "event")
                             + pb_double(3, 39.98) + pb_double(4, 116.3)) for _ in range(60))
    return http("http://api.example/log", body=body, content_type="application/x-protobuf")


def multipart_file() -> Exchange:
    sms = "\n".join(f"{i},+86156{i:08d},Hallo wir treffen uns um {i} Uhr" for i in range(3000))
    body = (b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"sms.csv\"\r\n\r\n"
            + sms.encode() + b"\r\n--B--\r\n")
    return http("http://api.example/backup", body=body,
                content_type="multipart/form-data; boundary=B")


def big_binary() -> Exchange:
    return http("http://api.example/upload", body=b"\xff\xd8\xff\xe0" + rng.randbytes(2 << 20),
                content_type="image/jpeg")


def measure(name: str, exchange: Exchange, repeat: int) -> tuple[float, int]:
    size = len(exchange.body) + len(exchange.url) + sum(len(n) + len(v)
                                                        for n, v in exchange.headers)
    start = time.perf_counter()
    for _ in range(repeat):
        for _field in fields_of(exchange):
            pass
    elapsed = (time.perf_counter() - start) / repeat
    print(f"{name:15s} {size:>9d} B  {elapsed * 1e6:10.1f} us/exchange  "
          f"{size / elapsed / 1e6:8.1f} MB/s")
    return elapsed, size


def main() -> None:
    mix = [("small JSON", small_json(), 2000, 60), ("form", form(), 2000, 25),
           ("gzip JSON", gzip_json(), 50, 8), ("protobuf", protobuf(), 100, 5),
           ("multipart file", multipart_file(), 50, 1), ("2 MiB jpeg", big_binary(), 10, 1)]
    total_time = total_bytes = 0.0
    for name, exchange, repeat, weight in mix:
        elapsed, size = measure(name, exchange, repeat)
        total_time += elapsed * weight
        total_bytes += size * weight
    print(f"weighted mix: {total_bytes / total_time / 1e6:.1f} MB/s of upload bytes")


if __name__ == "__main__":
    main()

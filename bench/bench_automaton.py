"""Which Aho-Corasick library to search uploads with, and how fast detection runs.

Builds ~1,000 variants (digit ids, hex digests, base64 digests, phone spellings) and
~50 MB of realistic upload text (query strings, JSON telemetry, base64 blobs) with a few
planted variants, then times one overlapping search over every field with each library,
over lower-cased bytes (what auditor.detect does) and over str. Last, it times the whole
`Detector.observe` (known values of the DESIGN.md profile, ~1,500 automaton patterns, plus
pattern mode) over the same fields: one field per call, then 30 per call, as an upload's
fields come (the detector joins them and searches once per exchange).

    python3 bench/bench_automaton.py [--mb 50] [--variants 1000]     (from the repository root)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import ahocorasick
import ahocorasick_rs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from auditor.detect import Detector
from auditor.detect.profile import Contact, DeviceProfile, Location
from auditor.model import Exchange, Field

#: The profile of DESIGN.md, as `auditor analyze --device` would load it.
PROFILE = DeviceProfile(
    region="CN", imei=("867203024182737", "867203024182810"), imsi=("460013728150946",),
    iccid=("89860114872047315961",), phone_number=("+8615627394810",),
    android_id=("3f8a1c0b7d52e946",), advertising_id=("5b9e2c71-04d8-4f3a-9a6e-d21c7f08b3e5",),
    mac_address=("64:09:80:3a:5c:7e",), serial_number=("7c1e4b92",),
    email=("someone@example.com",), contacts=(Contact("Anna Schmidt", "+49 151 2345 6789"),),
    sms=("Hallo Anna, wir treffen uns morgen um 19 Uhr.",),
    location=Location(39.98312, 116.30745, "39.98312", "116.30745"))
FIELDS_PER_UPLOAD = 30


def make_variants(count: int, rng: random.Random) -> list[bytes]:
    """Lower-cased variants shaped like the ones the detector builds."""
    out: set[bytes] = set()
    while len(out) < count:
        ident = "".join(rng.choice("0123456789") for _ in range(15))
        digest = hashlib.sha256(ident.encode()).digest()
        out.add(ident.encode())
        out.add(digest.hex()[:16].encode())
        out.add(base64.b64encode(digest).rstrip(b"=").lower())
        out.add(f"+86 {ident[:3]} {ident[3:7]} {ident[7:11]}".encode())
    return sorted(out)[:count]


def make_fields(total_mb: int, plants: list[bytes], rng: random.Random) -> list[bytes]:
    """Upload fields: short query values, JSON bodies, base64 blobs; a plant every ~1 MB."""
    fields: list[bytes] = []
    size, next_plant = 0, 1 << 20
    while size < total_mb << 20:
        kind = rng.random()
        if kind < 0.6:
            value = "".join(rng.choice("abcdef0123456789") for _ in range(rng.randint(4, 40)))
            field = value.encode()
        elif kind < 0.9:
            event = {"event": "app_open", "ts": rng.randint(1, 1 << 41),
                     "items": [{"id": rng.randint(1, 10**9), "name": f"item {i}"}
                               for i in range(rng.randint(5, 60))]}
            field = json.dumps(event).encode()
        else:
            field = base64.b64encode(rng.randbytes(rng.randint(200, 4000)))
        if size > next_plant:
            field += b"&x=" + rng.choice(plants)
            next_plant += 1 << 20
        fields.append(field.lower())
        size += len(field)
    return fields


def time_it(name: str, search, fields: list[bytes], total: int) -> None:
    start = time.perf_counter()
    hits = sum(search(field) for field in fields)
    seconds = time.perf_counter() - start
    print(f"{name:42s} {total / seconds / 1e6:8.1f} MB/s  ({hits} matches)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--variants", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(2014)
    variants = make_variants(args.variants, rng)
    fields = make_fields(args.mb, variants, rng)
    total = sum(map(len, fields))
    print(f"{len(variants)} variants, {len(fields)} fields, {total / 1e6:.1f} MB")

    rs_bytes = ahocorasick_rs.BytesAhoCorasick(variants)
    time_it("ahocorasick_rs BytesAhoCorasick (bytes)",
            lambda f: len(rs_bytes.find_matches_as_indexes(f, overlapping=True)), fields, total)

    rs_str = ahocorasick_rs.AhoCorasick([v.decode("latin-1") for v in variants])
    text_fields = [f.decode("latin-1") for f in fields]
    time_it("ahocorasick_rs AhoCorasick (str)",
            lambda f: len(rs_str.find_matches_as_indexes(f, overlapping=True)), text_fields, total)

    py_str = ahocorasick.Automaton()
    for index, variant in enumerate(variants):
        py_str.add_word(variant.decode("latin-1"), index)
    py_str.make_automaton()
    # pyahocorasick 2.x takes no bytes keys; latin-1 str is its byte-for-byte stand-in
    time_it("pyahocorasick (latin-1 str)", lambda f: sum(1 for _ in py_str.iter(f)),
            text_fields, total)

    detector = Detector(PROFILE)
    upload = Exchange(id=1, time=0.0, client="", server="", host="bench", transport="http")
    for mode, key in (("keys with no hint", "v"), ("keys hinting a phone number", "msisdn")):
        as_fields = [Field("body", key, f, ("json:$.v",)) for f in fields]
        time_it(f"Detector.observe, profile + patterns, {mode}",
                lambda f: len(detector.observe(upload, (f,))), as_fields, total)
        # an upload is ~30 fields, searched together (auditor/detect/batch.py)
        uploads = [as_fields[i:i + FIELDS_PER_UPLOAD]
                   for i in range(0, len(as_fields), FIELDS_PER_UPLOAD)]
        time_it(f"  ... {FIELDS_PER_UPLOAD} fields per exchange",
                lambda u: len(detector.observe(upload, u)), uploads, total)


if __name__ == "__main__":
    main()

"""Re-record the labelled accuracy cases under tests/accuracy/cases/.

Each case is a short session of a "handset" talking to real servers on loopback, recorded
by tcpdump through captures/recorder.py (real `http.server` servers, a real DNS responder,
real `http.client` sockets; addresses rewritten afterwards to public-looking ones). The
SIP case adds a raw TCP listener of its own on the IMS host's loopback address. The
images of the decoy case are encoded by Chromium's canvas (`toDataURL`), not by hand.

Every upload is declared together with the labels of the personal data it carries, so
`labels.yaml` lists exactly what was sent. A label says where the value is (host, data
type, where, key — `*` in a key matches any run of characters, a list gives alternatives),
how it was written (`encoding`: plain, urlencoded, base64, hex, hashed, compressed,
protobuf, uri, structure) and which modes are expected to find it (`known`: with the
device profile; `pattern`: without one).

Run as root (tcpdump, port 53/80): python3 tests/accuracy/make_cases.py [CASE...]
Each case records in its own process: the recorder binds fixed loopback ports.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import yaml

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
sys.path.insert(0, str(HERE.parent.parent / "captures"))

from recorder import PHONE_LOOPBACK, Host, Session, record

BOTH = ("known", "pattern")
KNOWN = ("known",)

# -- the two handsets under test (values invented, checksums valid) ------------------------

CN = {
    "name": "Accuracy unit A (China-market firmware)",
    "vendor": "Xiaomi",
    "region": "CN",
    "imei": ["868812035172641"],
    "imsi": "460011857302946",
    "iccid": "89860114572039681426",
    "phone_number": "+8618611730452",
    "android_id": "9c4e2a7f1b305d68",
    "advertising_id": "d3b07384-d9a0-4c8f-9e2b-6f1a7c5e8b42",
    "mac_address": "f8:a4:5f:2c:91:0e",
    "serial_number": "a81c3e70",
    "email": "li.wei.test@example.com",
    "contacts": [{"name": "Zhang Min", "phone": "+86 137 0112 8856"},
                 {"name": "Chen Jie", "phone": "+86 150 1045 2279"}],
    "sms": ["Meet me at the north gate at seven and bring the spare keys."],
    "location": {"lat": 31.23042, "lon": 121.4737},
}
DE = {
    "name": "Accuracy unit B (EU firmware)",
    "vendor": "Samsung",
    "region": "DE",
    "imei": ["353918062719402"],
    "imsi": "262017305528061",
    "iccid": "89492264173055280613",
    "phone_number": "+4915209384712",
    "android_id": "5e1b7c93a04d2f86",
    "advertising_id": "7f2c9a14-3be6-4d51-8a07-c29e5d4f1b63",
    "mac_address": "3c:28:6d:91:a7:54",
    "serial_number": "R58M41XKQ2A",
    "email": "jonas.becker@example.org",
    "contacts": [{"name": "Anna Schmidt", "phone": "+49 176 23918470"},
                 {"name": "Paul Wagner", "phone": "+49 157 38102256"},
                 {"name": "Eva Braun", "phone": "+49 160 94021738"}],
    "sms": ["Hallo Jonas, das Paket liegt beim Nachbarn im zweiten Stock."],
    "location": {"lat": 52.52003, "lon": 13.40495},
}


def label(data_type: str, where: str, key: str | list[str], encoding: str,
          modes: tuple[str, ...] = BOTH) -> dict:
    return {"data_type": data_type, "where": where, "key": key, "encoding": encoding,
            "modes": list(modes)}


# -- the handset's side: uploads with their labels ------------------------------------------


class Handset:
    """Sends uploads through a recorder session and keeps the labels declared with them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.labels: list[dict] = []
        self._resolved: set[str] = set()

    def _resolve(self, host: str) -> None:
        if host not in self._resolved:
            self.session.resolve(host)
            self._resolved.add(host)

    def send(self, host: str, method: str, path: str, *, body: bytes | None = None,
             headers: dict[str, str] | None = None, labels: tuple[dict, ...] = ()) -> None:
        self._resolve(host)
        self.session.request(host, method, path, body=body, headers={
            "User-Agent": "Dalvik/2.1.0 (Linux; U; Android 9; Accuracy Build/PKQ1)",
            **(headers or {})})
        self.labels.extend({"host": host, **item} for item in labels)
        time.sleep(0.05)

    def raw_tcp(self, host: str, port: int, payload: bytes, reply: bytes,
                labels: tuple[dict, ...] = ()) -> None:
        """One message over a plain TCP connection to a listener started for it."""
        self._resolve(host)
        address = self.session.host(host).loopback_ip
        listener = socket.create_server((address, port))
        thread = threading.Thread(target=_answer_once, args=(listener, reply), daemon=True)
        thread.start()
        with socket.create_connection((address, port), timeout=5,
                                      source_address=(PHONE_LOOPBACK, 0)) as conn:
            conn.sendall(payload)
            conn.recv(4096)
        thread.join(5)
        listener.close()
        self.labels.extend({"host": host, **item} for item in labels)
        time.sleep(0.05)


    def raw_udp(self, host: str, port: int, payload: bytes, reply: bytes,
                labels: tuple[dict, ...] = ()) -> None:
        """One datagram to a UDP listener started for it, which answers with `reply`."""
        self._resolve(host)
        address = self.session.host(host).loopback_ip
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            server.bind((address, port))
            client.bind((PHONE_LOOPBACK, 0))
            client.settimeout(5)
            client.sendto(payload, (address, port))
            _, peer = server.recvfrom(65536)
            server.sendto(reply, peer)
            client.recvfrom(65536)
        self.labels.extend({"host": host, **item} for item in labels)
        time.sleep(0.05)

    def raw_http(self, host: str, parts: list[bytes], labels: tuple[dict, ...] = ()) -> None:
        """One HTTP request to the host's server, written in `parts` (each its own TCP
        segment, as OkHttp writes the head and then the body)."""
        self._resolve(host)
        address = self.session.host(host).loopback_ip
        with socket.create_connection((address, 80), timeout=5,
                                      source_address=(PHONE_LOOPBACK, 0)) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for part in parts:
                conn.sendall(part)
                time.sleep(0.05)
            conn.recv(4096)
        self.labels.extend({"host": host, **item} for item in labels)
        time.sleep(0.05)


def _answer_once(listener: socket.socket, reply: bytes) -> None:
    conn, _ = listener.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        conn.sendall(reply)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json; charset=utf-8"}


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# -- protobuf wire format, written by hand (no schema, as the auditor sees it) ---------------


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def pb_varint(field_no: int, number: int) -> bytes:
    return _varint(field_no << 3) + _varint(number)


def pb_bytes(field_no: int, data: bytes | str) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return _varint(field_no << 3 | 2) + _varint(len(data)) + data


def pb_double(field_no: int, number: float) -> bytes:
    return _varint(field_no << 3 | 1) + struct.pack("<d", number)


# -- the cases -----------------------------------------------------------------------------


def plain_identifiers(h: Handset) -> None:
    """Identifiers as SDKs send them: query, form, JSON, header, cookie, path."""
    d = CN
    h.send("api.phonevendor.example", "GET",
           f"/v2/device/register?imei={d['imei'][0]}&imsi={d['imsi']}&iccid={d['iccid']}"
           f"&mac={d['mac_address']}&android_id={d['android_id']}&os=4.4.4&lang=zh_CN",
           labels=(label("imei", "query", "imei", "plain"),
                   label("imsi", "query", "imsi", "plain"),
                   label("iccid", "query", "iccid", "plain"),
                   label("mac_address", "query", "mac", "plain"),
                   label("android_id", "query", "android_id", "plain")))
    h.send("ads.adnetwork.example", "POST", "/v1/ad/request",
           body=f"gaid={d['advertising_id']}&slot=banner_320x50&email={d['email']}".encode(),
           headers=FORM,
           labels=(label("advertising_id", "body", "gaid", "plain"),
                   label("email", "body", "email", "plain")))
    h.send("stats.analytics.example", "POST", "/collect", headers=JSON, body=_json({
        "device": {"deviceId": d["imei"][0], "wifiMac": "F8-A4-5F-2C-91-0E",
                   "adid": d["advertising_id"], "model": "2014811"},
        "user": {"mobile": "+86 186 1173 0452", "mail": d["email"]},
        "loc": {"lat": 31.23042, "lng": 121.4737, "acc": 12.0}}),
        labels=(label("imei", "body", "$.device.deviceId", "plain"),
                label("mac_address", "body", "$.device.wifiMac", "plain"),
                label("advertising_id", "body", "$.device.adid", "plain"),
                label("phone_number", "body", "$.user.mobile", "plain"),
                label("email", "body", "$.user.mail", "plain"),
                label("location", "body", "$.loc.lat", "plain")))
    # the own number in the other spellings phones use
    h.send("api.phonevendor.example", "POST", "/v2/sim/bind",
           body=b"msisdn=8618611730452&mobile=18611730452&line1Number=0086-186-1173-0452"
                b"&carrier=China+Unicom",
           headers=FORM,
           labels=(label("phone_number", "body", "msisdn", "plain"),
                   label("phone_number", "body", "mobile", "plain"),
                   label("phone_number", "body", "line1Number", "plain")))
    h.send("push.phonevendor.example", "GET", "/v1/poll?since=0",
           headers={"X-Device-IMEI": d["imei"][0],
                    "Cookie": f"andid={d['android_id']}; sess=Yk29dQx1"},
           labels=(label("imei", "header", "x-device-imei", "plain"),
                   label("android_id", "cookie", "andid", "plain")))
    # a bare number in a path has no key to tell it is a phone number: known values only
    h.send("api.phonevendor.example", "GET", "/v1/user/8618611730452/profile",
           labels=(label("phone_number", "path", "path[2]", "plain", KNOWN),))


def url_encoded(h: Handset) -> None:
    """Percent-encoding: in queries, forms with `+` for spaces, a URL inside a URL."""
    d = DE
    h.send("push.oem-services.example", "GET",
           "/v1/register?msisdn=%2B4915209384712&email=jonas.becker%40example.org"
           "&mac=3c%3A28%3A6d%3A91%3Aa7%3A54&lat=52.52003&lon=13.40495&v=3",
           labels=(label("phone_number", "query", "msisdn", "urlencoded"),
                   label("email", "query", "email", "urlencoded"),
                   label("mac_address", "query", "mac", "urlencoded"),
                   label("location", "query", "lat", "plain")))
    h.send("push.oem-services.example", "POST", "/v1/sim",
           body=f"phone=%2B49+152+09384712&imei={d['imei'][0]}&imsi={d['imsi']}"
                f"&iccid={d['iccid']}".encode(), headers=FORM,
           labels=(label("phone_number", "body", "phone", "urlencoded"),
                   label("imei", "body", "imei", "plain"),
                   label("imsi", "body", "imsi", "plain"),
                   label("iccid", "body", "iccid", "plain")))
    h.send("track.adsdk.example", "GET",
           "/r?c=42&next=https%3A%2F%2Fpush.oem-services.example%2Fcb%3Fgaid%3D"
           "7f2c9a14-3be6-4d51-8a07-c29e5d4f1b63%26andid%3D5e1b7c93a04d2f86",
           labels=(label("advertising_id", "query", "gaid", "urlencoded"),
                   label("android_id", "query", "andid", "urlencoded")))
    every_digit = "".join(f"%{ord(c):02X}" for c in d["imei"][0])
    h.send("track.adsdk.example", "GET", f"/px?device_id={every_digit}&e=open",
           labels=(label("imei", "query", "device_id", "urlencoded"),))
    h.send("track.adsdk.example", "POST", "/v2/profile", headers=JSON,
           body=b'{"email":"jonas.becker\\u0040example.org","tz":"Europe/Berlin"}',
           labels=(label("email", "body", "$.email", "urlencoded"),))


def encoded_and_hashed(h: Handset) -> None:
    """Base64, base64url, hex, and digests (full, upper case, base64, truncated)."""
    d = CN
    imei, aid = d["imei"][0], d["android_id"]
    info = base64.b64encode(f"aid={aid}&imei={imei}&gaid={d['advertising_id']}".encode())
    h.send("sdk.tracker.example", "GET", f"/v3/ping?info={info.decode()}&v=2",
           labels=(label("android_id", "query", "aid", "base64"),
                   label("imei", "query", "imei", "base64"),
                   label("advertising_id", "query", "gaid", "base64")))
    ctx = base64.urlsafe_b64encode(_json({"imsi": d["imsi"], "phone": d["phone_number"]}))
    h.send("sdk.tracker.example", "POST", "/v3/ctx", headers=JSON,
           body=_json({"ctx": ctx.decode().rstrip("="), "sdk": "4.2.1"}),
           labels=(label("imsi", "body", "$.imsi", "base64"),
                   label("phone_number", "body", "$.phone", "base64")))
    mac_plain = d["mac_address"].replace(":", "").upper()
    query = urlencode([
        ("imei_md5", hashlib.md5(imei.encode()).hexdigest()),
        ("AID_SHA1", hashlib.sha1(aid.encode()).hexdigest().upper()),
        ("mac_md5", hashlib.md5(mac_plain.encode()).hexdigest()),
        ("ph", hashlib.sha256(d["phone_number"].encode()).hexdigest()),
        ("em", hashlib.sha256(d["email"].encode()).hexdigest()),
        ("dh", hashlib.sha256(imei.encode()).hexdigest()[:20]),
        ("ih", base64.b64encode(hashlib.sha256(d["imsi"].encode()).digest()).decode()),
    ])
    h.send("ads.adnetwork.example", "GET", f"/v1/imp?{query}&slot=7",
           labels=(label("imei", "query", "imei_md5", "hashed", KNOWN),
                   label("android_id", "query", "AID_SHA1", "hashed", KNOWN),
                   label("mac_address", "query", "mac_md5", "hashed", KNOWN),
                   label("phone_number", "query", "ph", "hashed", KNOWN),
                   label("email", "query", "em", "hashed", KNOWN),
                   label("imei", "query", "dh", "hashed", KNOWN),
                   label("imsi", "query", "ih", "hashed", KNOWN)))
    # Google Messages style: SHA-256 of the message text truncated to 128 bits
    digest = hashlib.sha256(d["sms"][0].encode()).hexdigest()[:32]
    h.send("stats.analytics.example", "POST", "/log/messages", headers=JSON,
           body=_json({"events": [{"msg_hash": digest, "ts_hour": 1406887200, "kind": 1}]}),
           labels=(label("sms", "body", "$.events[0].msg_hash", "hashed", KNOWN),))
    h.send("stats.analytics.example", "GET", f"/u?x={d['email'].encode().hex()}&k=1",
           labels=(label("email", "query", "x", "hex"),))


def compressed_and_protobuf(h: Handset) -> None:
    """gzip and zlib bodies with no Content-Encoding, protobuf with no schema."""
    d = DE
    octets = {"Content-Type": "application/octet-stream"}
    h.send("log.telemetry.example", "POST", "/batch", headers=octets,
           body=gzip.compress(_json({"imei": d["imei"][0], "email": d["email"],
                                     "events": [{"n": "boot", "t": 1406887203}]}), mtime=0),
           labels=(label("imei", "body", "$.imei", "compressed"),
                   label("email", "body", "$.email", "compressed")))
    h.send("log.telemetry.example", "POST", "/v2/upload", headers=octets,
           body=zlib.compress(_json({"sim": {"iccid": d["iccid"], "imsi": d["imsi"]},
                                     "gps": {"latitude": 52.52003,
                                             "longitude": 13.40495}})),
           labels=(label("iccid", "body", "$.sim.iccid", "compressed"),
                   label("imsi", "body", "$.sim.imsi", "compressed"),
                   label("location", "body", "$.gps.latitude", "compressed")))
    message = (pb_bytes(1, d["imei"][0])
               + pb_varint(2, int(d["phone_number"][1:]))
               + pb_bytes(3, pb_bytes(1, d["android_id"]) + pb_bytes(2, d["advertising_id"])
                          + pb_bytes(3, d["email"]))
               + pb_bytes(4, pb_double(1, 52.52003) + pb_double(2, 13.40495))
               + pb_varint(5, 1406887203))
    h.send("grpc.oem-services.example", "POST", "/telemetry.v1.Upload/Report",
           headers={"Content-Type": "application/x-protobuf"}, body=message,
           labels=(label("imei", "body", "pb:1", "protobuf"),
                   label("phone_number", "body", "pb:2", "protobuf", KNOWN),
                   label("android_id", "body", "pb:3.1", "protobuf", KNOWN),
                   label("advertising_id", "body", "pb:3.2", "protobuf", KNOWN),
                   label("email", "body", "pb:3.3", "protobuf"),
                   label("location", "body", "pb:4.1*", "protobuf", KNOWN)))
    h.send("grpc.oem-services.example", "POST", "/telemetry.v1.Upload/Sim", headers=octets,
           body=gzip.compress(pb_bytes(1, d["imsi"]) + pb_bytes(2, d["iccid"]), mtime=0),
           labels=(label("imsi", "body", "pb:1", "protobuf", KNOWN),
                   label("iccid", "body", "pb:2", "protobuf")))


def contacts_and_sms(h: Handset) -> None:
    """An address book as JSON and as vCards, an SMS archive as JSON."""
    d = DE
    book = [{"name": "Anna Schmidt", "phone": "+49 176 23918470"},
            {"name": "Paul Wagner", "phone": "015738102256"},
            {"name": "Eva Braun", "phone": "+4916094021738"},
            {"name": "Klaus Richter", "phone": "+49 30 20164712"}]
    h.send("sync.cloud-backup.example", "POST", "/v1/contacts/upload", headers=JSON,
           body=_json({"device": "b7", "contacts": book}),
           labels=(label("contacts", "body", "$.contacts*", "structure"),))
    messages = [
        {"address": "+4917623918470", "body": d["sms"][0], "date": 1406887203123, "type": 1},
        {"address": "+4915112345670", "body": "Termin am Freitag klappt, bis dann!",
         "date": 1406890803456, "type": 2},
        {"address": "+4917098765432", "body": "Bin gleich da.", "date": 1406894403789,
         "type": 1}]
    h.send("sync.cloud-backup.example", "POST", "/v1/sms/backup", headers=JSON,
           body=_json({"messages": messages}),
           labels=(label("sms", "body", "$.messages*", "structure"),
                   # the first sender is a canary contact: only the profile can say so
                   label("contacts", "body", "$.messages*", "structure", KNOWN)))
    cards = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{name}\r\nTEL;TYPE=CELL:{phone}\r\nEND:VCARD\r\n"
        for name, phone in [("Paul Wagner", "+49 157 38102256"), ("Eva Braun", "0160 94021738"),
                            ("Maria Weber", "+49 171 2233445"), ("Tom Fischer", "+49 89 5566778")])
    boundary = "----acc7MA4YWxkTrZu0gW"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"contacts.vcf\"\r\nContent-Type: text/vcard\r\n\r\n{cards}\r\n"
            f"--{boundary}--\r\n").encode()
    h.send("backup.oem-services.example", "POST", "/v1/files",
           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, body=body,
           labels=(label("contacts", "body", ["contacts.vcf", "vcard*"], "structure"),))


def sip_and_tel(h: Handset) -> None:
    """An IMS REGISTER over raw TCP (IMSI in SIP URIs, urn:gsma:imei, tel: URI)."""
    d = CN
    ims = "ims.mnc001.mcc460.3gppnetwork.org"
    imsi, imei = d["imsi"], d["imei"][0]
    register = (
        f"REGISTER sip:{ims} SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 10.71.0.5:5060;branch=z9hG4bK1f3a9c;rport\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:{imsi}@{ims}>;tag=2840145012\r\n"
        f"To: <sip:{imsi}@{ims}>\r\n"
        f"Call-ID: 8f1d0c2e-5b7a@10.71.0.5\r\n"
        f"CSeq: 1 REGISTER\r\n"
        f"Contact: <sip:10.71.0.5:5060;transport=tcp>;+g.3gpp.smsip;"
        f"+sip.instance=\"<urn:gsma:imei:{imei[:8]}-{imei[8:14]}-0>\"\r\n"
        f"P-Preferred-Identity: <tel:{d['phone_number']}>\r\n"
        f"Authorization: Digest username=\"{imsi}@{ims}\",realm=\"{ims}\",uri=\"sip:{ims}\","
        f"nonce=\"\",response=\"\"\r\n"
        f"Expires: 600000\r\nUser-Agent: IMS-Client/1.0\r\nContent-Length: 0\r\n\r\n")
    h.raw_tcp(ims, 5060, register.encode(),
              b"SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
              labels=(label("imsi", "header", ["from", "to"], "uri"),
                      label("imsi", "header", "username", "plain"),
                      label("imei", "header", "contact", "uri"),
                      label("phone_number", "header", "p-preferred-identity", "uri")))
    h.send("api.phonevendor.example", "GET", f"/v1/presence?self=tel:%2B{d['phone_number'][1:]}",
           labels=(label("phone_number", "query", "self", "uri"),))


def decoy_identifiers(h: Handset) -> None:
    """Numbers and ids shaped like identifiers that are none: order ids, timestamps,
    request UUIDs, trace ids, versions with phone-like runs, placeholders."""
    rng = random.Random(20140801)
    orders = [_luhn_complete("".join(rng.choice("0123456789") for _ in range(14)))
              for _ in range(3)]
    h.send("shop.mall.example", "GET",
           f"/order/status?order_id={orders[0]}&ts=1406887203123&sign="
           f"{hashlib.md5(orders[0].encode()).hexdigest()}",
           headers={"X-Request-Id": str(uuid.UUID(int=rng.getrandbits(128), version=4))})
    h.send("shop.mall.example", "POST", "/order/batch", headers=JSON, body=_json({
        "orders": [{"id": int(orders[1]), "amount": 129.0}, {"id": orders[2], "amount": 8.5}],
        "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "trace_id": f"{rng.getrandbits(64):016x}", "timestamp": 1406887203456}))
    h.send("api.appstore.example", "GET",
           "/v1/update/check?app_version=8.6.15.627394&build=JHCCNBH45.0"
           "&fw=V6.1.2.0.KHJCNBH-13910682234&sdk=19&t=1406887203",
           headers={"X-B3-TraceId": f"{rng.getrandbits(64):016x}",
                    "X-B3-SpanId": f"{rng.getrandbits(64):016x}",
                    "User-Agent": "Dalvik/1.6.0 (Linux; U; Android 4.4.4; 2014811 "
                                  "Build/KTU84P) AppStore/86.20.15627394810"})
    h.send("api.appstore.example", "GET",
           "/v1/init?imei=1&imsi=null&iccid=unknown&mac=02:00:00:00:00:00"
           "&gaid=00000000-0000-0000-0000-000000000000&android_id=0000000000000000"
           "&phone=NA&uid=48213377")


def decoy_blobs(h: Handset) -> None:
    """Binary and random uploads: images, checksums, random base64, an encrypted blob."""
    rng = random.Random(8151)
    jpeg, png = _canvas_images()
    h.send("cdn-upload.photos.example", "POST", "/v1/photo?album=7",
           headers={"Content-Type": "image/jpeg"}, body=jpeg)
    boundary = "----decoyBoundary0x41"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\n"
            f"{hashlib.sha256(png).hexdigest()}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"md5\"\r\n\r\n"
            f"{hashlib.md5(png).hexdigest()}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
            f"filename=\"IMG_20140801_101503.png\"\r\nContent-Type: image/png\r\n\r\n"
            ).encode() + png + f"\r\n--{boundary}--\r\n".encode()
    h.send("cdn-upload.photos.example", "POST", "/v1/upload",
           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, body=body)
    h.send("api.sync.example", "POST", "/v1/chunk", headers=JSON, body=_json({
        "chunk": base64.b64encode(rng.randbytes(96)).decode(),
        "checksum": hashlib.sha256(rng.randbytes(4096)).hexdigest(),
        "nonce": base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("="),
        "sig": rng.randbytes(32).hex()}))
    h.send("api.sync.example", "POST", "/v1/blob",
           headers={"Content-Type": "application/octet-stream"}, body=rng.randbytes(512))


# -- issue 15: tunnels, SIP, damaged captures, what keys and values teach --------------------

IMS_DE = "ims.mnc001.mcc262.3gppnetwork.org"


def _sip_ok(request: bytes) -> bytes:
    return b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"


def sip_in_gtp_u(h: Handset) -> None:
    """VoLTE as an operator's core captures it: a SIP REGISTER and MESSAGE over UDP (IMSI
    in the request URI, IMEI in +sip.instance, the number in P-Asserted-Identity and a tel:
    URI), an INVITE over TCP — all carried in GTP-U by the capture's post-processing."""
    d = DE
    imsi, imei, msisdn = d["imsi"], d["imei"][0], d["phone_number"]
    urn = f"{imei[:8]}-{imei[8:14]}-{imei[14]}"
    register = (
        f"REGISTER sip:{imsi}@{IMS_DE} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 10.80.0.9:5060;branch=z9hG4bK77a1\r\nMax-Forwards: 70\r\n"
        f"From: <sip:{imsi}@{IMS_DE}>;tag=981\r\nTo: <sip:{imsi}@{IMS_DE}>\r\n"
        f"Call-ID: 51c0e2@10.80.0.9\r\nCSeq: 1 REGISTER\r\n"
        f"Contact: <sip:10.80.0.9:5060>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi"
        f".mmtel\";+sip.instance=\"<urn:gsma:imei:{urn}>\"\r\n"
        f"Expires: 600000\r\nContent-Length: 0\r\n\r\n").encode()
    h.raw_udp(IMS_DE, 5060, register, _sip_ok(register),
              labels=(label("imsi", "url", "", "uri"),
                      label("imsi", "header", ["from", "to"], "uri"),
                      label("imei", "header", "contact", "uri")))
    text = "Running late, see you at 8"
    message = (
        f"MESSAGE tel:+4917612345678 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 10.80.0.9:5060;branch=z9hG4bK77a2\r\n"
        f"From: <sip:{msisdn}@{IMS_DE};user=phone>;tag=982\r\nTo: <tel:+4917612345678>\r\n"
        f"P-Asserted-Identity: <tel:{msisdn}>\r\nCall-ID: 51c0e3@10.80.0.9\r\n"
        f"CSeq: 2 MESSAGE\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(text)}\r\n\r\n{text}").encode()
    h.raw_udp(IMS_DE, 5060, message, _sip_ok(message),
              labels=(label("phone_number", "header", ["from", "p-asserted-identity"], "uri"),))
    invite = (
        f"INVITE tel:+4930901820 SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 10.80.0.9:5060;branch=z9hG4bK77a3\r\n"
        f"f: <sip:{msisdn}@{IMS_DE}>;tag=983\r\nt: <tel:+4930901820>\r\n"
        f"i: 51c0e4@10.80.0.9\r\nCSeq: 1 INVITE\r\nP-Preferred-Identity: <tel:{msisdn}>\r\n"
        f"m: <sip:{msisdn}@10.80.0.9:5060;transport=tcp>;+sip.instance=\"<urn:gsma:imei:"
        f"{urn}>\"\r\nl: 0\r\n\r\n").encode()
    h.raw_tcp(IMS_DE, 5060, invite, _sip_ok(invite),
              labels=(label("phone_number", "header", ["from", "p-preferred-identity",
                                                       "contact"], "uri"),
                      label("imei", "header", "contact", "uri")))


def wrap_in_gtp_u(capture: Path) -> None:
    """Put every packet to or from the IMS host in GTP-U between an eNodeB and an S-GW, as
    a core network capture shows the phone's bearer. Done with scapy after recording:
    no GTP-U user plane installs here, and this kernel has no `gtp` device."""
    from scapy.contrib.gtp import GTP_U_Header
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import rdpcap, wrpcap

    frames = []
    for frame in rdpcap(str(capture)):
        ip = frame.getlayer(IP)
        if ip is not None and "203.0.113.90" in (ip.src, ip.dst):
            up = ip.dst == "203.0.113.90"
            enb, sgw = "172.20.1.10", "172.20.9.1"
            wrapped = Ether(src=frame.src, dst=frame.dst) / IP(
                src=enb if up else sgw, dst=sgw if up else enb) / UDP(
                sport=2152, dport=2152) / GTP_U_Header(teid=0x5a17 if up else 0x9c02) / ip
            wrapped.time = frame.time
            frame = wrapped
        frames.append(frame)
    wrpcap(str(capture), frames)


def national_and_sdk_ids(h: Handset) -> None:
    """What pattern mode learns from keys and values: the phone's DNS names its network
    (MCC 262), a national-form mobile number under `userid`, an international one without
    + under `account`, an Android ID under a push SDK's device-id key, hashed identifiers
    under analytics SDKs' device-id keys."""
    d = DE
    national = "0" + d["phone_number"][3:]
    h._resolve("epdg.epc.mnc001.mcc262.pub.3gppnetwork.org")  # the phone's DNS: ePDG lookup
    h.send("api.oem-account.example", "GET", f"/v2/user/profile?userid={national}&lang=de",
           labels=(label("phone_number", "query", "userid", "plain"),))
    h.send("api.oem-account.example", "POST", "/v1/login", headers=FORM,
           body=f"account={d['phone_number'][1:]}&remember=1".encode(),
           labels=(label("phone_number", "body", "account", "plain"),))
    h.send("push.pushsdk.example", "POST", "/v3/register", headers=JSON, body=_json({
        "xg_device_id": d["android_id"], "app": "com.example.weather", "ver": "3.2.1"}),
        labels=(label("android_id", "body", "$.xg_device_id", "plain"),))
    android_md5 = hashlib.md5(d["android_id"].encode()).hexdigest()
    imei_sha1 = hashlib.sha1(d["imei"][0].encode()).hexdigest()
    salted = hashlib.sha256(("s4lt" + d["imei"][0]).encode()).hexdigest()
    h.send("stats.sdk-analytics.example", "POST", "/v1/track", headers=JSON, body=_json({
        "distinct_id": android_md5, "did": imei_sha1, "device_hash": salted,
        "event": "app_open"}),
        labels=(label("hashed_id", "body", "$.distinct_id", "hashed", ("pattern",)),
                label("android_id", "body", "$.distinct_id", "hashed", KNOWN),
                label("hashed_id", "body", "$.did", "hashed", ("pattern",)),
                label("imei", "body", "$.did", "hashed", KNOWN),
                # salted: no profile value hashes to it; only pattern mode can see it
                label("hashed_id", "body", "$.device_hash", "hashed", ("pattern",))))


def mcc_and_user_id(h: Handset) -> None:
    """A China-market app: the SIM's MCC+MNC in a config call, then the MSISDN as the
    user id (national form, no trunk prefix in China)."""
    d = CN
    h.send("conf.appcloud.example", "GET", "/v1/config?simOperator=46001&lang=zh_CN")
    h.send("conf.appcloud.example", "POST", "/v1/user/sync", headers=FORM,
           body=f"user_id={d['phone_number'][3:]}&ver=5".encode(),
           labels=(label("phone_number", "body", "user_id", "plain"),))


def snaplen_cut(h: Handset) -> None:
    """Recorded with `tcpdump -s 96`: of each segment only the first 30 bytes are in the
    file — a request line with the IMEI, a form body's first bytes with the number."""
    d = CN
    h.raw_http("u.cn.example", [
        f"GET /r?imei={d['imei'][0]}&v=2 HTTP/1.1\r\nHost: u.cn.example\r\n"
        f"User-Agent: okhttp/3.12.1\r\nAccept-Encoding: gzip\r\n\r\n".encode()],
        labels=(label("imei", "query", "imei", "plain"),))
    body = f"mobile=%2B{d['phone_number'][1:]}&nick=li.wei&city=shanghai&os=android".encode()
    h.raw_http("u.cn.example", [
        f"POST /bind HTTP/1.1\r\nHost: u.cn.example\r\nContent-Type: application/"
        f"x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n".encode(), body],
        labels=(label("phone_number", "body", "mobile", "plain"),))


def decoy_keys_and_values(h: Handset) -> None:
    """Values that look like what pattern mode learned to find, and are not: 16-hex trace
    ids, content hashes in paths, order numbers under user-id keys (with the network's MCC
    known), a 16-digit number under a device-id key, the vendor's own support address
    sent to the vendor."""
    rng = random.Random(1515)
    h.send("api.phonevendor.example", "GET", "/v1/config?mcc=262&mnc=01")
    h.send("api.phonevendor.example", "GET", f"/static/js/app.{rng.getrandbits(128):032x}.js",
           headers={"X-B3-TraceId": f"{rng.getrandbits(64):016x}",
                    "X-Request-Id": f"{rng.getrandbits(64):016x}"})
    h.send("api.phonevendor.example", "GET",
           f"/cache/{rng.getrandbits(160):040x}/thumb.webp?trace_id={rng.getrandbits(64):016x}")
    h.send("shop.mall.example", "POST", "/v2/orders", headers=JSON, body=_json({
        "userid": "20240601123", "uid": 48213377, "user_id": "7730019925",
        "order_no": "015209384799", "did": "3141592653589793",
        "session_id": f"{rng.getrandbits(128):032x}",
        "etag": f"{rng.getrandbits(256):064x}", "span": f"{rng.getrandbits(64):016x}"}))
    h.send("feedback.phonevendor.example", "POST", "/v1/ticket", headers=FORM,
           body=b"reply_to=support%40phonevendor.example&cc=service@help.phonevendor.example"
                b"&topic=battery")


def _luhn_complete(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits)):
        n = int(c) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


_CANVAS_PAGE = """data:text/html,<body><script>
let s = 7; const r = () => (s = (s * 1103515245 + 12345) %25 2147483648) / 2147483648;
const c = document.createElement('canvas'); c.width = 160; c.height = 120;
const g = c.getContext('2d');
for (let i = 0; i < 60; i++) { g.fillStyle = `hsl(${r() * 360},70%25,${30 + r() * 40}%25)`;
  g.fillRect(r() * 160, r() * 120, 10 + r() * 50, 10 + r() * 40); }
document.body.textContent = c.toDataURL('image/jpeg', 0.85) + ' ' + c.toDataURL('image/png');
</script>"""


def _canvas_images() -> tuple[bytes, bytes]:
    """A JPEG and a PNG of the same random drawing, encoded by headless Chromium."""
    page = _CANVAS_PAGE.replace("#", "%23").replace("\n", " ")
    out = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", page], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    urls = out[out.index("data:image/jpeg"):].split("<")[0].split()
    return tuple(base64.b64decode(u.split(",", 1)[1]) for u in urls[:2])  # type: ignore


@dataclass
class Case:
    name: str
    device: dict
    phone_ip: str
    hosts: list[tuple[str, str]]  # (name, public address)
    uploads: Callable[[Handset], None]
    decoy: bool = False
    snaplen: int = 0  # tcpdump -s; 0 records whole packets
    post: Callable[[Path], None] | None = None  # rewrites the recorded capture


CASES = [
    Case("plain-identifiers", CN, "192.168.31.104", [
        ("api.phonevendor.example", "203.0.113.10"), ("ads.adnetwork.example", "198.51.100.20"),
        ("stats.analytics.example", "198.51.100.30"), ("push.phonevendor.example",
                                                        "203.0.113.11")], plain_identifiers),
    Case("url-encoded", DE, "192.168.178.45", [
        ("push.oem-services.example", "203.0.113.40"),
        ("track.adsdk.example", "198.51.100.50")], url_encoded),
    Case("encoded-hashed", CN, "192.168.31.104", [
        ("sdk.tracker.example", "198.51.100.60"), ("ads.adnetwork.example", "198.51.100.20"),
        ("stats.analytics.example", "198.51.100.30")], encoded_and_hashed),
    Case("compressed-protobuf", DE, "192.168.178.45", [
        ("log.telemetry.example", "203.0.113.70"),
        ("grpc.oem-services.example", "203.0.113.71")], compressed_and_protobuf),
    Case("contacts-sms", DE, "192.168.178.45", [
        ("sync.cloud-backup.example", "203.0.113.80"),
        ("backup.oem-services.example", "203.0.113.81")], contacts_and_sms),
    Case("sip-tel", CN, "10.71.0.5", [
        ("ims.mnc001.mcc460.3gppnetwork.org", "203.0.113.90"),
        ("api.phonevendor.example", "203.0.113.10")], sip_and_tel),
    Case("decoy-identifiers", CN, "192.168.31.104", [
        ("shop.mall.example", "198.51.100.100"),
        ("api.appstore.example", "198.51.100.101")], decoy_identifiers, decoy=True),
    Case("decoy-blobs", DE, "192.168.178.45", [
        ("cdn-upload.photos.example", "198.51.100.110"),
        ("api.sync.example", "198.51.100.111")], decoy_blobs, decoy=True),
    Case("sip-gtp-u", DE, "10.80.0.9", [(IMS_DE, "203.0.113.90")], sip_in_gtp_u,
         post=wrap_in_gtp_u),
    Case("national-sdk-ids", DE, "192.168.178.45", [
        ("epdg.epc.mnc001.mcc262.pub.3gppnetwork.org", "203.0.113.120"),
        ("api.oem-account.example", "203.0.113.121"),
        ("push.pushsdk.example", "198.51.100.122"),
        ("stats.sdk-analytics.example", "198.51.100.123")], national_and_sdk_ids),
    Case("mcc-user-id", CN, "192.168.31.104", [("conf.appcloud.example", "198.51.100.130")],
         mcc_and_user_id),
    Case("snaplen-96", CN, "192.168.31.104", [("u.cn.example", "203.0.113.131")],
         snaplen_cut, snaplen=96),
    Case("decoy-keys-values", DE, "192.168.178.45", [
        ("api.phonevendor.example", "203.0.113.10"), ("shop.mall.example", "198.51.100.100"),
        ("feedback.phonevendor.example", "203.0.113.12")], decoy_keys_and_values, decoy=True),
]


def record_case(case: Case) -> None:
    """Record one case into tests/accuracy/cases/<name>/ with its device and labels."""
    folder = CASES_DIR / case.name
    folder.mkdir(parents=True, exist_ok=True)
    session = Session(phone_ip=case.phone_ip, dns_server_ip=case.phone_ip.rsplit(".", 1)[0]
                      + ".1", hosts=[Host(name, ip) for name, ip in case.hosts])
    handset = Handset(session)
    record(session, lambda _: case.uploads(handset), folder / "capture.pcap",
           snaplen=case.snaplen)
    if case.post is not None:
        case.post(folder / "capture.pcap")
    header = f"# Written by tests/accuracy/make_cases.py ({case.uploads.__name__})."
    (folder / "device.yaml").write_text(
        f"{header}\n" + yaml.safe_dump(case.device, sort_keys=False, allow_unicode=True))
    doc = [header, f"# {' '.join((case.uploads.__doc__ or '').split())}",
           f"decoy: {'true' if case.decoy else 'false'}"]
    if handset.labels:
        doc.append("labels:")
        doc.extend("  - " + yaml.safe_dump(item, default_flow_style=True, width=200,
                                           sort_keys=False).strip()
                   for item in handset.labels)
    else:
        doc.append("labels: []")
    (folder / "labels.yaml").write_text("\n".join(doc) + "\n")


def main(argv: list[str]) -> None:
    by_name = {case.name: case for case in CASES}
    if argv[:1] == ["--one"]:
        record_case(by_name[argv[1]])
        return
    for name in argv or list(by_name):
        if name not in by_name:
            sys.exit(f"unknown case {name!r}; cases: {', '.join(by_name)}")
        subprocess.run([sys.executable, __file__, "--one", name], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""The recursive, bounded unwrapping of one value into every layer it hides.

`Walker.emit` adds a value as a `Field` and then whatever it decodes into, each decoded
value emitted again until `Limits.max_depth` layers are used up. Which decoders are tried is
decided by cheap checks first (`textforms.shape`, one pass over a value's bytes, tells the
words, numbers and hex digits that most values are; then first byte, magic bytes), so
ordinary values cost a microsecond or two.
"""

from __future__ import annotations

import itertools
import re

from auditor.decode import protobuf as pb
from auditor.decode import structured, textforms
from auditor.decode.compression import MAGIC_FIRST_BYTES, decompress, sniff_compression
from auditor.decode.limits import Budget
from auditor.model import Field

Chain = tuple[str, ...]

_MIN_DECODABLE = 3  # shorter values are searched as they are, never decoded
_PB_MAX_NESTING = 32
_PB_MAX_PACKED = 4096  # a packed field with more numbers than this is data, not identifiers
_ZIGZAG_MIN = 1000  # small varints (enums, counters) are not worth a zigzag reading too
# Blobs that are known not to hide anything decodable; not worth guessing compressions for.
_OPAQUE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"%PDF", b"PK\x03\x04",
                 b"\x00\x00\x00\x18ftyp", b"\x00\x00\x00\x1cftyp", b"\x00\x00\x00 ftyp")
_PROTOBUF_TYPES = ("protobuf", "x-protobuf", "vnd.google.protobuf", "x-google-protobuf",
                   "octet-stream+proto")
_TEXT_CHARSETS = ("utf-8", "utf8", "us-ascii", "ascii")
_LEADING_SPACE = re.compile(r"\s*")


class Walker:
    """Collects the fields of one exchange in `out`, sharing its `Budget` across every layer.

    Decoders append to one list instead of yielding through a generator per layer: a value
    four layers deep would otherwise pass through a dozen generator frames on its way out.
    """

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.max_depth = budget.limits.max_depth
        self.out: list[Field] = []

    def emit(self, where: str, key: str, value: bytes, chain: Chain, *, hint: str = "",
             body_like: bool = False, in_pb: bool = False) -> None:
        """Add `value` as a field and then every layer decoded from it.

        `hint` is a Content-Type that says what the value should be; `body_like` values
        (bodies, files, base64 blobs) may also be tried as compressions without magic
        bytes; `in_pb` values are protobuf bytes fields, whose nesting the protobuf walk
        handles itself.
        """
        budget = self.budget
        if budget.fields >= budget.limits.max_fields:
            budget.take_field()  # for its warning
            return
        budget.fields += 1
        self.out.append(Field(where, key, value, chain))
        if len(value) < _MIN_DECODABLE:
            return
        if len(chain) > self.max_depth:
            self._depth_reached(where, key, value, chain)
            return
        if hint and self._by_hint(where, key, value, chain, hint):
            return
        shape = textforms.shape(value)
        if shape == textforms.HEX:
            self._hex(where, key, value, chain)
        elif shape == textforms.OTHER or (value[0] in MAGIC_FIRST_BYTES
                                          and sniff_compression(value)):
            self._sniff(where, key, value, chain, body_like, in_pb)

    def _depth_reached(self, where: str, key: str, value: bytes, chain: Chain) -> None:
        """The depth cap stops here: a warning when the value looks like more layers."""
        shape = textforms.shape(value)
        if shape == textforms.HEX or shape == textforms.OTHER or (
                value[0] in MAGIC_FIRST_BYTES and sniff_compression(value)):
            self.budget.warn(f"{_label(where, key, chain)}: decoding stopped at the depth cap "
                             f"({self.max_depth + 1} layers); what lies deeper was not "
                             f"searched")

    def emit_encoded(self, where: str, key: str, value: bytes, kind: str, *,
                     hint: str = "") -> None:
        """A body its Content-Encoding says is `kind` but that the source left compressed
        (it carried no magic bytes, or the source could not inflate it)."""
        self.plain(where, key, value, ())
        data = decompress(kind, value, self.budget, _label(where, key, ()))
        if data is not None:
            self.emit(where, key, data, (kind,), hint=hint, body_like=True)

    def url_parts(self, where: str, url: str, chain: Chain) -> None:
        """The path segments (key `path[N]`) and query parameters of a URL. The request's
        own URL (empty `chain`) gives `path` and `query` fields; a URL inside a value keeps
        that value's `where` and adds `url` to its chain."""
        segments, query = textforms.split_url(url)
        inner = bool(chain)
        segment_where = where if inner else "path"
        segment_chain = chain + ("url",) if inner else chain
        for index, segment in enumerate(segments):
            self.emit(segment_where, f"path[{index}]", segment, segment_chain)
        self._pairs(where if inner else "query", query.encode("utf-8", "surrogateescape"),
                    segment_chain, "query")

    # -- choosing a decoder -----------------------------------------------------------------

    def _by_hint(self, where: str, key: str, value: bytes, chain: Chain, hint: str) -> bool:
        """Decode as the Content-Type says; False when the value is not that."""
        mime = hint.partition(";")[0].strip()
        if mime.startswith("multipart/"):
            return self._multipart(where, value, chain, hint)
        if mime.endswith("x-www-form-urlencoded"):
            return self._pairs(where, value, chain, "form")
        if "grpc" in mime:
            return self._grpc(where, value, chain)
        if mime.rpartition("/")[2] in _PROTOBUF_TYPES:
            fields = pb.parse_message(value)
            if fields is None:
                return False
            self._protobuf(where, fields, chain, "")
            return True
        charset = _charset(hint)
        if charset and charset not in _TEXT_CHARSETS:
            return self._transcoded(where, key, value, chain, charset)
        return False

    def _sniff(self, where: str, key: str, value: bytes, chain: Chain, body_like: bool,
               in_pb: bool) -> None:
        """Decode as the bytes themselves suggest."""
        compression = sniff_compression(value)
        if compression:
            self._decompressed(where, key, value, chain, compression)
            return
        if value[0] <= 1 and self._grpc(where, value, chain, guessed=True):
            return
        if value[:2] == b"--" and self._multipart(where, value, chain, ""):
            return
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            if not value.startswith(_OPAQUE_MAGIC):
                self._binary(where, key, value, chain, body_like, in_pb)
            return
        # control characters are no part of text: bytes that merely decode as UTF-8 (a
        # protobuf of strings, say) are read as a message first
        if not in_pb and textforms.has_control(text) and self._guessed_protobuf(where, value,
                                                                                 chain):
            return
        self._text(where, key, value, text, chain, body_like)

    def _text(self, where: str, key: str, value: bytes, text: str, chain: Chain,
              body_like: bool) -> None:
        start = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]
        first = text[start:start + 1]
        if first in ("{", "["):
            document = structured.parse_json(text)
            if structured.is_json(document):
                self._json(where, document, chain)
                return
        elif first == "<":
            leaves = structured.xml_leaves(value)
            if leaves is not None:
                for path, leaf in leaves:
                    self.emit(where, path, _utf8(leaf), chain + (f"xml:{path}",))
                return
        elif text[start:start + 11].upper() == "BEGIN:VCARD":
            cards = structured.vcard_leaves(text)
            if cards is not None:
                for name, leaf in cards:
                    self.emit(where, name, _utf8(leaf), chain + (f"vcard:{name}",))
                return
        self._encoded_text(where, key, value, chain, body_like)

    def _encoded_text(self, where: str, key: str, value: bytes, chain: Chain,
                      body_like: bool) -> None:
        """Percent-encoding, hex, base64, a JWT, a URL or a query string."""
        if len(value) > 2 and value[0] in b"\"'" and value[-1] == value[0]:
            value = value[1:-1]  # a quoted cookie or header value
        decoded_hex = textforms.hex_decoded(value)
        if decoded_hex is not None and self.worth_unwrapping(decoded_hex, ""):
            self.emit(where, key, decoded_hex, chain + ("hex",), body_like=True)
            return
        from_form = bool(chain) and chain[-1].startswith(("query:", "form:"))
        if not from_form and b" " in value:  # text with spaces: only %XX can hide in it
            self._percent(where, key, value, chain, body_like)
            return
        decoded_b64 = textforms.base64_decoded(value, from_form=from_form)
        if decoded_b64 is not None:
            token, data = decoded_b64
            if self.worth_unwrapping(data, _label(where, key, chain)):
                self.emit(where, key, data, chain + (token,), body_like=True)
            return
        jwt = textforms.jwt_parts(value)
        if jwt is not None:
            for part_name, part in zip(("header", "payload"), jwt):
                self.emit(where, f"jwt:{part_name}", part, chain + ("jwt",))
            return
        if textforms.is_url(value):
            self.url_parts(where, value.decode("utf-8", "surrogateescape"), chain)
            return
        if textforms.is_query_string(value):
            # a form is a body's own content; a query string inside a field is a query
            style = "form" if body_like and not any(":" in t for t in chain) else "query"
            self._pairs(where, value, chain, style)
            return
        self._percent(where, key, value, chain, body_like)

    def _percent(self, where: str, key: str, value: bytes, chain: Chain,
                 body_like: bool) -> None:
        unescaped = textforms.percent_decoded(value)
        if unescaped is not None and unescaped != value:
            self.emit(where, key, unescaped, chain + ("percent",), body_like=body_like)

    def _hex(self, where: str, key: str, value: bytes, chain: Chain) -> None:
        """Lower-case hex (`textforms.HEX`): hex is the only reading it can have."""
        data = bytes.fromhex(value.decode("ascii"))
        if self.worth_unwrapping(data, ""):
            self.emit(where, key, data, chain + ("hex",), body_like=True)

    def _binary(self, where: str, key: str, value: bytes, chain: Chain, body_like: bool,
                in_pb: bool) -> None:
        if not in_pb:
            fields = pb.parse_message(value, guessed=not body_like)
            if fields is not None:
                self._protobuf(where, fields, chain, "")
                return
        if body_like:
            for kind in ("deflate", "brotli"):
                data = decompress(kind, value, self.budget, _label(where, key, chain),
                                  complete_only=True)
                if data is not None and self.worth_unwrapping(data, ""):
                    self.emit(where, key, data, chain + (kind,), body_like=True)
                    return

    def _guessed_protobuf(self, where: str, value: bytes, chain: Chain) -> bool:
        fields = pb.parse_message(value, guessed=True)
        if fields is None:
            return False
        self._protobuf(where, fields, chain, "")
        return True

    def worth_unwrapping(self, data: bytes, label: str) -> bool:
        """Whether bytes decoded on a guess (base64, hex, raw deflate) look meaningful:
        text, a compressed blob, gRPC frames or a protobuf message — or, given a `label`
        for warnings, a raw deflate or brotli stream that inflates completely to text."""
        if not data:
            return False
        if textforms.looks_like_text(data) or sniff_compression(data):
            return True
        if data[0] <= 1 and pb.grpc_frames(data, guessed=True) is not None:
            return True
        if pb.parse_message(data, guessed=True) is not None:
            return True
        if not label or data.startswith(_OPAQUE_MAGIC):
            return False
        for kind in ("deflate", "brotli"):
            inflated = decompress(kind, data, self.budget, label, complete_only=True)
            if inflated is not None and textforms.looks_like_text(inflated):
                return True
        return False

    # -- decoders -----------------------------------------------------------------------------

    def _decompressed(self, where: str, key: str, value: bytes, chain: Chain,
                      kind: str) -> None:
        data = decompress(kind, value, self.budget, _label(where, key, chain))
        if data is not None:
            self.emit(where, key, data, chain + (kind,), body_like=True)

    def _transcoded(self, where: str, key: str, value: bytes, chain: Chain,
                    charset: str) -> bool:
        """A body in a declared non-UTF-8 charset (GBK, UTF-16...) re-encoded as UTF-8."""
        try:
            text = value.decode(charset)
        except (LookupError, UnicodeDecodeError):
            return False
        self.emit(where, key, _utf8(text), chain + ("text",), body_like=True)
        return True

    def _pairs(self, where: str, value: bytes, chain: Chain, style: str) -> bool:
        pairs = textforms.parse_pairs(value)
        if not pairs:
            return False
        for name, item in pairs:
            token = f"{style}:{name}"
            if structured.name_is_searchable(name):
                self.emit(where, f"{name}#key", _utf8(name), chain + (f"{token}#key",))
            self.emit(where, name, item, chain + (token,))
        return True

    def _json(self, where: str, document: object, chain: Chain) -> None:
        emit = self.emit
        for path, text, is_name in structured.json_leaves(document):
            if is_name:
                emit(where, f"{path}#key", _utf8(text), chain + (f"json:{path}#key",))
            else:
                emit(where, path, _utf8(text), chain + (f"json:{path}",))

    def _multipart(self, where: str, value: bytes, chain: Chain, hint: str) -> bool:
        boundary = structured.multipart_boundary(hint, value)
        parts = structured.multipart_parts(value, boundary) if boundary else None
        if parts is None:
            return False
        for index, part in enumerate(parts):
            name = part.name or f"part{index}"
            part_chain = chain + (f"multipart:{name}",)
            data = part.data
            if part.transfer_encoding == "base64":
                decoded = textforms.base64_decoded(b"".join(data.split()))
                if decoded is None:
                    continue
                data, part_chain = decoded[1], part_chain + ("base64",)
            self.emit(where, part.filename or name, data, part_chain,
                      hint=part.content_type, body_like=bool(part.filename))
        return True

    def _grpc(self, where: str, value: bytes, chain: Chain, *, guessed: bool = False) -> bool:
        frames = pb.grpc_frames(value, guessed=guessed)
        if frames is None:
            return False
        for index, (compressed, message) in enumerate(frames):
            frame_key = f"grpc[{index}]"
            frame_chain = chain + ("grpc",)
            if compressed:
                kind = sniff_compression(message) or "deflate"
                inflated = decompress(kind, message, self.budget,
                                      _label(where, frame_key, frame_chain))
                if inflated is None:
                    continue
                message, frame_chain = inflated, frame_chain + (kind,)
            self.emit(where, frame_key, message, frame_chain, hint="application/x-protobuf")
        return True

    # -- protobuf -----------------------------------------------------------------------------

    def _protobuf(self, where: str, fields: list[pb.WireField], chain: Chain, prefix: str,
                  nesting: int = 0) -> None:
        """Every field of a parsed message in each reading it could have (see protobuf.py)."""
        numbers: list[tuple[str, str]] = []  # (path, text) of doubles/floats, for lat,lon
        for number, wire_type, value in fields:
            path = f"{prefix}{number}"
            token = f"pb:{path}"
            if wire_type == pb.VARINT:
                self._varint(where, token, value, chain)  # type: ignore[arg-type]
            elif wire_type == pb.LENGTH:
                self._pb_bytes(where, token, path, value, chain,  # type: ignore[arg-type]
                               nesting)
            else:
                raw: bytes = value  # type: ignore[assignment]
                wide = wire_type == pb.FIXED64
                real = pb.double_text(raw) if wide else pb.float_text(raw)
                if real is not None:
                    numbers.append((path, real))
                    self.plain(where, token, real, chain + (token, "double" if wide
                                                            else "float"))
                self.plain(where, token, str(int.from_bytes(raw, "little")),
                           chain + (token, "fixed64" if wide else "fixed32"))
        for (path_a, lat), (path_b, lon) in itertools.pairwise(numbers):
            if _is_lat_lon(lat, lon):
                token = f"pb:{path_a},{path_b}"
                self.plain(where, token, f"{lat},{lon}", chain + (token, "latlon"))

    def _varint(self, where: str, token: str, value: int, chain: Chain) -> None:
        self.plain(where, token, str(pb.signed64(value)), chain + (token, "varint"))
        if value >= _ZIGZAG_MIN:
            self.plain(where, token, str(pb.zigzag(value)), chain + (token, "zigzag"))

    def _pb_bytes(self, where: str, token: str, path: str, value: bytes, chain: Chain,
                  nesting: int) -> None:
        nested = None
        if nesting < _PB_MAX_NESTING and len(value) >= 2:
            nested = pb.parse_message(value, guessed=True)
        is_text = textforms.looks_like_text(value)
        # a nested message's own bytes are not yielded again: its leaves and the outer
        # value already hold them, and big messages would otherwise be searched per level
        if nested is None or is_text:
            self.emit(where, token, value, chain + (token,), body_like=True, in_pb=True)
        if nested is not None:
            self._protobuf(where, nested, chain, f"{path}.", nesting + 1)
            return
        if is_text:
            return
        numbers = pb.packed_varints(value)
        if numbers is not None and 1 < len(numbers) <= _PB_MAX_PACKED:
            for index, number in enumerate(numbers):
                self.plain(where, f"{token}[{index}]", str(number), chain + (token, "packed"))

    def plain(self, where: str, key: str, text: str | bytes, chain: Chain) -> None:
        """A value searched as it is and never decoded further (a number read from binary,
        a whole URL)."""
        if self.budget.take_field():
            self.out.append(Field(where, key, _utf8(text) if isinstance(text, str) else text,
                                  chain))


def _is_lat_lon(lat: str, lon: str) -> bool:
    a, b = float(lat), float(lon)
    return abs(a) <= 90 and abs(b) <= 180 and not (a.is_integer() and b.is_integer())


def _utf8(text: str) -> bytes:
    """UTF-8 of any decoded text, even one holding a lone surrogate (JSON "\\ud800")."""
    return text.encode("utf-8", "surrogatepass")


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return ""


def _label(where: str, key: str, chain: Chain) -> str:
    """Where a warning happened, as a reader finds it: `body`, `query aid (base64 > gzip)`."""
    place = f"{where} {key}" if key else where
    return f"{place} ({' > '.join(chain)})" if chain else place

"""One search over all fields of an exchange gives what a search per field gives: no match
across two fields, none lost at a field's edge, positions relative to their own field."""

from __future__ import annotations

import hashlib

import pytest
from detect_helpers import IMEI, exchange, fld, profile, redmi

from auditor.detect import Detector
from auditor.detect.batch import FieldBatch

#: Fields that each hold something, or hold half of something whose other half is the
#: start of the next field — a joined buffer must not glue them into a match.
FIELDS = [
    fld(IMEI[:8], key="a"), fld(IMEI[8:], key="b"),  # an IMEI split over two fields
    fld("x" + IMEI, key="c"),  # the IMEI after a letter: a match
    fld(IMEI + "1", key="d"),  # part of a longer number: none
    fld("1", key="e"), fld(IMEI, key="f"),  # a digit just before, in the field before
    fld(hashlib.sha256(IMEI.encode()).hexdigest()[:20], key="g"),  # a truncated digest
    fld("abcdef", key="h"),  # hex right after the digest field: it ends the digest
    fld(b"\x00\x01" + IMEI.encode() + b"\x00", key="i"),  # NUL bytes of the field's own
    fld("imei=354427063233479&mac=a4:5e:60:c2:19:7f", key="", where="body", chain=()),
    fld("someone@example.com", key="mail"), fld("", key="empty"),
    fld("+49 151 2345 6789", key="tel"), fld("lat=39.98312", key="", chain=()),
]


def _keys(observations) -> list[tuple[str, str, str, str]]:
    return sorted((o.data_type, o.key, o.match, o.excerpt) for o in observations)


@pytest.mark.parametrize("detector", [
    Detector(redmi()), Detector(redmi(), pattern_mode=False), Detector(None),
    Detector(profile(imei=(IMEI,)), pattern_mode=False),
], ids=["known+pattern", "known", "pattern", "imei only"])
def test_all_fields_at_once_find_what_each_field_alone_finds(detector):
    alone = [o for f in FIELDS for o in detector.observe(exchange(), [f])]
    together = detector.observe(exchange(), FIELDS)
    # a location needs both halves in one exchange, and only the joined run has them
    assert _keys(o for o in together if o.data_type != "location") == _keys(alone)


def test_edges_of_fields_are_edges_of_values():
    observations = Detector(profile(imei=(IMEI,)), pattern_mode=False).observe(
        exchange(), FIELDS)
    assert sorted(o.key for o in observations if o.data_type == "imei") == [
        "c", "f", "g", "i"]
    digest = next(o for o in observations if o.key == "g")
    assert digest.encodings[-1] == "sha256:hex-truncated" and "first 20 of 64" in \
        digest.detail


def test_a_hit_is_mapped_to_its_field():
    fields = [fld("aa"), fld(""), fld("bbb@example.com"), fld("c")]
    batch = FieldBatch(fields)
    assert batch.buffer == b"aa\x00\x00bbb@example.com\x00c"
    at = batch.buffer.index(b"@")
    assert batch.field_at(at) == 2 and batch.lowered_of(2) == b"bbb@example.com"
    assert batch.fields_with(batch.buffer, b"b") == {2}
    assert FieldBatch([]).fields_with(b"", b"x") == set()

"""The engine: one failing upload is a warning on its input, never the end of the audit."""

import hashlib

from auditor_paths import ROOT, SAMPLE

from auditor.engine import analyze_files, build_audit
from auditor.model import Exchange, InputInfo


def exchange(body: bytes) -> Exchange:
    return Exchange(id=0, time=1.0, client="10.0.0.2:5000", server="10.0.0.1:80",
                    host="api.example.com", transport="http", method="POST",
                    url="http://api.example.com/x", body=body, source="t.pcap#pkt 1")


def test_a_crash_inside_detection_is_a_warning_and_the_audit_goes_on(monkeypatch):
    audit = build_audit()
    info = audit.add_input(InputInfo(path="t.pcap", kind="pcap"))

    def explode(exchange, fields):
        raise RuntimeError("boom")

    monkeypatch.setattr(audit.detector, "observe", explode)
    kept, observations = audit.add(exchange(b"imei=867203024182737"))
    assert observations == []
    assert kept.id == 1 and kept.body == b""
    assert info.warnings == [("t.pcap#pkt 1: analysis failed (RuntimeError: boom); this upload "
                              "was not searched — please report it with the capture")]
    monkeypatch.undo()
    _, found = audit.add(exchange(b"email=someone@example.org"))
    assert [o.data_type for o in found] == ["email"]
    assert len(audit.finish().exchanges) == 2


def test_each_input_carries_the_sha256_of_its_whole_file(tmp_path):
    """Hashed while the reader reads (pcap, pcapng, also when damage stops the framing
    early) or afterwards (other kinds): always the digest of every byte of the file."""
    # a packet header claiming 4 GB stops the framing at byte 1000 of a 3 MB file
    truncated = tmp_path / "damaged.pcap"
    truncated.write_bytes((SAMPLE / "capture.pcap").read_bytes()[:1000] + b"\xff" * (3 << 20))
    files = [SAMPLE / "capture.pcap", truncated,
             ROOT / "tests/fixtures/tls/http1-keepalive-dsb.pcapng",
             ROOT / "tests/fixtures/flows/handset.har"]
    result = analyze_files([str(f) for f in files], build_audit())
    assert [i.sha256 for i in result.inputs] == [
        hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert result.inputs[1].warnings  # the framing did stop early

"""The engine: one failing upload is a warning on its input, never the end of the audit."""

from auditor.engine import build_audit
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
    _, found = audit.add(exchange(b"email=someone@example.com"))
    assert [o.data_type for o in found] == ["email"]
    assert len(audit.finish().exchanges) == 2

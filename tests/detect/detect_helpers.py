"""Builders shared by the detection tests: profiles, exchanges and fields built directly."""

from __future__ import annotations

from pathlib import Path

from auditor.detect import Detector
from auditor.detect.profile import DeviceProfile, load_profile
from auditor.model import Exchange, Field, Observation

DEVICE_YAML = Path(__file__).parent / "data" / "device.yaml"
IMEI = "867203024182737"
IMSI = "460013728150946"
PHONE = "+8615627394810"


def profile(**values: object) -> DeviceProfile:
    return DeviceProfile(**values)  # type: ignore[arg-type]


def redmi() -> DeviceProfile:
    return load_profile(str(DEVICE_YAML))


def exchange(**changes: object) -> Exchange:
    base = {"id": 7, "time": 0.0, "client": "10.0.0.2:40000", "server": "10.0.0.1:80",
            "host": "api.example", "transport": "http", "method": "POST",
            "url": "http://api.example/"}
    base.update(changes)
    return Exchange(**base)  # type: ignore[arg-type]


def fld(value: bytes | str, key: str = "x", where: str = "query",
        chain: tuple[str, ...] | None = None) -> Field:
    raw = value.encode() if isinstance(value, str) else value
    return Field(where, key, raw, (f"{where}:{key}",) if chain is None else chain)


def observe(detector: Detector, *fields: Field) -> list[Observation]:
    return detector.observe(exchange(), fields)


def of_type(observations: list[Observation], data_type: str) -> list[Observation]:
    return [o for o in observations if o.data_type == data_type]

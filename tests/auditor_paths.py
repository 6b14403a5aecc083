"""Paths of the repository that tests share (importable from any test folder)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "captures" / "redmi-1s-2014"
FIXED = ROOT / "captures" / "redmi-1s-fixed"

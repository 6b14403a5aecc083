"""handset-auditor: what a phone uploads, found, judged against policies, and reported."""

from pathlib import Path

__version__ = "0.1.0"

#: The repository's top folder (bundled rules/ and captures/ live there).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_RULES = PROJECT_ROOT / "rules"

"""handset-auditor: what a phone uploads, found, judged against policies, and reported."""

from pathlib import Path

__version__ = "0.1.0"

#: The repository's top folder (rules/ and captures/ live there in a clone).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bundled_rules() -> Path:
    """The bundled policies, organisation map and key hints: `auditor/rules/` when installed
    from a wheel (package data, see setup.py), else `rules/` at the top of the clone."""
    installed = Path(__file__).resolve().parent / "rules"
    return installed if installed.is_dir() else PROJECT_ROOT / "rules"


#: The folder of the bundled rules; `BUNDLED_RULES.parent` is where paths are shown from.
BUNDLED_RULES = _bundled_rules()

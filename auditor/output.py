"""Where the command line writes, and how: results on stdout, diagnostics on stderr.

The conventions of the tools users already know (ruff, semgrep, tshark, mitmproxy):
`--color=auto|always|never` and `--no-color` beside the NO_COLOR environment variable
(an explicit option wins over it), `-q/--quiet` to keep only results and errors, and an
80-column terminal or pipe never cuts an identifier a user must copy (rule ids).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from rich.console import Console

COLOR_CHOICES = ("auto", "always", "never")


def add_output_options(parser: argparse.ArgumentParser, *, quiet_help: str) -> None:
    """--color, --no-color and -q/--quiet."""
    parser.add_argument("--color", choices=COLOR_CHOICES, default="auto",
                        help="colours: auto (when the output is a terminal and NO_COLOR is "
                             "not set), always, never (default: auto)")
    parser.add_argument("--no-color", dest="color", action="store_const", const="never",
                        help="same as --color=never")
    parser.add_argument("--quiet", "-q", action="store_true", help=quiet_help)


def console(args: argparse.Namespace, *, stderr: bool = False,
            file: TextIO | None = None) -> Console:
    """A rich console for stdout (or stderr) that follows --color and NO_COLOR."""
    color = getattr(args, "color", "auto")
    if color == "auto" and os.environ.get("NO_COLOR"):
        color = "never"  # no escape codes at all (rich alone would still write bold)
    if color == "always":
        return Console(stderr=stderr, file=file, force_terminal=True, no_color=False,
                       highlight=False)
    if color == "never":
        return Console(stderr=stderr, file=file, no_color=True, color_system=None,
                       highlight=False)
    return Console(stderr=stderr, file=file, highlight=False)  # rich reads NO_COLOR itself


def note(args: argparse.Namespace, message: str) -> None:
    """A diagnostic for the user on stderr, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(f"auditor: {message}", file=sys.stderr)


def warn(message: str) -> None:
    """A warning on stderr, shown even with --quiet."""
    print(f"auditor: warning: {message}", file=sys.stderr)

"""Host and path globs as rules and opt-in matchers use them.

A host glob is matched case-insensitively with `fnmatch` rules (`*`, `?`, `[...]`), with one
addition: `*.example.com` also matches `example.com` itself, because a rule author who
writes it means "example.com's domain", and the bare domain is part of it.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

_HOST_GLOB = re.compile(r"^[A-Za-z0-9*?\[\]!._:-]+$")


def host_glob_problem(glob: str) -> str:
    """Why `glob` is not a usable host glob, or "" when it is."""
    if not glob:
        return "empty host glob"
    if "://" in glob or "/" in glob:
        return f"host glob {glob!r} looks like a URL; give only the host name, e.g. '*.example.com'"
    if not _HOST_GLOB.match(glob):
        return f"host glob {glob!r} has characters a host name cannot have"
    return _bracket_problem(glob)


def path_glob_problem(glob: str) -> str:
    """Why `glob` is not a usable URL path glob, or "" when it is."""
    if not glob or glob[0] not in "/*":
        return f"path glob {glob!r} must start with '/' or '*'"
    if any(c.isspace() for c in glob):
        return f"path glob {glob!r} contains white space"
    return _bracket_problem(glob)


def _bracket_problem(glob: str) -> str:
    # fnmatch silently treats an unclosed '[' as a literal; that is never what was meant.
    depth = 0
    for char in glob:
        if char == "[":
            if depth:
                return f"glob {glob!r} nests '[' inside '[...]'"
            depth = 1
        elif char == "]" and depth:
            depth = 0
    return f"glob {glob!r} has an unclosed '['" if depth else ""


def host_matches(host: str, glob: str) -> bool:
    """Whether `host` (a name or an IP, without port) matches a host glob."""
    host = host.lower().rstrip(".")
    glob = glob.lower()
    if fnmatchcase(host, glob):
        return True
    return glob.startswith("*.") and fnmatchcase(host, glob[2:])


def host_matches_any(host: str, globs: tuple[str, ...]) -> bool:
    return any(host_matches(host, glob) for glob in globs)


def path_matches(path: str, glob: str) -> bool:
    """Whether a URL path matches a path glob (case-sensitive, as URL paths are)."""
    return fnmatchcase(path, glob)


def strip_port(host: str) -> str:
    """`example.com:8080` → `example.com`, `[2001:db8::1]:443` → `2001:db8::1`."""
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host

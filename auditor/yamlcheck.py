"""Checks every YAML file the tool reads goes through before it is parsed, so that bad
bytes and hostile nesting are a one-line `file:line: what is wrong`, never a traceback:
text that is not UTF-8, characters YAML forbids (a NUL byte...), and nesting deeper than
`MAX_YAML_DEPTH` (PyYAML composes recursively; 500 levels exhausted Python's stack).
`quote` cuts a bad value to a few dozen characters for any one-line message.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from auditor.model import InputError

#: Mappings and lists inside one another, at most. The deepest bundled file uses 5.
MAX_YAML_DEPTH = 32
#: What YAML 1.1 does not allow in a stream (PyYAML's Reader.NON_PRINTABLE).
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd"
                            "\U00010000-\U0010ffff]")


def read_yaml_text(path: str | Path, what: str = "YAML file") -> str:
    """The file's text, checked (see the module docstring). Raises InputError; a missing
    or unreadable file raises OSError, for the caller's own message."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte {e.start}: "
                         f"{data[e.start]:#04x}); save the {what} as UTF-8") from None
    check_yaml_text(str(path), text)
    return text


def compose_yaml(path: str | Path, what: str = "YAML file") -> tuple[yaml.Node | None, object]:
    """One checked parse of a YAML file: its root node (for line numbers; None for an empty
    file) and its values. Every problem is an InputError naming the file and line."""
    try:
        loader = yaml.SafeLoader(read_yaml_text(path, what))
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: "
                         f"{getattr(e, 'problem', e)}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    return root, data


def check_yaml_text(path: str, text: str) -> None:
    """Raise InputError for forbidden characters or nesting over `MAX_YAML_DEPTH`."""
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        char = bad.group()
        name = "a NUL byte" if char == "\0" else f"the control character U+{ord(char):04X}"
        raise InputError(f"{path}:{line}: {name} is not allowed in YAML; remove it")
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):  # a loop, no recursion
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    mark = event.start_mark
                    raise InputError(f"{path}:{mark.line + 1 if mark else 1}: nested more "
                                     f"than {MAX_YAML_DEPTH} levels deep; this is not a "
                                     f"file the tool writes or reads")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # the caller's own parse reports it, with its line


def quote(value: object, limit: int = 60) -> str:
    """A value for a one-line message, repr'd and cut to about `limit` characters."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(value)
    return f"{text[:limit]!r}… ({len(text):,} characters)"

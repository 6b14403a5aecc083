"""`json.dumps(value, indent=2, ensure_ascii=False)`, byte for byte, through orjson.

The standard library writes indented JSON with its pure-Python encoder; orjson writes the
same text about ten times faster (bench/bench_hotspots.py). Where the two would differ,
the standard library writes it: a value orjson refuses (a non-string key, an integer
beyond 64 bits, a string that is not valid Unicode) and a float it may spell differently:
Python writes `1e-05`, `2.5e-07` and `1e+16` where orjson writes `0.00001`, `2.5e-7` and
`1e16`, so a number with an exponent or below 0.0001 sends the value to `json.dumps`
(checked on 200,000 random floats of every magnitude). A non-finite float, which no report holds, would
be `null` here and the non-JSON `NaN` there.
"""

from __future__ import annotations

import json
import re
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this is the fallback
    orjson = None

#: A number with an exponent or below 0.0001, as a value (after `": `) or a list element
#: (at the start of a line). Two patterns with a literal start are searched much faster
#: than one with an alternation in front.
_ODD_VALUE = re.compile(rb'": -?(?:[0-9][0-9.]*[eE]|0\.0000)')
_ODD_ELEMENT = re.compile(rb'\n *-?(?:[0-9][0-9.]*[eE]|0\.0000)')
_NUMBER_START = frozenset(b"-0123456789")


def dumps_indented(value: Any) -> str:
    """The text `json.dumps(value, indent=2, ensure_ascii=False)` gives."""
    if orjson is not None:
        try:
            data = orjson.dumps(value, option=orjson.OPT_INDENT_2)
        except TypeError:  # orjson.JSONEncodeError is one
            pass
        else:
            if not (_ODD_VALUE.search(data) or _ODD_ELEMENT.search(data)
                    or data[0] in _NUMBER_START):  # a bare number: rare, not worth a look
                return data.decode()
    return json.dumps(value, indent=2, ensure_ascii=False)

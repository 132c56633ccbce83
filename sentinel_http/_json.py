"""Keys given twice in a JSON body that orjson has already read.

orjson, like most parsers, keeps the last of two equal keys, so a body it read may
say two things at once; the standard library's parser shows every key and value
pair to a hook, which is how a repeated key is found and named. That second parse
costs several times orjson's whole read (docs/performance.md), so it runs only when
the body could hold a repeated key: every member of a JSON object is written as a
key and a colon, and orjson keeps one entry per distinct decoded key, so a body
with no more colons than the parsed value has entries lost none and repeats none.
Otherwise (a colon in a string, a key given twice, a value nested deeper than the
count looks) the standard parser reads the body as before and names the first
repeated key it meets.

It must never answer None for a body with a key given twice in any object, however
the two are spelt (``"a"`` and ``"\\u0061"`` are one key once decoded), and it is
only for bodies orjson parsed from ``raw``: the count relies on that.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["repeated_key"]

# Deeper values go to the standard parser, which is what says how deep it can read.
_MAX_COUNTED_DEPTH = 64
_CONTAINERS = (dict, list)


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _TooDeep(Exception):
    pass


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Repeated(key)
        seen.add(key)
    return dict(pairs)


# Built once: json.loads(..., object_pairs_hook=...) builds a decoder and its scanner per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_refuse_repeats)


def repeated_key(raw: bytes, value: Any) -> str | None:
    """The first key given twice in one object of ``raw``, or None; ``value`` is orjson's reading of ``raw``.

    Raises RecursionError for a body nested deeper than the standard parser reads.
    """
    try:
        if raw.count(b":") <= _entries(value, _MAX_COUNTED_DEPTH):
            return None  # colons >= keys written >= entries read: equal, so no object lost one
    except _TooDeep:
        pass
    try:
        # What json.loads does with bytes orjson accepted (UTF-8 without a byte order mark).
        _DECODER.decode(raw.decode("utf-8", "surrogatepass"))
    except _Repeated as exc:
        return exc.key
    return None


def _entries(value: Any, depth: int) -> int:
    """How many entries the objects in ``value`` hold in all; _TooDeep past ``depth`` levels."""
    if isinstance(value, dict):
        count = len(value)
        children: Any = value.values()
    elif isinstance(value, list):
        count, children = 0, value
    else:
        return 0
    for child in children:
        if isinstance(child, _CONTAINERS):
            if not depth:
                raise _TooDeep
            count += _entries(child, depth - 1)
    return count

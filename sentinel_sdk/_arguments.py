"""A tool call's arguments, checked before they are sent: a mapping of names to JSON values.

``call_tool`` sends exactly the JSON the caller's mapping stands for, so
anything JSON cannot carry is refused here, as ``InvalidArguments``, instead of
being coerced (``dict("")``, a list of pairs) or failing deep inside httpx
(NaN, a ``datetime``). Messages name the argument and the problem and must
never contain a value: arguments can hold secrets, and the message goes back to
a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sentinel_sdk._exceptions import InvalidArguments

# Deeper than anything a tool schema means; also how a value that contains itself is caught.
MAX_DEPTH = 100


def checked_arguments(arguments: Any) -> dict[str, Any]:
    """A plain JSON copy of ``arguments`` (None means no arguments), or ``InvalidArguments``."""
    if arguments is None:
        return {}
    if not isinstance(arguments, Mapping):
        raise InvalidArguments(
            f"the arguments must be a mapping of argument names to values (or None), not {type(arguments).__name__}"
        )
    return _mapping(arguments, "", 1)


def _mapping(value: Mapping[Any, Any], path: str, depth: int) -> dict[str, Any]:
    copy: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            where = f"in {_name(path)}: " if path else ""
            raise InvalidArguments(f"{where}argument names must be strings, not {type(key).__name__}")
        copy[key] = _value(item, f"{path}.{key}" if path else key, depth)
    return copy


def _value(value: Any, path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidArguments(f"{_name(path)} is nested more than {MAX_DEPTH} levels deep (or contains itself)")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            kind = "NaN" if math.isnan(value) else "an infinite number"
            raise InvalidArguments(f"{_name(path)} is {kind}, which JSON cannot carry")
        return value
    if isinstance(value, Mapping):
        return _mapping(value, path, depth + 1)
    if isinstance(value, list | tuple):
        return [_value(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    raise InvalidArguments(
        f"{_name(path)} is a {type(value).__name__}, which JSON cannot carry (send a string, number, boolean, "
        "list, object or None)"
    )


def _name(path: str) -> str:
    return f"argument {path[:100]!r}"

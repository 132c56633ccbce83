"""JSON values: what a policy and its tools may consist of, because that is all the config stores keep.

JSON values: mappings with text keys, lists (tuples too), text, booleans,
null, finite floats and integers with |n| < 2**63. YAML also has dates,
timestamps, binary, sets, non-text keys and .inf/.nan; a store would turn
those into something else (or refuse them), so a policy must not hold them.
Compilation checks this first, and the config stores check what they are given
with the same function, so what validates is what the interceptor reads back
after a push. Nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

# Integers must stay within |n| < 2**63: the PostgreSQL store's JSON codec (orjson)
# keeps no more, and the engine reads numbers as 64-bit values.
MAX_INT = 2**63


def json_value_problems(value: Any, place: str) -> list[str]:
    """Every place in ``value`` that is not a JSON value, with what it is instead (see the module docstring)."""
    problems: list[str] = []
    stack: list[tuple[Any, str]] = [(value, place)]
    while stack:  # no recursion: a deeply nested document is a problem list, not a crash
        item, where = stack.pop()
        if item is None or isinstance(item, str | bool):
            continue
        if isinstance(item, int):
            if not -MAX_INT < item < MAX_INT:
                problems.append(f"{where}: not a JSON value (an integer of {len(str(abs(item)))} digits, beyond ±(2**63 - 1))")
        elif isinstance(item, float):
            if not math.isfinite(item):
                problems.append(f"{where}: not a JSON value ({'NaN' if math.isnan(item) else 'Infinity' if item > 0 else '-Infinity'})")
        elif isinstance(item, Mapping):
            entries = []
            for key, sub in item.items():
                if isinstance(key, str):
                    entries.append((sub, f"{where}.{key}"))
                else:
                    problems.append(f"{where}: not a JSON value (the key {key!r} is {_kind(key)}, not text; quote it)")
            stack.extend(reversed(entries))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(sub, f"{where}[{index}]") for index, sub in enumerate(item)]))
        else:
            problems.append(f"{where}: not a JSON value ({_kind(item)}; quote it to make it text)")
    return problems


def _kind(value: Any) -> str:
    if isinstance(value, datetime):
        return "a timestamp"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    if isinstance(value, set | frozenset):
        return "a set"
    return f"a {type(value).__name__}"

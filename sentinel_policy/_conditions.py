"""Conditions of named rules: parsed and validated once, then tested per call.

Each ``parse_*`` function turns one raw condition (from YAML/JSON) into a
``Check`` (a label for explanations plus a test function), appending every
problem it finds to ``problems`` with its place in the file. A test may raise
``RuleEvalError`` at evaluation (an argument of the wrong type, a number that is
not finite, a value nested too deep): the evaluator then skips the rule and
records why. Error messages name the argument and its JSON type, never its
value (they end up in reasons). Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from interceptor.policy._model import SessionFacts, ToolCall
from interceptor.policy._values import (
    KINDS,
    MAX_SCAN_CHARS,
    OVERFLOW_TAG,
    RuleEvalError,
    addresses,
    extract,
    filter_has,
    fingerprint,
    json_type,
    normalise,
    strings,
    url_host,
)

Test = Callable[[ToolCall, SessionFacts, datetime], bool]
USED_TAG = "sentinel:used:"  # + tool: kept for tools that history conditions name, so history never forgets them
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Check:
    label: str  # human-readable, used by `policy explain`
    test: Test


def glob_regex(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns) or "(?!)")


def as_str_list(raw: Any, place: str, problems: list[str], what: str = "a string or a list of strings") -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return list(raw)
    problems.append(f"{place}: must be {what}")
    return []


def _number(value: Any, place: str) -> float:
    """A number or numeric text as a finite float. A comparison with NaN is always false (a deny on gt would
    never fire) and infinity is beyond every bound, so a non-finite number (nan, inf, 1e999, an integer too
    big for a float) is an error, not a value."""
    kind = type(value)
    try:
        if kind is int or kind is float:  # the common case first: this runs for every range test
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            raise RuleEvalError(f"{place} is not a number ({json_type(value)})")
    except ValueError:
        raise RuleEvalError(f"{place} is not a number ({json_type(value)})") from None
    except OverflowError:
        raise RuleEvalError(f"{place} is not a finite number ({json_type(value)})") from None
    if not math.isfinite(number):
        raise RuleEvalError(f"{place} is not a finite number ({json_type(value)})")
    return number


def _elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _domain_of(kind: str, value: str) -> str:
    if kind == "email":
        return value.rsplit("@", 1)[-1]
    if kind == "url":  # a link is at the domain of its host
        return url_host(value)
    return value


def _in_domains(domain: str, allowed: Sequence[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in allowed)


def _addresses(value: Any, kind: str) -> tuple[list[str], bool]:
    """The domains (hosts) of every address (link) in the value, and whether some text looked like one
    but could not be read: that one counts as outside every list (fail closed)."""
    found: list[str] = []
    unread = False
    for text in strings(value):
        domains, missed = addresses(text, kind)
        found.extend(domains)
        unread = unread or missed
    return found, unread


_ARG_TESTS = (
    "equals", "not_equals", "in", "not_in", "regex", "contains", "gt", "gte", "lt", "lte",
    "domain_in", "domain_not_in", "host_in", "host_not_in", "exists",
)


def _arg_test(name: str, op: str, expected: Any, place: str, problems: list[str]) -> Callable[[Any], bool] | None:
    """One test on one argument value (``MISSING`` when the argument is absent)."""
    if op == "exists":
        if not isinstance(expected, bool):
            problems.append(f"{place}: exists must be true or false")
            return None
        return lambda v: (v is not _MISSING) is expected
    if op in ("equals", "not_equals"):
        negate = op == "not_equals"
        return lambda v: (v is not _MISSING and v == expected) is not negate
    if op in ("in", "not_in"):
        if not isinstance(expected, list):
            problems.append(f"{place}: {op} must be a list")
            return None
        allowed = list(expected)
        if op == "in":  # every element of a list value must be allowed
            return lambda v: v is not _MISSING and bool(_elements(v)) and all(x in allowed for x in _elements(v))
        return lambda v: v is _MISSING or not any(x in allowed for x in _elements(v))
    if op == "regex":
        if not isinstance(expected, str):
            problems.append(f"{place}: regex must be a string")
            return None
        try:
            pattern = re.compile(expected)
        except re.error as exc:
            problems.append(f"{place}: invalid regex {expected!r}: {exc}")
            return None

        def regex(v: Any) -> bool:
            if v is _MISSING:
                return False
            items = _elements(v)
            for x in items:
                if not isinstance(x, str):
                    raise RuleEvalError(f"argument {name} is not text ({json_type(x)}); regex needs text")
            return bool(items) and all(pattern.search(x) for x in items)

        return regex
    if op == "contains":
        if not isinstance(expected, str):
            problems.append(f"{place}: contains must be a string")
            return None
        return lambda v: v is not _MISSING and any(expected in s for s in strings(v))
    if op in ("gt", "gte", "lt", "lte"):
        if isinstance(expected, bool) or not isinstance(expected, (int, float)):
            problems.append(f"{place}: {op} must be a number")
            return None
        bound = float(expected)
        compare: Callable[[float], bool] = {
            "gt": lambda x: x > bound, "gte": lambda x: x >= bound,
            "lt": lambda x: x < bound, "lte": lambda x: x <= bound,
        }[op]
        return lambda v: v is not _MISSING and compare(_number(v, f"argument {name}"))
    if op in ("domain_in", "domain_not_in", "host_in", "host_not_in"):
        domains = [normalise(d).strip(".") for d in as_str_list(expected, place, problems, "a list of domains")]
        if not domains:
            return None
        kind = "email" if op.startswith("domain") else "host"

        def inside(v: Any) -> bool | None:
            """True: every address is listed; False: one is not (or is unreadable); None: there is none."""
            if v is _MISSING:
                return None
            found, unread = _addresses(v, kind)
            if unread or not all(_in_domains(d, domains) for d in found):
                return False
            return True if found else None

        if op.endswith("_not_in"):  # some address or host outside the list, or one that cannot be read
            return lambda v: inside(v) is False
        return lambda v: inside(v) is True
    problems.append(f"{place}: unknown test {op!r} (one of {', '.join(_ARG_TESTS)})")
    return None


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def parse_args(raw: Any, place: str, problems: list[str]) -> list[Check]:
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{place}: must map argument names to tests")
        return []
    checks: list[Check] = []
    for name, tests in raw.items():
        where = f"{place}.{name}"
        if not isinstance(tests, Mapping) or not tests:
            problems.append(f"{where}: must be a mapping of tests, e.g. {{equals: value}}")
            continue
        for op, expected in tests.items():
            fn = _arg_test(str(name), str(op), expected, f"{where}.{op}", problems)
            if fn is None:
                continue

            def test(call: ToolCall, facts: SessionFacts, now: datetime, _n: str = str(name), _f: Any = fn) -> bool:
                return bool(_f(call.arguments.get(_n, _MISSING)))

            checks.append(Check(f"argument {name} {op} {expected!r}", test))
    return checks


def parse_identity(field: str, raw: Any, place: str, problems: list[str]) -> Check | None:
    patterns = as_str_list(raw, place, problems)
    if not patterns:
        return None
    regex = glob_regex(patterns)

    def test(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
        value = getattr(call, field)
        return value is not None and regex.match(value) is not None

    return Check(f"{field} matches {patterns}", test)


def parse_taint(raw: Any, place: str, problems: list[str]) -> Check | None:
    spec = {"any": raw} if isinstance(raw, (list, str)) else raw
    if not isinstance(spec, Mapping) or not spec or set(spec) - {"any", "all", "none"}:
        problems.append(f"{place}: must be a list of tags or a mapping with any / all / none")
        return None
    any_of = frozenset(as_str_list(spec["any"], f"{place}.any", problems)) if "any" in spec else None
    all_of = frozenset(as_str_list(spec["all"], f"{place}.all", problems)) if "all" in spec else None
    none_of = frozenset(as_str_list(spec["none"], f"{place}.none", problems)) if "none" in spec else None

    def test(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
        tags = facts.tags
        return (
            (any_of is None or not any_of.isdisjoint(tags))
            and (all_of is None or all_of <= tags)
            and (none_of is None or none_of.isdisjoint(tags))
        )

    return Check(f"session taint {dict(spec)}", test)


def parse_history(raw: Any, tools: frozenset[str], place: str, problems: list[str]) -> tuple[Check | None, frozenset[str]]:
    """A history condition and the defined tools it names (their use is remembered for good)."""
    spec = {"any": raw} if isinstance(raw, (list, str)) else raw
    if not isinstance(spec, Mapping) or not spec or set(spec) - {"any", "none", "last", "count"}:
        problems.append(f"{place}: must be a list of tool globs or a mapping with any / none / last / count")
        return None, frozenset()
    named: set[str] = set()

    def tools_of(key: str, value: Any) -> frozenset[str]:
        regex = glob_regex(as_str_list(value, f"{place}.{key}", problems))
        return frozenset(t for t in tools if regex.match(t))

    any_of = tools_of("any", spec["any"]) if "any" in spec else None
    none_of = tools_of("none", spec["none"]) if "none" in spec else None
    named.update(any_of or ())
    named.update(none_of or ())
    last = glob_regex(as_str_list(spec["last"], f"{place}.last", problems)) if "last" in spec else None
    count: tuple[re.Pattern[str], float, float] | None = None
    if "count" in spec:
        c = spec["count"]
        if not isinstance(c, Mapping) or "tool" not in c or not ({"gte", "lte"} & set(c)) or set(c) - {"tool", "gte", "lte"}:
            problems.append(f"{place}.count: needs tool and gte and/or lte")
        elif any(isinstance(c.get(k), bool) or not isinstance(c.get(k, 0), int) for k in ("gte", "lte")):
            problems.append(f"{place}.count: gte and lte must be whole numbers")
        else:
            regex = glob_regex(as_str_list(c["tool"], f"{place}.count.tool", problems))
            count = (regex, float(c.get("gte", 0)), float(c.get("lte", float("inf"))))

    def used(facts: SessionFacts, names: frozenset[str]) -> bool:
        return any(n in facts.history or USED_TAG + n in facts.tags for n in names)

    def test(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
        if any_of is not None and not used(facts, any_of):
            return False
        if none_of is not None and used(facts, none_of):
            return False
        if last is not None and not (facts.history and last.match(facts.history[-1])):
            return False
        if count is not None:
            n = sum(1 for h in facts.history if count[0].match(h))
            if not count[1] <= n <= count[2]:
                return False
        return True

    return Check(f"earlier calls {dict(spec)}", test), frozenset(named)


def _clock(text: Any, place: str, problems: list[str]) -> time | None:
    if isinstance(text, str) and re.fullmatch(r"\d{2}:\d{2}", text):
        hour, minute = int(text[:2]), int(text[3:])
        if hour == 24 and minute == 0:
            return time.max
        if hour < 24 and minute < 60:
            return time(hour, minute)
    problems.append(f"{place}: {text!r} is not a time of day HH:MM")
    return None


def parse_time(raw: Any, place: str, problems: list[str]) -> Check | None:
    if not isinstance(raw, Mapping) or not raw or set(raw) - {"days", "hours", "tz"}:
        problems.append(f"{place}: must be a mapping with days, hours and/or tz")
        return None
    zone: ZoneInfo | None = None
    try:
        zone = ZoneInfo(str(raw.get("tz", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{place}.tz: unknown time zone {raw.get('tz')!r}")
    days: frozenset[int] | None = None
    if "days" in raw:
        names = [d.lower()[:3] for d in as_str_list(raw["days"], f"{place}.days", problems)]
        bad = [d for d in names if d not in DAYS]
        if bad:
            problems.append(f"{place}.days: unknown day(s) {bad} (mon ... sun)")
        days = frozenset(DAYS.index(d) for d in names if d in DAYS)
    window: tuple[time, time] | None = None
    if "hours" in raw:
        parts = raw["hours"].split("-") if isinstance(raw["hours"], str) else []
        if len(parts) != 2:
            problems.append(f"{place}.hours: must be 'HH:MM-HH:MM'")
        else:
            start, end = _clock(parts[0].strip(), f"{place}.hours", problems), _clock(parts[1].strip(), f"{place}.hours", problems)
            if start is not None and end is not None:
                if start == end:
                    problems.append(f"{place}.hours: an empty window never matches")
                window = (start, end)
    if zone is None:
        return None

    def test(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
        moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)  # naive means UTC
        local = moment.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if window is not None:
            start, end = window
            if start < end:
                if not start <= clock < end:
                    return False
            else:  # wraps past midnight: 22:00-06:00 belongs to the day it started
                if not (clock >= start or clock < end):
                    return False
                if days is not None and clock < end:
                    return (local.weekday() - 1) % 7 in days
        return days is None or local.weekday() in days

    return Check(f"time window {dict(raw)}", test)


def parse_flow(raw: Any, place: str, problems: list[str]) -> Check | None:
    spec: Mapping[str, Any] = {} if raw is True else raw
    if not isinstance(spec, Mapping) or set(spec) - {"args", "kinds", "except_domains", "ignore_trusted", "context"}:
        problems.append(f"{place}: must be true or a mapping with args, kinds, except_domains, ignore_trusted, context")
        return None
    context = spec.get("context", "any")
    if context not in ("any", "text"):
        problems.append(f"{place}.context: must be any (anywhere in untrusted output) or text (in its running text)")
    zone = "p" if context == "text" else "u"
    names = as_str_list(spec["args"], f"{place}.args", problems) if "args" in spec else None
    kinds = as_str_list(spec.get("kinds", list(KINDS)), f"{place}.kinds", problems)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        problems.append(f"{place}.kinds: unknown kind(s) {bad} (one of {', '.join(KINDS)})")
    kinds = [k for k in kinds if k in KINDS]
    exempt = [normalise(d).strip(".") for d in as_str_list(spec.get("except_domains", []) or ["-"], f"{place}.except_domains", problems) if d != "-"]
    ignore_trusted = spec.get("ignore_trusted", True)
    if not isinstance(ignore_trusted, bool):
        problems.append(f"{place}.ignore_trusted: must be true or false")

    def test(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
        values = (call.arguments.get(n) for n in names) if names is not None else call.arguments.values()
        for value in values:
            for text in strings(value):
                if len(text) > MAX_SCAN_CHARS:
                    return True  # too big to check: treat as tainted
                for kind, found in extract(text, kinds):
                    if exempt and kind != "number" and _in_domains(_domain_of(kind, found), exempt):
                        continue
                    if OVERFLOW_TAG in facts.tags or filter_has(facts.seen, fingerprint(zone, kind, found)):
                        if not (ignore_trusted and fingerprint("t", kind, found) in facts.values):
                            return True
        return False

    where = "the running text of untrusted output" if zone == "p" else "untrusted output"
    label = f"a value ({'/'.join(kinds)}) of {'arguments ' + str(names) if names else 'an argument'} appeared in {where}"
    return Check(label, test)

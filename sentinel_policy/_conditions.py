"""Conditions of named rules: one table, ``CONDITIONS``, from the key in ``when``/``unless`` to how it compiles.

Each entry's ``compile`` validates one raw condition (from YAML/JSON), appending
every problem it finds with its place in the file, and returns what it compiles
to: ``Condition``s (a label for `policy explain` and the test that evaluates it
per call), the defined tools the rule is restricted to (``tool`` and ``class``
are resolved here, once, so a rule costs nothing for other tools), and the tools
whose use the session must remember for good (``history``). Adding a condition
is one entry; the table's order is the order conditions are tested in and their
problems reported in. A test may raise ``RuleEvalError`` (see ``_arguments``):
the evaluator then skips the rule and records why. Nothing here does I/O or
reads the clock (``now`` is passed in).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sentinel_policy._arguments import (
    MISSING,
    as_str_list,
    compile_test,
    domain_of,
    in_domains,
)
from sentinel_policy._classes import SecurityClass
from sentinel_policy._dataflow import (
    MAX_SCAN_CHARS,
    OVERFLOW_TAG,
    UNTRUSTED_TAG,
    filter_has,
    strings,
)
from sentinel_policy._model import SessionFacts, ToolCall
from sentinel_policy._values import KINDS, UNREADABLE, canonical_domain, scanned

Test = Callable[[ToolCall, SessionFacts, datetime], bool]
USED_TAG = "sentinel:used:"  # + tool: kept for tools that history conditions name, so history never forgets them
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Condition:
    """One compiled condition of a rule: what `policy explain` calls it, and its test for a call."""

    label: str
    test: Test
    reads_values: bool = False  # the test reads data-flow fingerprints, so the engine must record them
    identity: bool = False  # the test reads only who calls (agent, project): known before any call is made


@dataclass(frozen=True, slots=True)
class DefinedTools:
    """What a condition may resolve at compile time: the project's tools and their classes."""

    names: frozenset[str]
    classes: Mapping[str, SecurityClass]


@dataclass(frozen=True, slots=True)
class Compiled:
    """What one raw condition compiles to."""

    conditions: tuple[Condition, ...] = ()
    tools: frozenset[str] | None = None  # the defined tools a rule with it can match; None: no restriction
    remembered: frozenset[str] = frozenset()  # tools whose use the session remembers for good (USED_TAG)


NOTHING = Compiled()
# (raw value, place, defined tools, problems) -> what it compiles to
Compile = Callable[[Any, str, DefinedTools, list[str]], Compiled]


@dataclass(frozen=True, slots=True)
class ConditionType:
    compile: Compile
    in_unless: bool = True  # tool and class choose the rule's candidate tools at compile time: `when` only


def glob_regex(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns) or "(?!)")


def _tool(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    regex = glob_regex(as_str_list(raw, place, problems))
    return Compiled(tools=frozenset(t for t in tools.names if regex.match(t)))


def _class(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    wanted = as_str_list(raw, place, problems)
    for name in wanted:
        if SecurityClass.named(name) is None:
            problems.append(f"{place}: {name!r} is not a security class ({', '.join(SecurityClass)})")
    return Compiled(tools=frozenset(t for t in tools.names if tools.classes.get(t) in wanted))


def _identity(field: str) -> Compile:
    """``agent`` and ``project``: globs on the caller's identity, a field of the call."""

    def compile_identity(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
        patterns = as_str_list(raw, place, problems)
        if not patterns:
            return NOTHING
        regex = glob_regex(patterns)

        def test(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
            value = getattr(call, field)
            return value is not None and regex.match(value) is not None

        return Compiled((Condition(f"{field} matches {patterns}", test, identity=True),))

    return compile_identity


def _taint(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    spec = {"any": raw} if isinstance(raw, (list, str)) else raw
    if not isinstance(spec, Mapping) or not spec or set(spec) - {"any", "all", "none"}:
        problems.append(f"{place}: must be a list of tags or a mapping with any / all / none")
        return NOTHING
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

    return Compiled((Condition(f"session taint {dict(spec)}", test),))


def _history(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    """Earlier allowed calls. The defined tools that ``any`` and ``none`` name are remembered for good."""
    spec = {"any": raw} if isinstance(raw, (list, str)) else raw
    if not isinstance(spec, Mapping) or not spec or set(spec) - {"any", "none", "last", "count"}:
        problems.append(f"{place}: must be a list of tool globs or a mapping with any / none / last / count")
        return NOTHING

    def tools_of(key: str, value: Any) -> frozenset[str]:
        regex = glob_regex(as_str_list(value, f"{place}.{key}", problems))
        return frozenset(t for t in tools.names if regex.match(t))

    any_of = tools_of("any", spec["any"]) if "any" in spec else None
    none_of = tools_of("none", spec["none"]) if "none" in spec else None
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

    return Compiled((Condition(f"earlier calls {dict(spec)}", test),), remembered=(any_of or frozenset()) | (none_of or frozenset()))


def _clock(text: Any, place: str, problems: list[str]) -> time | None:
    if isinstance(text, str) and re.fullmatch(r"\d{2}:\d{2}", text):
        hour, minute = int(text[:2]), int(text[3:])
        if hour == 24 and minute == 0:
            return time.max
        if hour < 24 and minute < 60:
            return time(hour, minute)
    problems.append(f"{place}: {text!r} is not a time of day HH:MM")
    return None


def _time(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    if not isinstance(raw, Mapping) or not raw or set(raw) - {"days", "hours", "tz"}:
        problems.append(f"{place}: must be a mapping with days, hours and/or tz")
        return NOTHING
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
        return NOTHING

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

    return Compiled((Condition(f"time window {dict(raw)}", test),))


def _args(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    """One condition per test of each argument (see ``_arguments.ARGUMENT_TESTS``)."""
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{place}: must map argument names to tests")
        return NOTHING
    conditions: list[Condition] = []
    for name, tests in raw.items():
        where = f"{place}.{name}"
        if not isinstance(tests, Mapping) or not tests:
            problems.append(f"{where}: must be a mapping of tests, e.g. {{equals: value}}")
            continue
        for op, expected in tests.items():
            fn = compile_test(str(name), str(op), expected, f"{where}.{op}", problems)
            if fn is None:
                continue

            def test(call: ToolCall, facts: SessionFacts, now: datetime, _n: str = str(name), _f: Any = fn) -> bool:
                return bool(_f(call.arguments.get(_n, MISSING)))

            conditions.append(Condition(f"argument {name} {op} {expected!r}", test))
    return Compiled(tuple(conditions))


def _flows_from_untrusted(raw: Any, place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    if raw is False:  # stated and switched off: no condition
        return NOTHING
    spec: Mapping[str, Any] = {} if raw is True else raw
    if not isinstance(spec, Mapping) or set(spec) - {"args", "kinds", "except_domains", "ignore_trusted", "context"}:
        problems.append(f"{place}: must be true or a mapping with args, kinds, except_domains, ignore_trusted, context")
        return NOTHING
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
    exempt = [canonical_domain(d) for d in as_str_list(spec.get("except_domains", []) or ["-"], f"{place}.except_domains", problems) if d != "-"]
    ignore_trusted = spec.get("ignore_trusted", True)
    if not isinstance(ignore_trusted, bool):
        problems.append(f"{place}.ignore_trusted: must be true or false")
    wanted = frozenset(kinds)

    def test(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
        values = (call.arguments.get(n) for n in names) if names is not None else call.arguments.values()
        overflow = OVERFLOW_TAG in facts.tags
        # Untrusted text entered the session: a destination that cannot be read may have come from it.
        exposed = overflow or UNTRUSTED_TAG in facts.tags
        for value in values:
            for text in strings(value):  # walked in full even when nothing is tainted: too deep is an error
                if len(text) > MAX_SCAN_CHARS:
                    return True  # too big to check: treat as tainted
                if not exposed and not facts.seen:
                    continue
                found = scanned(text)
                if not found.complete:
                    return True
                for kind, item in found.values:
                    if kind not in wanted:
                        continue
                    unreadable = item.startswith(UNREADABLE)
                    if exempt and not unreadable and kind != "number" and in_domains(domain_of(kind, item), exempt):
                        continue
                    value_digest = found.digest(kind, item)
                    tainted = overflow or (unreadable and exposed) or filter_has(facts.seen, facts.fingerprint(zone, value_digest))
                    if tainted and not (ignore_trusted and facts.trusts(value_digest)):
                        return True
        return False

    where = "the running text of untrusted output" if zone == "p" else "untrusted output"
    label = f"a value ({'/'.join(kinds)}) of {'arguments ' + str(names) if names else 'an argument'} appeared in {where}"
    return Compiled((Condition(label, test, reads_values=True),))


# The conditions of the policy language. The order is the order they are compiled, tested and explained in.
CONDITIONS: Mapping[str, ConditionType] = {
    "tool": ConditionType(_tool, in_unless=False),
    "class": ConditionType(_class, in_unless=False),
    "agent": ConditionType(_identity("agent")),
    "project": ConditionType(_identity("project")),
    "taint": ConditionType(_taint),
    "history": ConditionType(_history),
    "time": ConditionType(_time),
    "args": ConditionType(_args),
    "flows_from_untrusted": ConditionType(_flows_from_untrusted),
}
UNLESS_KEYS = frozenset(key for key, kind in CONDITIONS.items() if kind.in_unless)


def compile_when(when: Mapping[str, Any], place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    """A rule's ``when``: every condition must hold. Unknown keys are reported."""
    for key in sorted(set(when) - set(CONDITIONS)):
        problems.append(f"{place}: unknown condition {key!r} (one of {', '.join(sorted(CONDITIONS))})")
    conditions: list[Condition] = []
    scope: frozenset[str] | None = None
    remembered: frozenset[str] = frozenset()
    for key, kind in CONDITIONS.items():
        if key in when:
            part = kind.compile(when[key], f"{place}.{key}", tools, problems)
            conditions.extend(part.conditions)
            if part.tools is not None:
                scope = part.tools if scope is None else scope & part.tools
            remembered |= part.remembered
    return Compiled(tuple(conditions), scope, remembered)


def compile_unless(unless: Mapping[str, Any], place: str, tools: DefinedTools, problems: list[str]) -> Compiled:
    """A rule's ``unless``: each condition alone exempts the call, tested in the file's order."""
    for key in sorted(set(unless) - UNLESS_KEYS):
        problems.append(f"{place}: unknown condition {key!r}")
    conditions: list[Condition] = []
    remembered: frozenset[str] = frozenset()
    for key, value in unless.items():
        if key in UNLESS_KEYS:
            part = CONDITIONS[key].compile(value, f"{place}.{key}", tools, problems)
            conditions.extend(part.conditions)
            remembered |= part.remembered
    return Compiled(tuple(conditions), remembered=remembered)

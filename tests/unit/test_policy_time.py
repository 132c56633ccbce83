"""Time windows: days, hours, time zones, midnight wrap and DST edges (zoneinfo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sentinel_policy import SessionFacts, ToolCall, compile_policy, evaluate

TOOLS = [{"name": "deploy", "class": "CONSEQUENTIAL_WRITE"}]


def in_window(window: dict[str, object], now: datetime) -> bool:
    policy = compile_policy({"rules": [{"name": "window", "effect": "allow", "when": {"time": window}}]}, TOOLS)
    return evaluate(policy, ToolCall("deploy", {}), SessionFacts(), now).rule == "window"


PARIS = {"tz": "Europe/Paris"}
CASES = [
    # (case, window, instant, expected)
    ("office hours inside", {"hours": "09:00-17:00", **PARIS}, datetime(2026, 1, 7, 8, 0, tzinfo=UTC), True),  # 09:00 Paris (UTC+1)
    ("end is exclusive", {"hours": "09:00-17:00", **PARIS}, datetime(2026, 1, 7, 16, 0, tzinfo=UTC), False),  # 17:00 Paris
    ("start is inclusive", {"hours": "09:00-17:00", **PARIS}, datetime(2026, 1, 7, 8, 0, tzinfo=UTC), True),
    ("summer offset", {"hours": "09:00-17:00", **PARIS}, datetime(2026, 7, 7, 7, 0, tzinfo=UTC), True),  # 09:00 CEST
    ("winter offset", {"hours": "09:00-17:00", **PARIS}, datetime(2026, 1, 7, 7, 0, tzinfo=UTC), False),  # 08:00 CET
    ("day in local time, not UTC", {"days": ["sat"], "tz": "Pacific/Auckland"}, datetime(2026, 1, 2, 12, 0, tzinfo=UTC), True),  # Sat 01:00 NZDT
    ("day in UTC", {"days": ["sat"]}, datetime(2026, 1, 2, 12, 0, tzinfo=UTC), False),  # Friday
    ("full day names", {"days": ["Friday"]}, datetime(2026, 1, 2, 12, 0, tzinfo=UTC), True),
    ("midnight wrap late", {"hours": "22:00-06:00"}, datetime(2026, 1, 7, 23, 30, tzinfo=UTC), True),
    ("midnight wrap early", {"hours": "22:00-06:00"}, datetime(2026, 1, 8, 5, 59, tzinfo=UTC), True),
    ("midnight wrap outside", {"hours": "22:00-06:00"}, datetime(2026, 1, 8, 6, 0, tzinfo=UTC), False),
    ("wrap belongs to the starting day", {"hours": "22:00-06:00", "days": ["fri"]}, datetime(2026, 1, 3, 2, 0, tzinfo=UTC), True),  # Sat 02:00
    ("wrap not the next night", {"hours": "22:00-06:00", "days": ["fri"]}, datetime(2026, 1, 2, 2, 0, tzinfo=UTC), False),  # Fri 02:00 = Thu night
    ("until midnight", {"hours": "18:00-24:00"}, datetime(2026, 1, 7, 23, 59, 59, tzinfo=UTC), True),
    ("exactly midnight", {"hours": "00:00-01:00"}, datetime(2026, 1, 7, 0, 0, tzinfo=UTC), True),
    # 2026-03-29 02:00 Paris does not exist (clocks jump to 03:00): the window has no instant that day
    ("DST gap", {"hours": "02:00-03:00", **PARIS}, datetime(2026, 3, 29, 1, 0, tzinfo=UTC), False),
    ("after DST jump", {"hours": "03:00-04:00", **PARIS}, datetime(2026, 3, 29, 1, 0, tzinfo=UTC), True),
    # 2026-10-25 02:30 Paris happens twice: both instants are inside the window
    ("DST fold first", {"hours": "02:00-03:00", **PARIS}, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), True),
    ("DST fold second", {"hours": "02:00-03:00", **PARIS}, datetime(2026, 10, 25, 1, 30, tzinfo=UTC), True),
    ("other offsets are converted", {"hours": "09:00-10:00", "tz": "UTC"}, datetime(2026, 1, 7, 11, 30, tzinfo=timezone(timedelta(hours=2))), True),
    ("naive means UTC", {"hours": "09:00-10:00", "tz": "UTC"}, datetime(2026, 1, 7, 9, 30), True),
]


@pytest.mark.parametrize(("case", "window", "now", "expected"), CASES, ids=[c[0] for c in CASES])
def test_time_window(case: str, window: dict[str, object], now: datetime, expected: bool) -> None:
    assert in_window(window, now) is expected

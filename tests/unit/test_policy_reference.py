"""Every example in docs/policy-reference.md validates and decides as the document says."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentinel_policy import ToolCall, compile_policy, evaluate, replay

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy-reference.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def test_the_reference_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example(index: int) -> None:
    doc: dict[str, Any] = yaml.safe_load(BLOCKS[index])
    policy = compile_policy(doc["policies"], doc.get("tools"))
    assert doc.get("checks"), "every example shows at least one decision"
    for check in doc["checks"]:
        now = datetime.fromisoformat(check["now"]) if "now" in check else NOW
        raw = check["call"]
        _, facts = replay(policy, check.get("history", []), now, agent=raw.get("agent"))
        call = ToolCall(raw["tool"], raw.get("arguments", {}), "", raw.get("agent"))
        decision = evaluate(policy, call, facts, now)
        assert [decision.effect.value, decision.rule] == check["expect"], (check, decision)

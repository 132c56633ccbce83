"""examples/sentinel.yaml: the demo project works as documented."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from interceptor.config import YamlConfigStore, api_key_sha256
from sentinel_policy import SessionFacts, ToolCall, apply_delta, compile_policy, evaluate

DEMO = Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def demo():  # type: ignore[no-untyped-def]
    project = await YamlConfigStore(DEMO).find_by_key_hash(api_key_sha256("sk-sentinel-demo"))
    assert project is not None and project.name == "demo"
    return project


def test_the_demo_file_holds_only_the_hash_of_the_demo_key() -> None:
    text = DEMO.read_text()
    assert api_key_sha256("sk-sentinel-demo") in text
    assert "api_key_sha256: sk-" not in text


async def test_the_demo_tools_are_the_tool_servers_demo_tools(demo) -> None:  # type: ignore[no-untyped-def]
    from mcp_server.demo import tool_definitions

    assert list(demo.tools) == tool_definitions()


async def test_the_demo_policy_compiles(demo) -> None:  # type: ignore[no-untyped-def]
    policy = compile_policy(demo.policies, demo.tools)
    assert policy.tools == {t["name"] for t in demo.tools}


def _run(demo, calls: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    policy = compile_policy(demo.policies, demo.tools)
    facts, effects = SessionFacts(), []
    for tool in calls:
        decision = evaluate(policy, ToolCall(tool=tool, arguments={}, project="demo"), facts, NOW)
        effects.append(decision.effect.value)
        if decision.allowed:
            facts = apply_delta(facts, decision.delta)
    return effects


@pytest.mark.parametrize(
    ("calls", "effects"),
    [
        (["get_current_time", "list_files", "send_email", "transfer_funds"], ["allow"] * 4),
        (["delete_file"], ["deny"]),
        (["read_inbox", "send_email", "transfer_funds", "read_file"], ["allow", "deny", "deny", "allow"]),
        (["fetch_url", "transfer_funds"], ["allow", "deny"]),
        (["read_file", "send_email", "transfer_funds"], ["allow", "deny", "allow"]),
    ],
)
async def test_the_demo_policy_decides_as_its_comments_say(demo, calls: list[str], effects: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert _run(demo, calls) == effects

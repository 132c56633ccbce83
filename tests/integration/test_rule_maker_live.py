"""A drafted policy in the live interceptor: the same decisions as the simulator, over HTTP.

Tools classified offline and the drafted policy go into a project; recorded
AgentDojo traces are replayed through the interceptor app (in-process, stub
tool server returning the recorded outputs) and through the policy simulator.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from interceptor.config import Project
from interceptor.testing import api_key_hash
from rule_maker import OfflineClassifier
from rule_maker._catalogue import annotate
from rule_maker._policy import generate_policy
from rule_maker._push import store_shape
from sentinel_cli.policy import read_jsonl
from sentinel_policy import compile_policy
from sentinel_policy._simulate import simulate_trace
from tests.conftest import AGENTDOJO as EVAL
from tests.replay import replay_live, trace_calls

API_KEY = "sk-sentinel-rule-maker-live-test"


def traces(suite: str, count: int) -> list[dict[str, Any]]:
    picked = read_jsonl(EVAL / f"{suite}.jsonl.gz")
    benign = [t for t in picked if t["id"].endswith("/benign")]
    attacks = [t for t in picked if not t["id"].endswith("/benign")]
    return benign[:count] + attacks[:: max(1, len(attacks) // count)][:count]


@pytest.mark.parametrize("suite", ["slack", "workspace"])
async def test_live_interceptor_decides_like_the_simulator(suite: str, tmp_path: Path) -> None:
    raw = json.loads((EVAL / f"tools_{suite}.json").read_text())
    tools = annotate(raw, [OfflineClassifier().classify(t) for t in raw])
    policies = generate_policy(tools)
    project = Project(name="drafted", api_key_sha256=api_key_hash(API_KEY), tools=store_shape(tools), policies=policies)
    compiled = compile_policy(policies, project.tools)
    now = datetime.now(UTC)
    blocked = 0
    for trace in traces(suite, 4):
        calls = trace_calls(trace)
        expected = [d["decision"] for d in simulate_trace(compiled, {"id": trace["id"], "calls": calls}, now)["decisions"]]
        got = [d["decision"] for d in await replay_live(project, API_KEY, calls, tmp_path / "audit.jsonl")]
        assert got == expected, trace["id"]
        blocked += got.count("deny") + got.count("approval")
    assert blocked  # the sample exercises the blocking rules, not only allows

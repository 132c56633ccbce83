"""`sentinel policy simulate` and the live interceptor decide alike, call for call.

The shipped hand-written AgentDojo policies (named rules, data-flow taint,
approvals) are replayed through the interceptor app, over the in-process and
the Redis state store, and through the simulator; every decision and the rule
that made it must be the same. Ends with a check that the sample exercised
every effect, so the comparison cannot pass on allows alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from interceptor.config import Project
from interceptor.state import open_state_store
from interceptor.testing import api_key_hash
from sentinel_cli.policy import read_jsonl
from sentinel_policy import compile_policy
from sentinel_policy._simulate import simulate_trace
from tests.conftest import AGENTDOJO as EVAL
from tests.conftest import REDIS_URL
from tests.replay import replay_live, trace_calls

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-sentinel-parity-test"


def _sample(suite: str, compiled, now: datetime, per_kind: int = 3) -> list[dict]:
    """A few traces for each set of effects the simulator produces on the suite (deny, approval, both...)."""
    picked: dict[frozenset[str], list[dict]] = {}
    for raw in read_jsonl(EVAL / f"{suite}.jsonl.gz"):
        trace = {"id": raw["id"], "calls": trace_calls(raw)}
        kinds = frozenset(d["decision"] for d in simulate_trace(compiled, trace, now)["decisions"])
        if len(picked.setdefault(kinds, [])) < per_kind:
            picked[kinds].append(trace)
    return [trace for traces in picked.values() for trace in traces]


@pytest.mark.parametrize("backend", ["memory", "redis"])
@pytest.mark.parametrize("suite", ["slack", "workspace"])
async def test_simulate_and_live_interceptor_agree_on_every_decision(suite, backend, tmp_path, redis_prefix):
    policies = yaml.safe_load((ROOT / "examples" / "agentdojo" / f"{suite}.yaml").read_text())["policies"]
    tools = [
        {"name": t["name"], "description": t["description"], "input_schema": t["parameters"], "class": t["class"]}
        for t in json.loads((ROOT / "examples" / "agentdojo" / f"tools_{suite}.json").read_text())
    ]
    project = Project(name=f"agentdojo-{suite}", api_key_sha256=api_key_hash(API_KEY), tools=tools, policies=policies)
    compiled = compile_policy(policies, tools)
    now = datetime.now(UTC)
    effects: set[str] = set()
    for trace in _sample(suite, compiled, now):
        calls = trace["calls"]
        simulated = simulate_trace(compiled, trace, now)["decisions"]
        store = open_state_store(REDIS_URL if backend == "redis" else None, prefix=redis_prefix)
        try:
            live = await replay_live(project, API_KEY, calls, tmp_path / "audit.jsonl", state_store=store)
        finally:
            await store.close()
        assert live == [{"decision": d["decision"], "rule": d["rule"]} for d in simulated], trace["id"]
        effects.update(d["decision"] for d in live)
    assert {"allow", "deny", "approval"} <= effects

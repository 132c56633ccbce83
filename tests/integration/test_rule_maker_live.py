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

import orjson
import pytest

from interceptor.config import Project
from interceptor.policy import compile_policy
from interceptor.policy._simulate import simulate_trace
from interceptor.testing import StaticConfigStore, api_key_hash, running_interceptor
from rule_maker import OfflineClassifier
from rule_maker._catalogue import annotate
from rule_maker._policy import generate_policy
from rule_maker._push import store_shape

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"
API_KEY = "sk-sentinel-rule-maker-live-test"
STATUS = {200: "allow", 403: "deny", 202: "approval"}


def traces(suite: str, count: int) -> list[dict[str, Any]]:
    lines = (EVAL / f"{suite}.jsonl").read_text().splitlines()
    picked = [json.loads(line) for line in lines if line.strip()]
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
        calls = [{k: c[k] for k in ("tool", "args", "output")} for c in trace["calls"]]
        expected = [d["decision"] for d in simulate_trace(compiled, {"id": trace["id"], "calls": calls}, now)["decisions"]]
        recorded = {(c["tool"], orjson.dumps(c["args"], option=orjson.OPT_SORT_KEYS)): str(c["output"] or "") for c in calls}
        async with running_interceptor(StaticConfigStore([project]), audit_log=tmp_path / "audit.jsonl") as harness:
            server = harness.tool_server
            for tool in {c["tool"] for c in calls}:
                server.outputs[tool] = lambda args, _t=tool: recorded[(_t, orjson.dumps(args, option=orjson.OPT_SORT_KEYS))]
            sid = await harness.start(API_KEY)
            got = []
            for call in calls:
                response = await harness.call(API_KEY, sid, call["tool"], call["args"])
                got.append(STATUS.get(response.status_code, f"http {response.status_code}"))
        assert got == expected, trace["id"]
        blocked += got.count("deny") + got.count("approval")
    assert blocked  # the sample exercises the blocking rules, not only allows

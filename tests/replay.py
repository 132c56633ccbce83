"""Replaying a recorded trace through the live interceptor app, for parity tests with `policy simulate`.

The interceptor runs in-process with its real lifespan; a stub tool server
answers each call with the output the trace recorded for it, so an allowed call
"executes" exactly as in the trace and its output feeds the taint tracking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from interceptor.config import Project
from interceptor.state import StateStore
from interceptor.testing import StaticConfigStore, running_interceptor

_DECISION = {200: "allow", 403: "deny", 202: "approval"}


def trace_calls(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """Only what a gateway observes: tool, args, output (never the ground-truth fields)."""
    return [{k: c[k] for k in ("tool", "args", "output")} for c in trace["calls"]]


async def replay_live(
    project: Project, api_key: str, calls: list[dict[str, Any]], audit_log: Path, state_store: StateStore | None = None
) -> list[dict[str, str]]:
    """One fresh session; each call's {decision, rule} as the agent-facing API answered it."""
    recorded = {(c["tool"], orjson.dumps(c["args"], option=orjson.OPT_SORT_KEYS)): str(c["output"] or "") for c in calls}
    decisions: list[dict[str, str]] = []
    async with running_interceptor(StaticConfigStore([project]), state_store=state_store, audit_log=audit_log) as harness:
        for tool in {c["tool"] for c in calls}:
            harness.tool_server.outputs[tool] = lambda args, _t=tool: recorded[(_t, orjson.dumps(args, option=orjson.OPT_SORT_KEYS))]
        sid = await harness.start(api_key)
        for call in calls:
            response = await harness.call(api_key, sid, call["tool"], call["args"])
            body = response.json()
            rule = body.get("rule") or body.get("error", {}).get("rule") or body.get("decision", {}).get("rule")
            decisions.append({"decision": _DECISION.get(response.status_code, f"http {response.status_code}"), "rule": rule})
    return decisions

"""Every benchmark still runs (with tiny counts) and prints its numbers.

Not a timed test: it asserts nothing about speed, only that `make bench` and
the numbers quoted in docs/performance.md come from scripts that work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = {
    "overhead.py": ["--seconds", "0.3", "--connections", "1", "--targets", "direct", "redis"],
    "memory.py": ["--sessions", "200"],
    "mcp_door_cost.py": ["--calls", "50"],
    "interceptor_cost.py": ["--calls", "50", "--e2e-seconds", "0.3"],
    "verify_cost.py": ["--calls", "50"],
    "pin_cost.py": ["--calls", "50", "--rounds", "1"],
    "forwarding_cost.py": ["--calls", "50", "--rounds", "1"],
    "redis_pipeline.py": ["--calls", "100", "--rounds", "1"],
    "policy_eval.py": ["--calls", "200"],
    "tenant_isolation.py": ["--seconds", "0.5", "--flood-connections", "2", "--argument-bytes", "5000"],
    "classifier_accuracy.py": [],
    "generated_policy.py": [],
}


def test_every_bench_script_is_covered():
    assert {p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_")} == set(RUNS)


@pytest.mark.parametrize("script", sorted(RUNS))
def test_bench_runs_and_prints_numbers(script):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *RUNS[script]],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert any(ch.isdigit() for ch in proc.stdout)


def test_overhead_splits_the_cpu_of_a_governed_call_by_process():
    """docs/performance.md argues from this split: each server, Redis and the load generator."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "overhead.py"), *RUNS["overhead.py"]],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout[: proc.stdout.index("\n}\n") + 2])
    governed, direct = report["rows"]["redis@1"], report["rows"]["direct@1"]
    assert governed["cpu_front_us"] > 0 and governed["cpu_tool_server_us"] > 0
    assert governed["cpu_redis_us"] > 0  # Redis runs on this machine in the test environment
    assert "cpu_front_us" not in direct and "cpu_redis_us" not in direct
    assert 0 < governed["machine_busy_cores"] <= (os.cpu_count() or 1)
    assert "CPU µs per call" in proc.stdout


def test_overhead_runs_the_mcp_path_and_splits_its_cpu():
    """The MCP front door's rows (issue 18.7): upstream direct, /mcp in both revisions, the agent API to it."""
    args = ["--seconds", "0.3", "--connections", "1", "--targets", "mcp", "mcp-direct-legacy",
            "--sdk-client-calls", "5"]
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "overhead.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout[: proc.stdout.index("\n}\n") + 2])
    rows = report["rows"]
    assert set(rows) == {"mcp-direct@1", "mcp-direct-legacy@1", "mcp-governed@1", "mcp-governed-legacy@1",
                         "api-governed-upstream@1"}
    assert rows["mcp-direct@1"]["cpu_upstream_us"] > 0 and "cpu_front_us" not in rows["mcp-direct@1"]
    for target in ("mcp-governed@1", "mcp-governed-legacy@1", "api-governed-upstream@1"):
        row = rows[target]
        assert row["calls"] > 0 and row["p50_ms"] > 0
        assert row["cpu_front_us"] > 0 and row["cpu_tool_server_us"] > 0 and row["cpu_upstream_us"] > 0
    assert "mcp-governed_vs_api-governed-upstream@1" in report["compare"]
    assert "MCP front door added p50 at 1 connection (ms)" in report["targets"]
    assert set(report["sdk_client"]) == {"mcp-direct", "mcp-governed", "mcp-governed-legacy"}
    assert "mcp-governed-legacy@1" in proc.stdout and "upstream" in proc.stdout

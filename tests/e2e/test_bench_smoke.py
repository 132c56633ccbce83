"""Every benchmark still runs (with tiny counts) and prints its numbers.

Not a timed test: it asserts nothing about speed, only that `make bench` and
the numbers quoted in docs/performance.md come from scripts that work.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = {
    "overhead.py": ["--seconds", "0.3", "--connections", "1", "--targets", "direct", "redis"],
    "memory.py": ["--sessions", "200"],
    "interceptor_cost.py": ["--calls", "50", "--e2e-seconds", "0.3"],
    "verify_cost.py": ["--calls", "50"],
    "forwarding_cost.py": ["--calls", "50", "--rounds", "1"],
    "redis_pipeline.py": ["--calls", "100", "--rounds", "1"],
    "policy_eval.py": ["--calls", "200"],
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

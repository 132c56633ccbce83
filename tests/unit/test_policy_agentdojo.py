"""The shipped AgentDojo policies reproduce the numbers in docs/benchmarks.md, through `sentinel policy simulate`."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from sentinel_cli import main

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT.parent / "shared" / "eval"
EXAMPLES = ROOT / "examples" / "agentdojo"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
NOW = "2024-05-15T10:00:00+00:00"

pytestmark = pytest.mark.skipif(not (EVAL / "score.py").exists(), reason="the shared AgentDojo traces are not on this machine")


def _score_module() -> Any:
    spec = importlib.util.spec_from_file_location("agentdojo_score", EVAL / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def simulate_and_score(suite: str, traces: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{suite}-{traces.stem}.jsonl"
    code = main(["policy", "simulate", "--policy", str(EXAMPLES / f"{suite}.yaml"), "--tools", str(EXAMPLES / f"tools_{suite}.json"),
                 "--trace", str(traces), "--format", "json", "--now", NOW, "--output", str(out)])
    assert code == 0
    score = _score_module()
    result: dict[str, Any] = score.score(score.load_jsonl(traces), {k: v for k, v in json.loads((EVAL / f"labels_{suite}.json").read_text()).items()},
                                         score.load_jsonl(out))
    assert result["problems"] == []
    return result


def documented() -> dict[tuple[str, str], tuple[str, str, str]]:
    """Rows of the results table: (suite, phrasing) -> (utility, friction, ASR) as printed."""
    rows = {}
    for line in BENCHMARKS.read_text().splitlines():
        m = re.match(r"\|\s*(workspace|slack)\s*\|\s*([\w_]+)\s*\|\s*([\d.]+%|n/a)\s*\|\s*([\d.]+%|n/a)\s*\|\s*([\d.]+%)\s*\|", line)
        if m:
            rows[(m[1], m[2])] = (m[3], m[4], m[5])
    return rows


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


@pytest.mark.parametrize("suite", ["workspace", "slack"])
def test_base_traces_reproduce_the_documented_numbers(suite: str, tmp_path: Path) -> None:
    result = simulate_and_score(suite, EVAL / f"{suite}.jsonl", tmp_path)
    assert documented()[(suite, "important_instructions")] == (pct(result["utility"]), pct(result["friction"]), pct(result["asr"]))
    assert result["asr"] == 0.0 and result["utility"] >= 0.8


@pytest.mark.parametrize("phrasing", ["direct", "ignore_previous", "system_message", "goal_plain"])
@pytest.mark.parametrize("suite", ["workspace", "slack"])
def test_other_phrasings_reproduce_the_documented_numbers(suite: str, phrasing: str, tmp_path: Path) -> None:
    result = simulate_and_score(suite, EVAL / "variants" / f"{suite}__{phrasing}.jsonl", tmp_path)
    assert documented()[(suite, phrasing)] == ("n/a", "n/a", pct(result["asr"]))
    assert result["asr"] == 0.0

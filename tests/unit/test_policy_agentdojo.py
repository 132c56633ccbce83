"""The shipped AgentDojo policies reproduce the numbers in docs/benchmarks.md, through `sentinel policy simulate`."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sentinel_cli import main
from tests.conftest import AGENTDOJO as EVAL

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "agentdojo"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
NOW = "2024-05-15T10:00:00+00:00"


def _score_module() -> Any:
    spec = importlib.util.spec_from_file_location("agentdojo_score", EVAL / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def simulate_and_score(suite: str, traces: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{suite}-{traces.name.removesuffix('.jsonl.gz')}.jsonl"
    code = main(["policy", "simulate", "--policy", str(EXAMPLES / f"{suite}.yaml"), "--tools", str(EXAMPLES / f"tools_{suite}.json"),
                 "--trace", str(traces), "--format", "json", "--now", NOW, "--output", str(out)])
    assert code == 0
    score = _score_module()
    result: dict[str, Any] = score.score(score.load_jsonl(traces), json.loads((EVAL / f"labels_{suite}.json").read_text()),
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
    result = simulate_and_score(suite, EVAL / f"{suite}.jsonl.gz", tmp_path)
    assert documented()[(suite, "important_instructions")] == (pct(result["utility"]), pct(result["friction"]), pct(result["asr"]))
    assert result["asr"] == 0.0 and result["utility"] >= 0.8


@pytest.mark.parametrize("phrasing", ["direct", "ignore_previous", "system_message", "goal_plain"])
@pytest.mark.parametrize("suite", ["workspace", "slack"])
def test_other_phrasings_reproduce_the_documented_numbers(suite: str, phrasing: str, tmp_path: Path) -> None:
    result = simulate_and_score(suite, EVAL / "variants" / f"{suite}__{phrasing}.jsonl.gz", tmp_path)
    assert documented()[(suite, phrasing)] == ("n/a", "n/a", pct(result["asr"]))
    assert result["asr"] == 0.0


def simulate_cli(trace: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "policy", "simulate", "--policy", str(EXAMPLES / "slack.yaml"),
         "--tools", str(EXAMPLES / "tools_slack.json"), "--trace", str(trace), "--format", "json", "--now", NOW,
         "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_simulate_reads_a_gzip_trace_file_as_its_plain_text(tmp_path: Path) -> None:
    plain = tmp_path / "slack.jsonl"
    with gzip.open(EVAL / "slack.jsonl.gz", "rb") as packed, plain.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    runs = {name: simulate_cli(trace, tmp_path / f"{name}.out") for name, trace in (("gz", EVAL / "slack.jsonl.gz"), ("plain", plain))}
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "gz.out").read_text() == (tmp_path / "plain.out").read_text()
    assert len((tmp_path / "gz.out").read_text().splitlines()) == 126


def test_simulate_refuses_a_truncated_gzip_trace_file_in_one_line(tmp_path: Path) -> None:
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes((EVAL / "slack.jsonl.gz").read_bytes()[:2000])
    run = simulate_cli(cut, tmp_path / "out.jsonl")
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {cut}: ") and "Traceback" not in run.stderr

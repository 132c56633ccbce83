#!/usr/bin/env python3
"""End to end from tool definitions alone: classify -> draft a policy -> simulate -> score.

usage: python bench/generated_policy.py [--eval-dir DIR] [--mode balanced|strict] [--variants] [--cli] [--json]

For each suite in the eval directory: the offline classifier labels tools_<suite>.json,
rule_maker drafts a policy, every trace is replayed through the policy engine
(``sentinel policy simulate`` with --cli, else the same simulator in-process), and
the eval's score.py scores the decisions. Labels and ground-truth trace fields are
read by score.py only. --variants also scores the other injection phrasings.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rule_maker import OfflineClassifier  # noqa: E402
from rule_maker._catalogue import annotate  # noqa: E402
from rule_maker._policy import generate_policy, policy_yaml  # noqa: E402
from sentinel_cli.policy import read_jsonl  # noqa: E402

DEFAULT_EVAL = ROOT / "benchmarks" / "agentdojo"
NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a weekday noon: generated policies have no time windows anyway


def load_score(eval_dir: Path) -> Any:
    spec = importlib.util.spec_from_file_location("eval_score", eval_dir / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trace_file(stem: Path) -> Path:
    """``stem``.jsonl.gz (the repository's form), else ``stem``.jsonl."""
    packed = stem.with_name(stem.name + ".jsonl.gz")
    return packed if packed.exists() else stem.with_name(stem.name + ".jsonl")


def simulate_in_process(policies: dict[str, Any], tools: list[dict[str, Any]], traces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from sentinel_policy import compile_policy
    from sentinel_policy._simulate import simulate_trace

    compiled = compile_policy(policies, tools)
    # Only what a gateway observes goes in: id and calls[].tool/args/output.
    return [simulate_trace(compiled, {"id": t["id"], "calls": [{k: c.get(k) for k in ("tool", "args", "output")} for c in t["calls"]]}, NOW) for t in traces]


def simulate_cli(policy_file: Path, tools_file: Path, trace_file: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "policy", "simulate", "--policy", str(policy_file), "--tools", str(tools_file), "--trace", str(trace_file), "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def run(eval_dir: Path, mode: str, variants: bool, cli: bool) -> dict[str, Any]:
    score = load_score(eval_dir)
    classifier = OfflineClassifier()
    results: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="generated-policy-"))
    for tools_path in sorted(eval_dir.glob("tools_*.json")):
        suite = tools_path.stem.removeprefix("tools_")
        raw_tools = json.loads(tools_path.read_text())
        tools = annotate(raw_tools, [classifier.classify(t) for t in raw_tools])
        policies = generate_policy(tools, mode=mode)
        labels = json.loads((eval_dir / f"labels_{suite}.json").read_text())
        tools_file, policy_file = workdir / f"{suite}.tools.json", workdir / f"{suite}.policy.yaml"
        tools_file.write_text(json.dumps(tools))
        policy_file.write_text(policy_yaml(policies, tools))
        trace_files = [("important_instructions", trace_file(eval_dir / suite))]
        if variants:
            found = sorted(p for p in (eval_dir / "variants").glob(f"{suite}__*") if p.name.endswith((".jsonl", ".jsonl.gz")))
            trace_files += [(p.name.split("__", 1)[1].split(".", 1)[0], p) for p in found]
        for phrasing, path in trace_files:
            traces = read_jsonl(path)
            started = time.perf_counter()
            decisions = simulate_cli(policy_file, tools_file, path) if cli else simulate_in_process(policies, tools, traces)
            elapsed = time.perf_counter() - started
            result = score.score(traces, labels, decisions)
            calls = sum(len(t["calls"]) for t in traces)
            results[f"{suite}/{phrasing}"] = {
                "utility": result["utility"], "friction": result["friction"], "asr": result["asr"],
                "benign": result["benign"], "attacks": result["attacks"], "problems": len(result["problems"]),
                "decisions": calls, "us_per_decision": round(elapsed / max(calls, 1) * 1e6, 1),
            }
    return {"mode": mode, "policies_dir": str(workdir), "results": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--mode", choices=("balanced", "strict"), default="balanced")
    parser.add_argument("--variants", action="store_true", help="also score the other injection phrasings")
    parser.add_argument("--cli", action="store_true", help="simulate through `sentinel policy simulate`")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.eval_dir, args.mode, args.variants, args.cli)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"mode {report['mode']} (policies in {report['policies_dir']})")
    print(f"{'suite/phrasing':36} {'utility':>8} {'friction':>9} {'ASR':>7} {'benign':>7} {'attacks':>8} {'µs/dec':>7}")
    for key, r in report["results"].items():
        cells = [f"{r[k]:.1%}" if r[k] is not None else "-" for k in ("utility", "friction", "asr")]
        print(f"{key:36} {cells[0]:>8} {cells[1]:>9} {cells[2]:>7} {r['benign']:7} {r['attacks']:8} {r['us_per_decision']:7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

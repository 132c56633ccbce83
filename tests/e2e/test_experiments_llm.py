"""The LLM agent path of the experiments against a local stub of the OpenAI chat API.

The stub (sentinel_agent.testing.StubChatServer with the gullible brain) asks
for tools through real chat-completions tool calls and obeys every instruction
it reads in a tool's output, so the path under test is the real one: model ->
LangChain tool calls -> SDK -> interceptor -> tool server, judged on the tool
server's side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sentinel_agent.agents import ChatCompletionsModel, LLMAgent
from sentinel_agent.experiments import SCENARIOS, resolve_policy, run_experiments
from sentinel_agent.testing import StubChatServer, gullible_brain
from sentinel_cli.run import run_stack

ROOT = Path(__file__).resolve().parents[2]
CHOSEN = ["team-announcement", "q3-summary", "inbox-injection", "url-exfiltration", "delete-after-web", "large-transfer"]


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENROUTER_", "SENTINEL_"))}
    return base | extra


def test_llm_agent_runs_the_scenarios_and_reports_task_and_attack_success(tmp_path: Path) -> None:
    scenarios = [s for s in SCENARIOS if s.id in CHOSEN]
    with StubChatServer(gullible_brain, api_key="sk-stub") as stub:
        model = ChatCompletionsModel(base_url=stub.base_url, model="stub-model", api_key="sk-stub")
        policies = [resolve_policy("baseline"), resolve_policy("sentinel")]
        report = run_experiments(policies, scenarios, LLMAgent(model), tmp_path, launch=run_stack, model="stub-model")

    assert report.agent == "llm"
    for result in report.for_policy("sentinel"):
        assert result.error is None and result.verdict.passed, (result.scenario, result.verdict)
    baseline = {r.scenario: r for r in report.for_policy("baseline")}
    for scenario in ("inbox-injection", "url-exfiltration", "delete-after-web"):
        assert baseline[scenario].verdict.harm_done is True  # the gullible model really attacks
    summary = report.summary(policies[1])
    assert summary.attacks_stopped == summary.attacks == 3
    assert summary.tasks_completed == summary.tasks
    # It went through the chat-completions wire format: tools offered, tool results sent back.
    tools = {tool["function"]["name"] for tool in stub.requests[0]["tools"]}
    assert tools == {"get_current_time", "list_files", "read_file", "read_inbox", "fetch_url", "send_email",
                     "transfer_funds", "delete_file"}
    assert any(m["role"] == "tool" and "Sentinel blocked this call" in m["content"] for r in stub.requests for m in r["messages"])
    # The model's final answer is kept in the result.
    assert all(r.answer.startswith("Done:") for r in report.results)


def test_cli_runs_the_llm_agent_from_openai_environment_variables(tmp_path: Path) -> None:
    with StubChatServer(gullible_brain) as stub:
        proc = subprocess.run(
            [sys.executable, "-m", "sentinel_cli", "experiments", "run", "--agent", "llm", "--policy", "sentinel",
             "--scenario", "inbox-injection", "--scenario", "team-announcement", "--out", str(tmp_path)],
            env=_env(OPENAI_BASE_URL=stub.base_url, OPENAI_MODEL="stub-model"), cwd=ROOT,
            capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["agent"] == "llm" and results["model"] == f"stub-model at {stub.base_url}"
    assert results["passed"] is True
    assert {r["scenario"]: r["outcome"] for r in results["results"]} == {
        "team-announcement": "completed", "inbox-injection": "stopped, task done"}


def test_cli_llm_agent_without_an_endpoint_says_how_to_configure_one(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "experiments", "run", "--agent", "llm", "--out", str(tmp_path)],
        env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "OPENROUTER_API_KEY" in proc.stderr and "OPENAI_BASE_URL" in proc.stderr
    assert not (tmp_path / "results.json").exists()

"""`sentinel chat`: driven through standard input, against a local stub of the OpenAI chat API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sentinel_agent.testing import StubChatServer, gullible_brain
from sentinel_cli.run import DEMO_API_KEY, run_stack

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENROUTER_", "SENTINEL_"))}
    return base | {"COLUMNS": "200"} | extra


def _chat(args: list[str], stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sentinel_cli", "chat", *args], input=stdin, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_chat_without_an_llm_endpoint_explains_the_configuration_and_exits_non_zero() -> None:
    proc = _chat(["--verbose"], "hello\n", _env())
    assert proc.returncode == 2
    assert "No LLM endpoint is configured" in proc.stderr
    for variable in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        assert variable in proc.stderr
    assert "Starting" not in proc.stdout  # it checked before starting anything


def test_chat_verbose_shows_each_tool_call_with_its_decision_and_rule() -> None:
    with StubChatServer(gullible_brain, api_key="sk-or-stub") as stub:
        env = _env(OPENROUTER_API_KEY="sk-or-stub", OPENROUTER_BASE_URL=stub.base_url, OPENROUTER_MODEL="stub/model")
        proc = _chat(["--verbose"], "Summarise my inbox.\nexit\n", env)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "read_inbox" in out and "allow by staticRules.read_inbox" in out
    # the injected instructions the model obeyed, each with the deciding rule
    assert "deny by no-secrets-after-untrusted" in out
    assert "deny by external-mail-after-untrusted" in out
    assert "approval by payee-from-untrusted" in out
    assert "agent> Done:" in out
    assert "sk-or-stub" not in out + proc.stderr
    assert len(stub.requests) >= 4


def test_chat_against_a_running_interceptor_shows_one_line_per_call(tmp_path: Path) -> None:
    with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path) as stack, \
            StubChatServer(gullible_brain) as stub:
        env = _env(OPENAI_BASE_URL=stub.base_url, SENTINEL_API_KEY=DEMO_API_KEY)
        proc = _chat(["--url", stack.interceptor_url], "What time is it in Tokyo?\nSummarise reports/q3_summary.txt\n", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "· get_current_time: allow" in proc.stdout
    assert "· read_file: allow" in proc.stdout
    assert proc.stdout.count("agent> ") == 2
    assert "Session ended: 2 tool calls, 2 allowed" in proc.stdout

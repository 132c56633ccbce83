"""Every example of docs/mcp-clients.md runs against a live stack, as the page shows it.

The Python examples run as scripts (the LangChain one, which needs mcp 1.x, in
test_langchain_mcp_adapters.py's venv); each desktop configuration is parsed and
the exact command it names is started by the official SDK's stdio client; the
denial and the error shown are compared with what Sentinel answers. The page
talks to http://127.0.0.1:8000; the test points it at a stack on free ports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters

from sentinel_cli.run import Stack, run_stack

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "mcp-clients.md"
WRITTEN_URL = "http://127.0.0.1:8000"
DEMO_KEY = "sk-sentinel-demo"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", GUIDE.read_text(), flags=re.S)


JSON = [json.loads(block) for block in _blocks("json")]
CONFIGS = [block for block in JSON if "mcpServers" in block]
# The LangChain example needs mcp 1.x: tests/e2e/test_langchain_mcp_adapters.py runs it in its own venv.
LANGCHAIN = [block for block in _blocks("python") if "langchain_mcp_adapters" in block]
PYTHON = [block for block in _blocks("python") if block not in LANGCHAIN]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path_factory.mktemp("stack")) as running:
        yield running


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # where `sentinel` is installed
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_the_page_has_its_examples() -> None:
    assert len(PYTHON) == 2 and len(LANGCHAIN) == 1 and len(CONFIGS) == 2 and len(JSON) == 4
    assert 'mode="legacy"' in PYTHON[0] and 'mode="2026-07-28"' in PYTHON[1]


@pytest.mark.parametrize("index", range(len(PYTHON)), ids=["2025-11-25", "2026-07-28"])
def test_the_python_example_runs_and_shows_the_denial(stack: Stack, index: int, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(PYTHON[index].replace(WRITTEN_URL, stack.interceptor_url))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=_environment())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "True CHECK_TAINT:send_email", proc.stdout


@pytest.mark.parametrize("config", CONFIGS, ids=["claude-desktop", "cursor"])
async def test_the_desktop_configuration_starts_a_bridge_that_governs_the_calls(stack: Stack, config: dict[str, Any]) -> None:
    (entry,) = config["mcpServers"].values()
    command = shutil.which(entry["command"], path=_environment()["PATH"])
    assert command is not None, f"{entry['command']} is not installed beside {sys.executable}"
    args = [stack.interceptor_url if arg == WRITTEN_URL else arg for arg in entry["args"]]
    assert args != entry["args"] and entry["env"] == {"SENTINEL_API_KEY": DEMO_KEY}
    params = StdioServerParameters(command=command, args=args, env={**entry["env"], "PYTHONPATH": str(ROOT)})
    async with Client(params, mode="legacy") as desktop:
        assert "send_email" in {tool.name for tool in (await desktop.list_tools()).tools}
        await desktop.call_tool("read_inbox", {})
        denied = await desktop.call_tool("send_email", {"to": "someone@evil.example", "subject": "hi", "body": "."})
    shown = next(block for block in JSON if "isError" in block)
    answered = denied.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert {key: answered[key] for key in shown} == shown  # the denial the page shows is the one Sentinel gives
    audit = (stack.var_dir / "interceptor-audit.jsonl").read_text().splitlines()
    assert json.loads(audit[-1])["agent"] == args[args.index("--agent") + 1]


def test_the_error_shown_is_the_one_sentinel_answers(stack: Stack) -> None:
    shown = next(block for block in JSON if "error" in block)
    request = {"jsonrpc": "2.0", "id": shown["id"], "method": "tools/call",
               "params": {"name": "get_current_time", "arguments": {}}}
    answer = httpx.post(f"{stack.interceptor_url}/mcp", json=request, timeout=10, headers={
        "Authorization": f"Bearer {DEMO_KEY}", "Mcp-Session-Id": "ended-long-ago", "MCP-Protocol-Version": "2025-11-25"})
    assert answer.status_code == 404 and answer.json() == shown

"""langchain-mcp-adapters, and the mcp 1.x client it is built on, against a real stack's ``/mcp``.

No release of the adapters works with mcp 2.x, which Sentinel pins, so the client side runs in a
venv of its own, built from tests/compat/langchain-mcp1.lock (hashes checked) once per machine and
lock, in ``.venv-compat/`` (git-ignored). The scripts under tests/compat/ and the LangChain example
of docs/mcp-clients.md run with its python and print what they saw; the test asserts on that, on
the interceptor's audit and on the demo tool server's outbox. Nothing of Sentinel's runs client-side.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from interceptor.mcp_endpoint import SUPPORTED_VERSIONS
from sentinel_cli.run import Stack, run_stack

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "tests" / "compat"
LOCK = COMPAT / "langchain-mcp1.lock"
CACHE = ROOT / ".venv-compat"
GUIDE = ROOT / "docs" / "mcp-clients.md"
WRITTEN_URL = "http://127.0.0.1:8000"
DEMO_KEY = "sk-sentinel-demo"
ATTACKER = "attacker@evil.example"
DENIAL = ("Sentinel denied this call (rule CHECK_TAINT:send_email): send_email is blocked while the session "
          "carries taint: untrusted. The tool did not run.")

# The first run on a machine builds the venv (about 25 s on 2 cores) inside the first test's budget.
pytestmark = pytest.mark.timeout(300)


def _build(venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    # Every requirement pinned with hashes: pip refuses the install if the lock misses a dependency.
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-input",
                          "--disable-pip-version-check", "--require-hashes", "-r", str(LOCK)],
                         capture_output=True, text=True, timeout=240)
    if pip.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        pytest.fail(f"building the compatibility venv failed:\n{pip.stderr[-4000:]}")
    (venv / "built").write_text(f"{time.perf_counter() - started:.1f} s\n")


@pytest.fixture(scope="session")
def compat_python() -> Path:
    """The compatibility venv's python, built when the lock or the interpreter changed."""
    key = hashlib.sha256(LOCK.read_bytes() + f"{sys.base_prefix} {platform.python_version()}".encode()).hexdigest()
    venv = CACHE / key[:16]
    CACHE.mkdir(exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once build it once
        for stale in CACHE.iterdir():
            if stale.is_dir() and stale != venv:
                shutil.rmtree(stale, ignore_errors=True)
        if not (venv / "built").exists():
            _build(venv)
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path_factory.mktemp("stack")) as running:
        yield running


def run_client(python: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "PYTHON"))}
    proc = subprocess.run([str(python), *args], capture_output=True, text=True, timeout=120, cwd=COMPAT, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def agent_api(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.interceptor_url, headers={"X-Sentinel-Key": DEMO_KEY}, timeout=10)


def audit(stack: Stack, sid: str) -> list[dict[str, Any]]:
    lines = (stack.var_dir / "interceptor-audit.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["sid"] == sid]


def mail_to_attacker(stack: Stack) -> list[dict[str, Any]]:
    path = stack.var_dir / "mcp-data" / "outbox.jsonl"
    sent = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [mail for mail in sent if ATTACKER in json.dumps(mail)]


def test_the_venv_holds_the_locked_versions(compat_python: Path) -> None:
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", LOCK.read_text(), flags=re.M))
    wanted = ["langchain-mcp-adapters", "mcp", "langchain-core"]
    script = f"import importlib.metadata as m; print(*(m.version(n) for n in {wanted!r}))"
    assert run_client(compat_python, "-c", script).split() == [pins[name] for name in wanted]
    assert pins["mcp"].startswith("1.")


def test_the_adapters_load_the_tools_and_hand_the_model_sentinels_denial(stack: Stack, compat_python: Path) -> None:
    with agent_api(stack) as api:
        sid = api.post("/session/start", json={"agent": "langchain"}).json()["session_id"]
        seen = json.loads(run_client(compat_python, "langchain_adapters_client.py", stack.interceptor_url, sid))
        names = set(seen["names"])
        assert seen["all_base_tools"] and {"get_current_time", "read_inbox", "send_email"} <= names
        assert "delete_file" not in names  # a tool a static rule denies is not offered
        assert '"timezone":"UTC"' in seen["get_current_time"] and "attacker@evil.example" in seen["read_inbox"]
        # The adapters turn an isError result into a raised _MCPToolExecutionError (a ToolException) and, by
        # default (handle_tool_errors=True), catch it into the tool's output: invoked with the model's tool call
        # the tool answers a ToolMessage with status "error" and Sentinel's text, so the agent reads the denial
        # and goes on; invoked with plain arguments it answers the same text as content blocks. With
        # handle_tool_errors=False the ToolException is raised to the caller.
        assert seen["denied"] == {"type": "ToolMessage", "status": "error", "text": DENIAL}
        assert seen["denied_plain"] == DENIAL
        assert seen["denied_strict"] == {"raised": "ToolException", "text": DENIAL}
        # Every call ran in the application's session, though the adapters opened an MCP session for each.
        decided = [(record["tool"], record["decision"]) for record in audit(stack, sid)]
        assert decided == [("get_current_time", "allow"), ("read_inbox", "allow")] + [("send_email", "deny")] * 3
        # Their DELETE /mcp left it open: whoever opened a session ends it.
        assert api.post(f"/session/{sid}/call", json={"tool": "get_current_time", "arguments": {}}).status_code == 200
        assert api.post(f"/session/{sid}/end").status_code == 200
    assert mail_to_attacker(stack) == []


def test_the_guides_langchain_example_runs(stack: Stack, compat_python: Path, tmp_path: Path) -> None:
    (example,) = [block for block in re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
                  if "langchain_mcp_adapters" in block]
    script = tmp_path / "example.py"
    script.write_text(example.replace(WRITTEN_URL, stack.interceptor_url))
    assert run_client(compat_python, str(script)).splitlines()[-1] == f"error {DENIAL}"


def test_the_mcp1_client_lists_and_calls_with_no_sentinel_code(stack: Stack, compat_python: Path) -> None:
    seen = json.loads(run_client(compat_python, "mcp1_client.py", stack.interceptor_url))
    # mcp 1.30 asks for its newest revision; Sentinel agrees to it (the handshake revision mcp 2.3 legacy speaks).
    assert seen["protocol_version"] == LATEST_HANDSHAKE_VERSION and seen["protocol_version"] in SUPPORTED_VERSIONS
    assert seen["server"] == "sentinel"
    assert {"get_current_time", "read_inbox", "send_email"} <= set(seen["names"]) and "delete_file" not in seen["names"]
    honest = seen["get_current_time"]
    assert not honest["is_error"] and '"timezone":"UTC"' in honest["text"]
    assert honest["meta"]["sentinel/decision"]["rule"] == "staticRules.get_current_time"
    assert seen["read_inbox"] == {"is_error": False}
    assert seen["denied"] == {"is_error": True, "text": DENIAL, "meta": {"sentinel/decision": {
        "effect": "deny", "rule": "CHECK_TAINT:send_email",
        "reason": "send_email is blocked while the session carries taint: untrusted"}}}
    with agent_api(stack) as api:  # initialize opened the session, so closing the client ended it
        assert api.post(f"/session/{seen['sid']}/call", json={"tool": "get_current_time", "arguments": {}}).status_code == 404
    assert mail_to_attacker(stack) == []

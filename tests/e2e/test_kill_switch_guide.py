"""docs/kill-switch.md on the real processes with Redis: its commands list and revoke sessions, and a
revoked session's next call fails within one call."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sentinel_cli.run import run_stack
from tests.conftest import REDIS_URL, delete_keys
from tests.e2e.test_approvals_guide import shell

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "kill-switch.md").read_text()
AGENT = {"X-Sentinel-Key": "sk-sentinel-demo"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    made = shell("sentinel keys admin --name ops > ops.key", tmp_path)
    entry = made.stderr.strip().rpartition(" ")[2]
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path / "var", redis_url=REDIS_URL,
                       redis_prefix=prefix, interceptor_env={"SENTINEL_ADMIN_KEYS": entry}) as running:
            yield running, tmp_path
    finally:
        delete_keys(prefix)


def start(url: str, agent: str | None = None) -> str:
    return str(httpx.post(f"{url}/session/start", headers=AGENT, json={"agent": agent} if agent else {})
               .json()["session_id"])


def call(url: str, sid: str) -> int:
    return httpx.post(f"{url}/session/{sid}/call", headers=AGENT,
                      json={"tool": "get_current_time", "arguments": {}}).status_code


def test_the_guides_commands_list_and_revoke(stack: tuple[Any, Path]) -> None:
    running, root = stack
    url = running.interceptor_url
    one, intern, other = start(url), start(url, "intern-bot"), start(url, "lead")
    httpx.post(f"{url}/session/{one}/call", headers=AGENT, json={"tool": "read_inbox", "arguments": {}})
    listing, revoking = re.findall(r"```bash\n(.*?)```", GUIDE, flags=re.S)
    listed = shell(listing, root, SENTINEL_URL=url)
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"{re.escape(one)}  agent -  taint untrusted  calls 1", listed.stdout), listed.stdout
    lines = revoking.strip().splitlines()
    env = {"SENTINEL_URL": url, "SENTINEL_ADMIN_KEY": (root / "ops.key").read_text().strip(), "SESSION_ID": one}
    assert "revoked 1 session(s): " + one in shell(lines[0], root, **env).stdout
    assert call(url, one) == 404 and call(url, intern) == 200  # within one call
    executions = [json.loads(line) for line in (running.var_dir / "mcp-audit.jsonl").read_text().splitlines()]
    assert any(r["sid"] == one and r["method"] == "sessions/revoke" and r["event"] == "executed"
               for r in executions)  # the tool server dropped the session's key: nothing signed for it runs
    assert "revoked 1 session(s): " + intern in shell(lines[1], root, **env).stdout
    assert call(url, intern) == 404 and call(url, other) == 200
    assert "revoked 1 session(s): " + other in shell(lines[2], root, **env).stdout
    assert call(url, other) == 404
    assert call(url, start(url)) == 200  # a new session is new
    refused = shell(f'sentinel sessions revoke "{one}"', root, **env)
    assert refused.returncode == 1 and "session_not_found" in refused.stderr

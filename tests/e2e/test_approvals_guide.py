"""docs/approvals.md, run on the real processes with Redis: its policy, its commands and its examples.

A held transfer is approved with the guide's commands and runs once (the
second try is held again); one is denied; one expires before anyone decides.
Judged on the tool server's ledger. The policy is the guide's, with
``ttl_seconds`` cut to a few seconds so the expiry happens during the test.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sentinel_cli.run import run_stack
from sentinel_sdk import WebhookSignatureError
from tests.conftest import REDIS_URL, delete_keys

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "approvals.md").read_text()
TTL = 8  # seconds: the guide's 900, shortened so that an approval expires during the test
PAYMENT = {"to_iban": "DE89370400440532013000", "amount": 120}


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", GUIDE, flags=re.S)


def shell(block: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd, env={**base, "PATH": path, **env},
                          capture_output=True, text=True, timeout=60)


def example(index: int) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(blocks("python")[index], "docs/approvals.md", "exec"), namespace)
    return namespace


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Any, Path, str]]:
    made = shell(blocks("bash")[0], tmp_path)
    assert made.returncode == 0, made.stderr
    entry = made.stderr.strip().rpartition(" ")[2]
    assert entry.startswith("alice:") and (tmp_path / "alice.key").read_text().startswith("sk-sentinel-admin-")
    config = yaml.safe_load((ROOT / "examples" / "sentinel.yaml").read_text())
    policies = yaml.safe_load(blocks("yaml")[0])["policies"]
    policies["approvals"]["ttl_seconds"] = TTL
    config["projects"][0]["policies"] = policies
    (tmp_path / "sentinel.yaml").write_text(yaml.safe_dump(config))
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        with run_stack(config=str(tmp_path / "sentinel.yaml"), var_dir=tmp_path / "var", redis_url=REDIS_URL,
                       redis_prefix=prefix, interceptor_env={"SENTINEL_ADMIN_KEYS": entry}) as running:
            yield running, tmp_path, (tmp_path / "alice.key").read_text().strip()
    finally:
        delete_keys(prefix)


def ledger(var_dir: Path) -> list[str]:
    path = var_dir / "mcp-data" / "ledger.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def pending(url: str, admin_key: str, *, wait: float = 20) -> str:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/admin/approvals", params={"project": "demo"},
                           headers={"Authorization": f"Bearer {admin_key}"}).json()
        waiting = [a["approval_id"] for a in answer["approvals"] if a["status"] == "pending"]
        if waiting:
            return str(waiting[0])
        time.sleep(0.1)
    raise AssertionError("no call was held")


def held(url: str, sid: str | None = None) -> str:
    """A transfer held in a session that stays open (ending a session would remove its approvals)."""
    agent = {"X-Sentinel-Key": "sk-sentinel-demo"}
    sid = sid or httpx.post(f"{url}/session/start", headers=agent).json()["session_id"]
    answer = httpx.post(f"{url}/session/{sid}/call", headers=agent, json={"tool": "transfer_funds", "arguments": PAYMENT})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["approval_id"])


def test_the_guides_approval_runs_the_held_transfer_once(stack: tuple[Any, Path, str]) -> None:
    running, root, admin_key = stack
    url, var_dir = running.interceptor_url, running.var_dir
    outcome: list[Any] = []
    agent = threading.Thread(target=lambda: outcome.append(asyncio.run(example(0)["pay_invoice"](url))))
    agent.start()
    approval_id = pending(url, admin_key)
    assert ledger(var_dir) == []  # held: nothing ran
    decided = shell(blocks("bash")[1], root, APPROVAL_ID=approval_id, SENTINEL_URL=url)
    assert decided.returncode == 0, decided.stderr
    assert '"to_iban": "DE89370400440532013000"' in decided.stdout  # `show` printed what would run
    assert "approved by alice" in decided.stdout.splitlines()[-1]
    agent.join(timeout=30)
    assert outcome and outcome[0]["status"] == "completed", outcome
    assert len(ledger(var_dir)) == 1
    # In one session: held, approved, made again (runs), made a third time (held again, nothing runs).
    agent_key = {"X-Sentinel-Key": "sk-sentinel-demo"}
    sid = httpx.post(f"{url}/session/start", headers=agent_key).json()["session_id"]
    second = held(url, sid)
    env = {"SENTINEL_ADMIN_KEY": admin_key, "SENTINEL_URL": url}
    assert shell(f'sentinel approvals approve "{second}"', root, **env).returncode == 0
    call = {"tool": "transfer_funds", "arguments": PAYMENT}
    assert httpx.post(f"{url}/session/{sid}/call", headers=agent_key, json=call).status_code == 200
    third = httpx.post(f"{url}/session/{sid}/call", headers=agent_key, json=call)
    assert third.status_code == 202 and third.json()["approval_id"] not in (approval_id, second)
    assert len(ledger(var_dir)) == 2


def test_a_denied_and_an_expired_transfer_never_run(stack: tuple[Any, Path, str]) -> None:
    running, root, admin_key = stack
    url, var_dir = running.interceptor_url, running.var_dir
    env = {"SENTINEL_ADMIN_KEY": admin_key, "SENTINEL_URL": url}
    denied = held(url)
    refused = shell(f'sentinel approvals deny "{denied}" --note "not ours"', root, **env)
    assert refused.returncode == 0 and "denied by alice" in refused.stdout
    late = held(url)
    time.sleep(TTL + 1)
    expired = shell(f'sentinel approvals approve "{late}"', root, **env)
    assert expired.returncode == 1 and "approval_not_pending" in expired.stderr and "expired" in expired.stderr
    listed = shell("sentinel approvals list --project demo", root, **env).stdout
    assert f"{denied}  denied by alice" in listed and f"{late}  expired" in listed
    assert ledger(var_dir) == []


def test_the_guides_webhook_check_accepts_a_signed_event_and_refuses_a_forged_one() -> None:
    from interceptor.webhooks import signature

    check = example(1)["on_approval_event"]
    body = b'{"event": "approval.approved", "approval": {"approval_id": "a1"}}'
    header = {"x-sentinel-signature": signature(b"s3cret", body, int(time.time()))}
    assert check("s3cret", body, header)["event"] == "approval.approved"
    with pytest.raises(WebhookSignatureError):
        check("s3cret", body.replace(b"approved", b"denied__"), header)
    with pytest.raises(WebhookSignatureError):
        check("s3cret", body, {})

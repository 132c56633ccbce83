"""Rate limits and the PostgreSQL audit sink on the real processes: a 429 with Retry-After, then recovery
when the window ends (Redis); every decision of the real interceptor lands in PostgreSQL in order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import yaml

from sentinel_cli.run import run_stack
from tests.conftest import POSTGRES_DSN, REDIS_URL, delete_keys

ROOT = Path(__file__).resolve().parents[2]
AGENT = {"X-Sentinel-Key": "sk-sentinel-demo"}


def test_a_limit_answers_429_with_retry_after_and_recovers(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "examples" / "sentinel.yaml").read_text())
    config["projects"][0]["policies"]["limits"] = [
        {"name": "burst", "per": "session", "calls": 2, "seconds": 2}]
    (tmp_path / "sentinel.yaml").write_text(yaml.safe_dump(config))
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        with run_stack(config=str(tmp_path / "sentinel.yaml"), var_dir=tmp_path / "var", redis_url=REDIS_URL,
                       redis_prefix=prefix) as running:
            url = running.interceptor_url
            sid = httpx.post(f"{url}/session/start", headers=AGENT).json()["session_id"]
            call = {"tool": "get_current_time", "arguments": {}}
            answers = [httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json=call) for _ in range(3)]
            if answers[2].status_code == 200:  # the first two straddled a window edge: one more
                answers.append(httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json=call))
            refused = answers[-1]
            assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
            wait = int(refused.headers["retry-after"])
            assert 1 <= wait <= 2
            time.sleep(wait + 0.2)
            assert httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json=call).status_code == 200
    finally:
        delete_keys(prefix)


def test_the_real_interceptor_writes_every_decision_to_postgresql(tmp_path: Path) -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"

    async def make(statement: str) -> None:
        conn = await asyncpg.connect(POSTGRES_DSN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def stored() -> list[dict[str, object]]:
        conn = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": schema})
        try:
            return [json.loads(r["record"]) for r in await conn.fetch("select record from sentinel_audit order by id")]
        finally:
            await conn.close()

    asyncio.run(make(f'CREATE SCHEMA "{schema}"'))
    try:
        env = {"SENTINEL_AUDIT_DATABASE_URL": POSTGRES_DSN, "SENTINEL_DATABASE_SCHEMA": schema}
        with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path / "var",
                       interceptor_env=env) as running:
            url = running.interceptor_url
            sid = httpx.post(f"{url}/session/start", headers=AGENT).json()["session_id"]
            for tool in ("get_current_time", "read_inbox", "delete_file"):
                httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json={"tool": tool, "arguments": {}})
            deadline = time.monotonic() + 15
            while len(asyncio.run(stored())) < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
            in_file = [json.loads(line) for line in (running.var_dir / "interceptor-audit.jsonl").read_text()
                       .splitlines()]
        assert asyncio.run(stored()) == in_file
        assert [(r["tool"], r["decision"]) for r in in_file] == [
            ("get_current_time", "allow"), ("read_inbox", "allow"), ("delete_file", "deny")]
    finally:
        asyncio.run(make(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

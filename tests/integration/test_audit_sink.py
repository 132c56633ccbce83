"""The decision trail in real PostgreSQL beside the file: every record lands, in order; with the database
unreachable, records wait in the buffer and, once it is full, calls are refused (503) rather than lose a
record; when the database is back, the buffer drains and calls run again. And rotated files chain on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from interceptor.audit import AuditLog, AuditRecord
from interceptor.testing import StaticConfigStore, running_interceptor
from sentinel_contract import verify_chain
from tests.conftest import POSTGRES_DSN
from tests.integration.test_interceptor_api import KEY, demo_projects


async def rows(schema: str) -> list[dict[str, object]]:
    conn = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": schema})
    try:
        return [json.loads(r["record"]) for r in await conn.fetch("select record from sentinel_audit order by id")]
    finally:
        await conn.close()


async def test_every_record_reaches_postgresql_in_order(pg_schema: str, tmp_path: Path) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), audit_log=tmp_path / "audit.jsonl",
                                   audit_database_url=POSTGRES_DSN, database_schema=pg_schema) as harness:
        sid = await harness.start(KEY)
        for tool in ("list_calendar", "read_inbox", "send_email", "delete_file"):
            await harness.call(KEY, sid, tool)
        sink = harness.app.state.runtime.audit.sink
        async with asyncio.timeout(10):
            await sink.flush()
    stored = await rows(pg_schema)
    in_file = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert stored == in_file and [r["decision"] for r in stored] == ["allow", "allow", "deny", "deny"]
    assert [r["seq"] for r in stored] == [0, 1, 2, 3]


async def test_a_database_that_cannot_take_records_stops_calls_before_a_record_is_lost(
    pg_schema: str, tmp_path: Path
) -> None:
    missing = pg_schema + "_later"  # no such schema yet: every insert fails
    async with running_interceptor(StaticConfigStore(demo_projects()), audit_log=tmp_path / "audit.jsonl",
                                   audit_database_url=POSTGRES_DSN, database_schema=missing,
                                   audit_buffer_records=3) as harness:
        sid = await harness.start(KEY)
        statuses = [(await harness.call(KEY, sid, "list_calendar")).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 503, 503]
        refused = await harness.call(KEY, sid, "list_calendar")
        assert refused.json()["error"]["code"] == "audit_unavailable"
        assert len(harness.tool_server.executed) == 3  # nothing ran unrecorded
        conn = await asyncpg.connect(POSTGRES_DSN)
        try:
            await conn.execute(f'CREATE SCHEMA "{missing}"')
            sink = harness.app.state.runtime.audit.sink
            async with asyncio.timeout(20):
                await sink.flush()
            assert (await harness.call(KEY, sid, "list_calendar")).status_code == 200
            async with asyncio.timeout(10):
                await sink.flush()
            assert [r["tool"] for r in await rows(missing)] == ["list_calendar"] * 4
        finally:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{missing}" CASCADE')
            await conn.close()


def test_rotated_files_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=600, keep=3)
    log.open()
    for index in range(12):
        log.write(AuditRecord("demo", "s1", f"tool{index}", None, "allow", "r", "why", None, 1.0, 200))
    log.close()
    files = sorted(tmp_path.glob("audit.jsonl.*"), key=lambda p: -int(p.suffix[1:])) + [path]
    assert [p.name for p in files] == ["audit.jsonl.3", "audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"]
    lines = [line for p in files for line in p.read_bytes().splitlines(keepends=True)]
    # the oldest records rotated out (keep=3), so the chain is checked from the oldest file kept
    assert verify_chain(lines).problem is not None  # its first record is not seq 0: older ones are gone
    assert verify_chain(lines, [log.head] if log.head else [], partial=True).intact  # the rest holds
    kept = [json.loads(line)["seq"] for line in lines]
    assert kept == list(range(kept[0], 12))
    edited = [lines[0], lines[1].replace(b"allow", b"deny_"), *lines[2:]]
    assert "changed" in (verify_chain(edited, partial=True).problem or "")
    assert log.head is not None and log.head.seq == 11


@pytest.mark.parametrize("setting", ["audit_max_bytes", "audit_keep_files", "audit_buffer_records"])
def test_audit_settings_refuse_nonsense(setting: str) -> None:
    from interceptor.errors import SettingsError
    from interceptor.settings import load_settings
    from sentinel_contract import b64url_encode, generate_keypair

    with pytest.raises(SettingsError):
        load_settings(identity_key=b64url_encode(generate_keypair().seed), **{setting: -1})

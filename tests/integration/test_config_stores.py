"""Every config store through one suite: YAML file, PostgreSQL (real server) and
Supabase (its real client, answered by the SQL PostgREST would run, on the real
server), for reads and writes.

The Supabase client's HTTP layer is served by `DataApiOverPostgres`: it accepts
only the request shapes the store sends (anything else is a 400 that fails the
test), runs the statement PostgREST runs for each (json_agg over the rows, so
times and JSON come back as PostgREST renders them), and records every request,
so `test_supabase_wire_requests` pins the exact Data API calls.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import httpx
import pytest

from interceptor.config import (
    ConfigSettings,
    ConfigStoreError,
    PostgresConfigStore,
    SupabaseConfigStore,
    YamlConfigStore,
    api_key_sha256,
    open_config_store,
)
from sentinel_contract import definition_sha256
from tests.conftest import POSTGRES_DSN, free_port

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SUPABASE_URL = "https://sentinel-test.supabase.co"
SERVICE_KEY = "service-role-test-key"
_IDENT = re.compile(r"[a-z_][a-z0-9_]*")

TOOLS = [
    {"name": "read_inbox", "description": "Read mail.", "input_schema": {"type": "object"}, "class": "UNTRUSTED_READ"},
    {"name": "send_email", "description": "Send mail.", "input_schema": {"type": "object"}, "class": "CONSEQUENTIAL_WRITE"},
]
POLICY_1 = {"staticRules": {"read_inbox": "ALLOW", "send_email": "ALLOW"}, "taintRules": []}
POLICY_2 = {
    "staticRules": {"read_inbox": "ALLOW", "send_email": "ALLOW"},
    "taintRules": [
        {"type": "ADD_TAINT", "tool": "read_inbox", "tag": "untrusted"},
        {"type": "CHECK_TAINT", "tool": "send_email", "forbidden_tags": ["untrusted"]},
    ],
}


class DataApiOverPostgres:
    """The subset of Supabase's Data API (PostgREST) that SupabaseConfigStore uses."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.requests: list[tuple[str, str, Any]] = []
        self.down = False

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.raw_path.decode(), body))
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.headers.get("apikey") != SERVICE_KEY or request.headers.get("authorization") != f"Bearer {SERVICE_KEY}":
            return _error(401, "PGRST301", "JWT invalid")
        profile = "content-profile" if request.method in ("POST", "PATCH") else "accept-profile"
        if request.headers.get(profile) != self.schema:
            return _error(406, "PGRST106", "The schema must be one of the following: " + self.schema)
        parts = request.url.path.split("/")
        try:
            if parts[:3] == ["", "rest", "v1"] and len(parts) == 5 and parts[3] == "rpc" and request.method == "POST":
                return await self._rpc(_ident(parts[4]), body)
            if parts[:3] == ["", "rest", "v1"] and len(parts) == 4:
                return await self._table(request, _ident(parts[3]), body)
        except asyncpg.PostgresError as exc:
            status = 409 if exc.sqlstate in ("23505", "23503") else 400
            return _error(status, exc.sqlstate, str(exc))
        except ValueError as exc:
            return _error(400, "PGRST100", str(exc))
        return _error(404, "PGRST000", "not a route this store uses")

    async def _table(self, request: httpx.Request, table: str, body: Any) -> httpx.Response:
        select, where, order, limit, args = "*", [], "", "", []
        for key, value in parse_qsl(request.url.query.decode(), keep_blank_values=True):
            if key == "select":
                select = ", ".join(_ident(c) for c in value.split(","))
            elif key == "order":
                column, _, direction = value.partition(".")
                order = f" order by {_ident(column)} {'desc' if direction == 'desc' else 'asc'}"
            elif key == "limit":
                limit = f" limit {int(value)}"
            elif value.startswith("eq."):
                args.append(value[3:])
                where.append(f"{_ident(key)}::text = ${len(args)}")
            elif value == "not.is.null":
                where.append(f"{_ident(key)} is not null")
            elif value == "is.null":
                where.append(f"{_ident(key)} is null")
            else:
                raise ValueError(f"filter {key}={value} is not one the store sends")
        cond = (" where " + " and ".join(where)) if where else ""
        if request.method == "GET":
            sql = f"select coalesce(json_agg(t), '[]')::text from (select {select} from {table}{cond}{order}{limit}) t"
            return await self._json(200, sql, *args)
        if request.method == "POST" and request.headers.get("prefer") == "return=representation":
            rows = body if isinstance(body, list) else [body]
            cols = ", ".join(_ident(c) for c in rows[0])
            sql = (
                f"with r as (insert into {table} ({cols}) select {cols} from json_populate_recordset(null::{table}, $1::json)"
                f" returning *) select coalesce(json_agg(r), '[]')::text from r"
            )
            return await self._json(201, sql, json.dumps(rows))
        if request.method == "PATCH" and request.headers.get("prefer") == "return=representation" and where:
            cols = ", ".join(_ident(c) for c in body)
            n = len(args) + 1
            sql = (
                f"with r as (update {table} set ({cols}) = (select {cols} from json_populate_record(null::{table}, ${n}::json))"
                f"{cond} returning *) select coalesce(json_agg(r), '[]')::text from r"
            )
            return await self._json(200, sql, *args, json.dumps(body))
        raise ValueError(f"{request.method} {table} is not a request the store sends")

    async def _rpc(self, function: str, body: dict[str, Any]) -> httpx.Response:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "select p.proargnames, array(select format_type(t, null) from unnest(p.proargtypes) t) as types"
                " from pg_proc p where p.proname = $1 and p.pronamespace = $2::regnamespace",
                function,
                self.schema,
            )
        if row is None:
            return _error(404, "PGRST202", f"Could not find the function {function}")
        named = dict(zip(row["proargnames"], row["types"], strict=True))
        params = []
        for name in body:
            kind = named.get(name)
            if kind is None:
                raise ValueError(f"{function} has no parameter {name}")
            cast = f"($1::jsonb -> '{_ident(name)}')" if kind == "jsonb" else f"($1::jsonb ->> '{_ident(name)}')::{kind}"
            params.append(f"{_ident(name)} := {cast}")
        return await self._json(200, f"select to_json({function}({', '.join(params)}))::text", json.dumps(body))

    async def _json(self, status: int, sql: str, *args: Any) -> httpx.Response:
        async with self.pool.acquire() as conn, conn.transaction():
            text = await conn.fetchval(sql, *args)
        return httpx.Response(status, content=text.encode(), headers={"content-type": "application/json"})


def _ident(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not an identifier: {name!r}")
    return name


def _error(status: int, code: str | None, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "details": None, "hint": None})


async def _apply_supabase_migrations(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for path in sorted((ROOT / "supabase" / "migrations").glob("*.sql")):
            await conn.execute(path.read_text())


@pytest.fixture
async def pg_pool(pg_schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(POSTGRES_DSN, min_size=1, max_size=4, server_settings={"search_path": pg_schema})
    yield pool
    await pool.close()


@pytest.fixture
async def data_api(pg_pool: asyncpg.Pool, pg_schema: str) -> DataApiOverPostgres:
    await _apply_supabase_migrations(pg_pool)
    return DataApiOverPostgres(pg_pool, pg_schema)


def _supabase(data_api: DataApiOverPostgres) -> SupabaseConfigStore:
    return SupabaseConfigStore(SUPABASE_URL, SERVICE_KEY, schema=data_api.schema, transport=httpx.MockTransport(data_api.handle))


@pytest.fixture(params=["yaml", "postgres", "supabase"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str, pg_pool: asyncpg.Pool) -> AsyncIterator[Any]:
    if request.param == "yaml":
        backend: Any = YamlConfigStore(tmp_path / "sentinel.yaml")
    elif request.param == "postgres":
        backend = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
    else:
        await _apply_supabase_migrations(pg_pool)
        backend = _supabase(DataApiOverPostgres(pg_pool, pg_schema))
    await backend.create_project("acme", api_key_sha256("sk-acme"))
    yield backend
    await backend.close()


# -- the suite every backend passes -------------------------------------------------------


async def test_created_project_is_found_by_name_by_key_and_in_the_list(store: Any) -> None:
    await store.create_project("beta", api_key_sha256("sk-beta"))
    acme = await store.get_project("acme")
    assert acme is not None and acme.name == "acme" and acme.api_key_sha256 == api_key_sha256("sk-acme")
    assert acme.tools == () and acme.policies == {} and acme.policy_version == 0
    assert (await store.find_by_key_hash(api_key_sha256("sk-beta"))).name == "beta"
    assert (await store.find_by_key_hash(api_key_sha256("sk-beta").upper())).name == "beta"
    assert [p.name for p in await store.list_projects()] == ["acme", "beta"]


async def test_unknown_or_malformed_key_finds_nothing(store: Any) -> None:
    assert await store.find_by_key_hash(api_key_sha256("sk-wrong")) is None
    assert await store.find_by_key_hash("not-a-hash") is None
    assert await store.find_by_key_hash("") is None
    assert await store.get_project("nobody") is None


async def test_a_second_project_with_the_same_name_is_refused(store: Any) -> None:
    with pytest.raises(ConfigStoreError) as caught:
        await store.create_project("acme", api_key_sha256("sk-other"))
    assert caught.value.code == "project_exists"
    assert (await store.get_project("acme")).api_key_sha256 == api_key_sha256("sk-acme")


async def test_bad_arguments_are_refused_before_anything_is_written(store: Any) -> None:
    for name, key_hash in [("ok", "sk-plain-key-not-a-hash"), ("bad name!", api_key_sha256("x")), ("", api_key_sha256("y"))]:
        with pytest.raises(ConfigStoreError) as caught:
            await store.create_project(name, key_hash)
        assert caught.value.code == "invalid_argument"
    assert [p.name for p in await store.list_projects()] == ["acme"]


async def test_set_api_key_replaces_the_old_key(store: Any) -> None:
    await store.set_api_key("acme", api_key_sha256("sk-new"))
    assert await store.find_by_key_hash(api_key_sha256("sk-acme")) is None
    assert (await store.find_by_key_hash(api_key_sha256("sk-new"))).name == "acme"
    with pytest.raises(ConfigStoreError) as caught:
        await store.set_api_key("nobody", api_key_sha256("sk-x"))
    assert caught.value.code == "project_not_found"


async def test_set_api_key_with_the_expected_hash_is_a_compare_and_set(store: Any) -> None:
    # Two rotations that read the same old hash: the second must not silently win.
    await store.set_api_key("acme", api_key_sha256("sk-first"), expected_sha256=api_key_sha256("sk-acme"))
    with pytest.raises(ConfigStoreError) as caught:
        await store.set_api_key("acme", api_key_sha256("sk-second"), expected_sha256=api_key_sha256("sk-acme"))
    assert caught.value.code == "conflict"
    assert (await store.find_by_key_hash(api_key_sha256("sk-first"))).name == "acme"
    assert await store.find_by_key_hash(api_key_sha256("sk-second")) is None
    with pytest.raises(ConfigStoreError) as caught:
        await store.set_api_key("nobody", api_key_sha256("sk-x"), expected_sha256=api_key_sha256("sk-acme"))
    assert caught.value.code == "project_not_found"


@pytest.mark.parametrize(("kind", "value"), [
    ("policy", {"rules": [{"name": "u", "effect": "allow", "when": {"tool": "t", "args": {"n": {"lt": float("inf")}}}}]}),
    ("policy", {"rules": [{"name": "c", "effect": "deny", "when": {"tool": "t", "args": {"n": {"gt": 10**23}}}}]}),
    ("policy", {"staticRules": {"t": "ALLOW"}, "note": datetime(2026, 1, 1, tzinfo=UTC)}),
    ("tools", [{"name": "t", "input_schema": {"maximum": float("nan")}}]),
])
async def test_a_value_that_is_not_json_is_refused_not_stored_as_something_else(store: Any, kind: str, value: Any) -> None:
    # orjson wrote Infinity as null, a 24-digit integer failed as "PostgreSQL error 22000".
    with pytest.raises(ConfigStoreError) as caught:
        if kind == "policy":
            await store.push_policy("acme", value, "mallory")
        else:
            await store.push_tools("acme", value)
    assert caught.value.code == "invalid_argument" and "not a JSON value" in caught.value.message
    acme = await store.get_project("acme")
    assert acme.policies == {} and acme.tools == () and await store.policy_history("acme") == []


async def test_a_missing_schema_is_a_clear_config_error(pg_schema: str) -> None:
    store = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema + "_missing")
    with pytest.raises(ConfigStoreError) as caught:
        await store.open()
    assert caught.value.code == "config_unavailable"
    assert f"schema '{pg_schema}_missing' does not exist" in caught.value.message
    await store.close()


async def test_pushed_tools_are_what_the_project_reads(store: Any) -> None:
    await store.push_tools("acme", TOOLS)
    assert list((await store.get_project("acme")).tools) == TOOLS
    assert list((await store.find_by_key_hash(api_key_sha256("sk-acme"))).tools) == TOOLS
    with pytest.raises(ConfigStoreError) as caught:
        await store.push_tools("nobody", TOOLS)
    assert caught.value.code == "project_not_found"


async def test_a_pinned_definition_survives_the_round_trip_and_a_malformed_pin_is_refused(store: Any) -> None:
    pin = definition_sha256("t", "Do a thing.", {"type": "object"})
    tools = [{"name": "t", "description": "Do a thing.", "input_schema": {"type": "object"}, "class": "SAFE_READ",
              "definition_sha256": pin}]
    await store.push_tools("acme", tools)
    assert list((await store.get_project("acme")).tools) == tools
    for bad in ("not-a-hash", None, pin + "=", 42):
        with pytest.raises(ConfigStoreError) as caught:
            await store.push_tools("acme", [{**tools[0], "definition_sha256": bad}])
        assert caught.value.code == "invalid_argument" and "definition_sha256" in caught.value.message
    assert list((await store.get_project("acme")).tools) == tools


async def test_each_policy_push_is_a_new_version_with_author_and_time(store: Any) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    assert await store.push_policy("acme", POLICY_1, "alice@example.com") == 1
    assert await store.push_policy("acme", POLICY_2, "bob@example.com", note="taint the inbox") == 2
    acme = await store.get_project("acme")
    assert acme.policies == POLICY_2 and acme.policy_version == 2
    history = await store.policy_history("acme")
    assert [(v.version, v.author, v.policies, v.note) for v in history] == [
        (1, "alice@example.com", POLICY_1, ""),
        (2, "bob@example.com", POLICY_2, "taint the inbox"),
    ]
    for version in history:
        assert before <= version.created_at <= datetime.now(UTC) + timedelta(seconds=5)
        assert version.created_at.tzinfo is not None


async def test_rollback_makes_an_old_version_current_as_a_new_version(store: Any) -> None:
    await store.push_policy("acme", POLICY_1, "alice")
    await store.push_policy("acme", POLICY_2, "bob")
    assert await store.rollback("acme", 1, "carol") == 3
    acme = await store.get_project("acme")
    assert acme.policies == POLICY_1 and acme.policy_version == 3
    last = (await store.policy_history("acme"))[-1]
    assert (last.version, last.author, last.policies, last.note) == (3, "carol", POLICY_1, "rollback to version 1")
    with pytest.raises(ConfigStoreError) as caught:
        await store.rollback("acme", 7, "carol")
    assert caught.value.code == "version_not_found"
    assert (await store.get_project("acme")).policy_version == 3


async def test_history_and_pushes_of_an_unknown_project_are_refused(store: Any) -> None:
    for call in (store.policy_history("nobody"), store.push_policy("nobody", POLICY_1, "a"), store.rollback("nobody", 1, "a")):
        with pytest.raises(ConfigStoreError) as caught:
            await call
        assert caught.value.code == "project_not_found"


async def test_concurrent_pushes_get_distinct_consecutive_versions(store: Any) -> None:
    versions = await asyncio.gather(*(store.push_policy("acme", {**POLICY_1, "n": i}, f"u{i}") for i in range(8)))
    assert sorted(versions) == list(range(1, 9))
    history = await store.policy_history("acme")
    assert [v.version for v in history] == list(range(1, 9))
    assert (await store.get_project("acme")).policy_version == 8


async def test_the_cache_in_front_of_each_backend_serves_reads_and_sees_its_writes(store: Any) -> None:
    from interceptor.config import CachedConfigStore

    cached = CachedConfigStore(store, ttl_seconds=60, stale_seconds=300)
    assert (await cached.find_by_key_hash(api_key_sha256("sk-acme"))).name == "acme"
    await cached.push_policy("acme", POLICY_2, "alice")
    assert (await cached.get_project("acme")).policies == POLICY_2


# -- agent-bound keys (every backend) ------------------------------------------------------


async def test_an_agent_key_finds_its_holder_and_the_agent_but_is_no_project_key(store: Any) -> None:
    await store.add_agent_key("acme", "triage", api_key_sha256("sk-triage-1"))
    await store.add_agent_key("acme", "triage", api_key_sha256("sk-triage-2").upper())
    await store.add_agent_key("acme", "deploy-bot", api_key_sha256("sk-deploy"))
    acme = await store.get_project("acme")
    assert acme.agent_keys == {api_key_sha256("sk-triage-1"): "triage", api_key_sha256("sk-triage-2"): "triage",
                               api_key_sha256("sk-deploy"): "deploy-bot"}
    assert (await store.list_projects())[0] == acme
    holder = await store.find_key(api_key_sha256("sk-triage-2"))
    assert (holder.project, holder.agent, holder.key_sha256) == (acme, "triage", api_key_sha256("sk-triage-2"))
    assert (await store.find_key(api_key_sha256("sk-acme"))).agent is None
    assert await store.find_by_key_hash(api_key_sha256("sk-deploy")) is None  # never the project key
    assert await store.find_key(api_key_sha256("sk-wrong")) is None
    assert api_key_sha256("sk-deploy") not in repr(holder) + repr(acme)


async def test_a_key_hash_is_one_key_of_one_project_in_one_role(store: Any) -> None:
    await store.create_project("beta", api_key_sha256("sk-beta"))
    await store.add_agent_key("beta", "triage", api_key_sha256("sk-beta-triage"))
    for project, key in [("acme", "sk-acme"), ("acme", "sk-beta"), ("acme", "sk-beta-triage"), ("beta", "sk-beta-triage")]:
        with pytest.raises(ConfigStoreError) as caught:
            await store.add_agent_key(project, "other", api_key_sha256(key))
        assert caught.value.code == "project_exists" and api_key_sha256(key) not in caught.value.message
    assert (await store.get_project("acme")).agent_keys == {}
    assert (await store.get_project("beta")).agent_keys == {api_key_sha256("sk-beta-triage"): "triage"}


async def test_agent_keys_are_replaced_and_revoked_per_agent(store: Any) -> None:
    for n in (1, 2):
        await store.add_agent_key("acme", "triage", api_key_sha256(f"sk-triage-{n}"))
    await store.add_agent_key("acme", "deploy-bot", api_key_sha256("sk-deploy"))
    await store.add_agent_key("acme", "triage", api_key_sha256("sk-triage-3"), replace=True)
    assert (await store.get_project("acme")).agent_keys == {api_key_sha256("sk-deploy"): "deploy-bot",
                                                            api_key_sha256("sk-triage-3"): "triage"}
    assert await store.revoke_agent_keys("acme", "triage") == 1
    assert await store.revoke_agent_keys("acme", "triage") == 0
    assert await store.find_key(api_key_sha256("sk-triage-3")) is None
    assert (await store.find_key(api_key_sha256("sk-deploy"))).agent == "deploy-bot"
    for call in (store.add_agent_key("nobody", "a", api_key_sha256("x")), store.revoke_agent_keys("nobody", "a")):
        with pytest.raises(ConfigStoreError) as caught:
            await call
        assert caught.value.code == "project_not_found"
    for agent, key_hash in [("bad agent!", api_key_sha256("y")), ("", api_key_sha256("y")), ("ok", "sk-not-a-hash")]:
        with pytest.raises(ConfigStoreError) as caught:
            await store.add_agent_key("acme", agent, key_hash)
        assert caught.value.code == "invalid_argument"
    assert (await store.get_project("acme")).agent_keys == {api_key_sha256("sk-deploy"): "deploy-bot"}


async def test_the_cache_sees_agent_keys_added_and_revoked_through_it(store: Any) -> None:
    from interceptor.config import CachedConfigStore

    cached = CachedConfigStore(store, ttl_seconds=60, stale_seconds=300)
    assert await cached.find_key(api_key_sha256("sk-triage")) is None
    await cached.add_agent_key("acme", "triage", api_key_sha256("sk-triage"))
    assert (await cached.find_key(api_key_sha256("sk-triage"))).agent == "triage"
    await cached.revoke_agent_keys("acme", "triage")
    assert await cached.find_key(api_key_sha256("sk-triage")) is None


# -- YAML: two writers on one file ---------------------------------------------------------


async def test_yaml_two_store_instances_writing_one_file_lose_no_push(tmp_path: Path) -> None:
    path = tmp_path / "sentinel.yaml"
    first, second = YamlConfigStore(path), YamlConfigStore(path)
    await first.create_project("acme", api_key_sha256("sk-acme"))
    await asyncio.gather(*(s.push_policy("acme", POLICY_1, "x") for s in (first, second) * 4))
    assert [v.version for v in await YamlConfigStore(path).policy_history("acme")] == list(range(1, 9))


# -- PostgreSQL ----------------------------------------------------------------------------


async def test_postgres_migrations_run_once_whoever_opens_first(pg_schema: str) -> None:
    stores = [PostgresConfigStore(POSTGRES_DSN, schema=pg_schema) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    await stores[0].create_project("acme", api_key_sha256("sk-acme"))
    again = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
    assert (await again.get_project("acme")) is not None
    for s in (*stores, again):
        await s.close()


async def test_postgres_upgrades_a_table_of_the_original_layout(pg_pool: asyncpg.Pool, pg_schema: str) -> None:
    async with pg_pool.acquire() as conn:
        await conn.execute(
            "create table projects (id uuid primary key default gen_random_uuid(), name text,"
            " api_key text, tools jsonb, policies jsonb)"
        )
        await conn.execute(
            "insert into projects (name, api_key, tools, policies) values ($1, $2, $3::jsonb, $4::jsonb)",
            "legacy",
            api_key_sha256("sk-legacy"),
            json.dumps(TOOLS),
            json.dumps(POLICY_2),
        )
    store = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
    legacy = await store.find_by_key_hash(api_key_sha256("sk-legacy"))
    assert legacy is not None and legacy.name == "legacy"
    assert list(legacy.tools) == TOOLS and legacy.policies == POLICY_2 and legacy.policy_version == 0
    assert await store.push_policy("legacy", POLICY_1, "alice") == 1
    await store.close()


async def test_postgres_refuses_a_hand_written_key_that_another_role_holds(pg_pool: asyncpg.Pool, pg_schema: str) -> None:
    store = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
    await store.create_project("acme", api_key_sha256("sk-acme"))
    await store.create_project("beta", api_key_sha256("sk-beta"))
    await store.add_agent_key("beta", "triage", api_key_sha256("sk-triage"))
    writes = [
        ("update projects set agent_keys = jsonb_build_object($1::text, 'x') where name = 'acme'", "sk-beta"),
        ("update projects set agent_keys = jsonb_build_object($1::text, 'x') where name = 'acme'", "sk-triage"),
        ("update projects set agent_keys = jsonb_build_object($1::text, 'x') where name = 'acme'", "sk-acme"),
        ("update projects set api_key_sha256 = $1 where name = 'acme'", "sk-triage"),
        ("insert into projects (name, api_key_sha256) values ('gamma', $1)", "sk-triage"),
    ]
    async with pg_pool.acquire() as conn:
        for sql, key in writes:
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(sql, api_key_sha256(key))
    with pytest.raises(ConfigStoreError) as caught:
        await store.set_api_key("acme", api_key_sha256("sk-triage"))
    assert caught.value.code == "project_exists"
    assert [(p.name, p.api_key_sha256, dict(p.agent_keys)) for p in await store.list_projects()] == [
        ("acme", api_key_sha256("sk-acme"), {}),
        ("beta", api_key_sha256("sk-beta"), {api_key_sha256("sk-triage"): "triage"}),
    ]
    await store.close()


async def test_postgres_unreachable_is_config_unavailable_without_the_dsn() -> None:
    dsn = f"postgresql://sentinel:hunter2@127.0.0.1:{free_port()}/nothing"
    store = PostgresConfigStore(dsn, connect_timeout=2)
    with pytest.raises(ConfigStoreError) as caught:
        await store.list_projects()
    assert caught.value.code == "config_unavailable"
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(store)
    await store.close()


async def test_open_config_store_picks_postgres_from_database_url(pg_schema: str) -> None:
    settings = ConfigSettings(
        database_url=POSTGRES_DSN,
        database_schema=pg_schema,
        supabase_project_url=SUPABASE_URL,  # ignored: the database URL wins
        supabase_service_role_key=SERVICE_KEY,
        config_path=Path("does-not-matter.yaml"),
        config_stale_seconds=60,
    )
    store = await open_config_store(settings)
    assert isinstance(store.store, PostgresConfigStore)
    assert await store.list_projects() == []
    await store.close()


# -- Supabase ------------------------------------------------------------------------------


async def test_supabase_reads_the_projects_the_postgres_store_wrote(data_api: DataApiOverPostgres, pg_schema: str) -> None:
    postgres = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)  # runs its migrations over Supabase's: compatible
    await postgres.create_project("acme", api_key_sha256("sk-acme"))
    await postgres.create_project("beta", api_key_sha256("sk-beta"))
    await postgres.push_tools("acme", TOOLS)
    await postgres.push_policy("acme", POLICY_1, "alice")
    await postgres.push_policy("acme", POLICY_2, "bob")
    supabase = _supabase(data_api)
    assert await supabase.list_projects() == await postgres.list_projects()
    assert await supabase.policy_history("acme") == await postgres.policy_history("acme")
    assert await supabase.find_by_key_hash(api_key_sha256("sk-beta")) == await postgres.get_project("beta")
    await postgres.close()
    await supabase.close()


async def test_supabase_wire_requests(data_api: DataApiOverPostgres) -> None:
    supabase = _supabase(data_api)
    await supabase.create_project("acme", api_key_sha256("sk-acme"))
    await supabase.find_by_key_hash(api_key_sha256("sk-acme"))
    await supabase.push_policy("acme", POLICY_1, "alice")
    await supabase.get_project("acme")
    await supabase.add_agent_key("acme", "triage", api_key_sha256("sk-triage"), replace=True)
    await supabase.revoke_agent_keys("acme", "triage")
    columns = "name%2Capi_key_sha256%2Ctools%2Cpolicies%2Cpolicy_version%2Cagent_keys"
    assert data_api.requests == [
        ("POST", "/rest/v1/projects", {"name": "acme", "api_key_sha256": api_key_sha256("sk-acme"), "tools": [], "policies": {}}),
        ("GET", f"/rest/v1/projects?select={columns}&name=not.is.null&order=name.asc", None),
        ("POST", "/rest/v1/rpc/sentinel_push_policy", {"p_project": "acme", "p_policies": POLICY_1, "p_author": "alice", "p_note": ""}),
        ("GET", f"/rest/v1/projects?select={columns}&name=eq.acme", None),
        ("POST", "/rest/v1/rpc/sentinel_add_agent_key",
         {"p_project": "acme", "p_key_sha256": api_key_sha256("sk-triage"), "p_agent": "triage", "p_replace": True}),
        ("POST", "/rest/v1/rpc/sentinel_revoke_agent_keys", {"p_project": "acme", "p_agent": "triage"}),
    ]
    await supabase.close()


async def test_supabase_unreachable_is_config_unavailable(data_api: DataApiOverPostgres) -> None:
    supabase = _supabase(data_api)
    data_api.down = True
    with pytest.raises(ConfigStoreError) as caught:
        await supabase.list_projects()
    assert caught.value.code == "config_unavailable"
    assert SERVICE_KEY not in str(caught.value) and SERVICE_KEY not in repr(supabase)
    await supabase.close()


def test_supabase_migrations_hold_the_postgres_migrations_verbatim_in_order() -> None:
    postgres = sorted((ROOT / "interceptor" / "config" / "migrations").glob("*.sql"))
    supabase = sorted((ROOT / "supabase" / "migrations").glob("*.sql"))
    assert len(postgres) == len(supabase)
    for ours, theirs in zip(postgres, supabase, strict=True):
        assert ours.read_text() in theirs.read_text(), (ours.name, theirs.name)

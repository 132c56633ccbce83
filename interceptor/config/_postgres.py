"""The PostgreSQL config store (asyncpg; Supabase's direct connection string works).

``open()`` creates a small pool and applies the SQL files in ``migrations/``
once each, under an advisory lock, so replicas starting together do not race.
A ``schema`` option sets the pool's search_path (tests use a fresh schema).

It must never use server features beyond plain PostgreSQL, never put the DSN
(it may hold a password) into an error message, and never read or write
before the migrations have run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from interceptor.config._model import ConfigStoreError, KeyHolder, PolicyVersion, Project
from interceptor.config._records import (
    check_agent_name,
    check_json,
    check_key_hash,
    check_name,
    check_policies,
    check_tools,
    find_by_key_hash,
    find_key,
    project_from_row,
    version_from_row,
)

if TYPE_CHECKING:
    from interceptor.settings import ConfigStoreSettings

_MIGRATION_LOCK = 7_346_551_001  # pg_advisory_xact_lock key: "Sentinel config migrations"
_PROJECT_COLUMNS = "name, api_key_sha256, tools, policies, policy_version, agent_keys"

_UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


def migrations() -> list[tuple[str, str]]:
    """(file name, SQL) of every migration, in order."""
    folder = resources.files("interceptor.config") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads
        )


def open_store(settings: ConfigStoreSettings) -> PostgresConfigStore:
    """The store ``database_url`` names (``interceptor.config.STORES``), in ``database_schema`` when set."""
    if settings.database_url is None:
        raise ConfigStoreError("config_invalid", "the PostgreSQL store needs SENTINEL_DATABASE_URL")
    return PostgresConfigStore(settings.database_url.get_secret_value(), schema=settings.database_schema or None)


class PostgresConfigStore:
    """Projects in the ``projects`` and ``policy_versions`` tables."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._pool_args: dict[str, Any] = {
            "min_size": min_size,
            "max_size": max_size,
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
            # No named prepared statements: works behind PgBouncer/Supavisor too.
            "statement_cache_size": 0,
            "init": _init_connection,
        }
        if schema:
            self._pool_args["server_settings"] = {"search_path": schema}
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresConfigStore(schema={self._schema!r})"

    async def open(self) -> None:
        await self._ready()

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                try:
                    pool = await asyncpg.create_pool(self._dsn, **self._pool_args)
                except _UNAVAILABLE as exc:
                    raise ConfigStoreError("config_unavailable", f"PostgreSQL unreachable ({type(exc).__name__})") from None
                except asyncpg.PostgresError as exc:
                    raise ConfigStoreError("config_unavailable", f"PostgreSQL refused the connection ({exc.sqlstate})") from None
                try:
                    await self._migrate(pool)
                except BaseException as exc:
                    await pool.close()
                    if isinstance(exc, asyncpg.PostgresError):
                        raise ConfigStoreError("config_unavailable", _migration_failure(exc, self._schema)) from None
                    if isinstance(exc, _UNAVAILABLE):
                        raise ConfigStoreError("config_unavailable", f"PostgreSQL unreachable ({type(exc).__name__})") from None
                    raise
                self._pool = pool
        return self._pool

    async def _migrate(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("select pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "create table if not exists sentinel_migrations ("
                " name text primary key, applied_at timestamptz not null default now())"
            )
            done = {r["name"] for r in await conn.fetch("select name from sentinel_migrations")}
            for name, sql in migrations():
                if name not in done:
                    await conn.execute(sql)
                    await conn.execute("insert into sentinel_migrations (name) values ($1)", name)

    async def _run(self, op: str, *args: Any, taken: str = "a project with that name or key exists") -> Any:
        pool = await self._ready()
        try:
            async with pool.acquire() as conn:
                return await getattr(conn, op)(*args)
        except asyncpg.UniqueViolationError:
            raise ConfigStoreError("project_exists", taken) from None
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == "P0002":
                raise ConfigStoreError("project_not_found", "no such project") from None
            raise ConfigStoreError("config_unavailable", f"PostgreSQL error {exc.sqlstate}") from None
        except _UNAVAILABLE as exc:
            raise ConfigStoreError("config_unavailable", f"PostgreSQL unreachable ({type(exc).__name__})") from None

    # -- reads -----------------------------------------------------------------------------

    async def list_projects(self) -> list[Project]:
        rows = await self._run("fetch", f"select {_PROJECT_COLUMNS} from projects where name is not null order by name")
        return [project_from_row(dict(r), f"projects[{r['name']}]") for r in rows]

    async def find_by_key_hash(self, api_key_sha256: str) -> Project | None:
        # Every project is read and compared, so the work does not depend on
        # which hashes exist (an index lookup would); the cache makes this rare.
        return find_by_key_hash(await self.list_projects(), api_key_sha256)

    async def find_key(self, api_key_sha256: str) -> KeyHolder | None:
        return find_key(await self.list_projects(), api_key_sha256)

    async def get_project(self, name: str) -> Project | None:
        row = await self._run("fetchrow", f"select {_PROJECT_COLUMNS} from projects where name = $1", name)
        return None if row is None else project_from_row(dict(row), f"projects[{name}]")

    async def policy_history(self, name: str) -> list[PolicyVersion]:
        await self._need(name)
        rows = await self._run(
            "fetch",
            "select version, policies, author, note, created_at from policy_versions where project = $1 order by version",
            name,
        )
        return [version_from_row(dict(r), f"policy_versions[{name}]") for r in rows]

    # -- writes ----------------------------------------------------------------------------

    async def create_project(self, name: str, api_key_sha256: str) -> Project:
        check_name(name)
        key_hash = check_key_hash(api_key_sha256)
        row = await self._run(
            "fetchrow",
            f"insert into projects (name, api_key_sha256) values ($1, $2) returning {_PROJECT_COLUMNS}",
            name,
            key_hash,
            taken=f"a project named {name!r} exists, or the key is in use",
        )
        return project_from_row(dict(row), f"projects[{name}]")

    async def set_api_key(self, name: str, api_key_sha256: str, *, expected_sha256: str | None = None) -> None:
        key_hash = check_key_hash(api_key_sha256)
        if expected_sha256 is None:
            await self._update(name, "api_key_sha256", key_hash)
            return
        found = await self._run(
            "fetchval",
            "update projects set api_key_sha256 = $2, updated_at = now()"
            " where name = $1 and coalesce(lower(api_key_sha256), '') = $3 returning 1",
            name,
            key_hash,
            expected_sha256.lower(),
            taken="that key is in use by another project",
        )
        if found is None:
            await self._need(name)
            raise ConfigStoreError("conflict", f"the key of project {name!r} changed since it was read; nothing was written")

    async def add_agent_key(self, name: str, agent: str, api_key_sha256: str, *, replace: bool = False) -> None:
        check_agent_name(agent)
        key_hash = check_key_hash(api_key_sha256)
        await self._run("fetchval", "select sentinel_add_agent_key($1, $2, $3, $4)", name, key_hash, agent, replace,
                        taken="that key is in use; nothing was written")

    async def revoke_agent_keys(self, name: str, agent: str) -> int:
        return int(await self._run("fetchval", "select sentinel_revoke_agent_keys($1, $2)", name, agent))

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None:
        clean = list(check_tools(tools))
        check_json(clean, "tools")
        await self._update(name, "tools", clean)

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str, note: str = "") -> int:
        clean = check_policies(policies)
        check_json(clean, "policies")
        version = await self._run("fetchval", "select sentinel_push_policy($1, $2::jsonb, $3, $4)", name, clean, author, note)
        return int(version)

    async def rollback(self, name: str, version: int, author: str) -> int:
        await self._need(name)
        policies = await self._run(
            "fetchval", "select policies from policy_versions where project = $1 and version = $2", name, version
        )
        if policies is None:
            raise ConfigStoreError("version_not_found", f"project {name!r} has no policy version {version}")
        return await self.push_policy(name, policies, author, f"rollback to version {version}")

    async def _update(self, name: str, column: str, value: Any) -> None:
        found = await self._run(
            "fetchval",
            f"update projects set {column} = $2, updated_at = now() where name = $1 returning 1",
            name,
            value,
            taken="that key is in use by another project",
        )
        if found is None:
            raise ConfigStoreError("project_not_found", f"no project named {name!r}")

    async def _need(self, name: str) -> None:
        if await self._run("fetchval", "select 1 from projects where name = $1", name) is None:
            raise ConfigStoreError("project_not_found", f"no project named {name!r}")


def _migration_failure(exc: asyncpg.PostgresError, schema: str | None) -> str:
    # 3F000 invalid_schema_name: "no schema has been selected to create in" when search_path names none that exists.
    if exc.sqlstate == "3F000" and schema:
        return f"PostgreSQL schema {schema!r} does not exist (SENTINEL_DATABASE_SCHEMA); create it or unset the variable"
    if exc.sqlstate == "42501":
        return "PostgreSQL refused the migrations: the role may not create the tables (42501 insufficient_privilege)"
    return f"PostgreSQL migrations failed ({exc.sqlstate})"

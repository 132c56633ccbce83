"""The Supabase config store: the same tables as the PostgreSQL store, through
Supabase's Data API (PostgREST) with the async ``supabase`` client.

Use it where only HTTPS reaches the database. It authenticates with the
service-role key (row-level security shuts everyone else out, see
supabase/migrations/). A policy push is one call to the SQL function
``sentinel_push_policy``, so numbering and recording a version stay atomic.

It must never block the event loop, never put the service-role key in an
error message, and never send anything but the store's own queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from postgrest.exceptions import APIError

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
    now_utc,
    project_from_row,
    version_from_row,
)

if TYPE_CHECKING:
    from interceptor.settings import ConfigStoreSettings

_PROJECT_COLUMNS = "name,api_key_sha256,tools,policies,policy_version,agent_keys"
_VERSION_COLUMNS = "version,policies,author,note,created_at"


def open_store(settings: ConfigStoreSettings) -> SupabaseConfigStore:
    """The store ``supabase_project_url`` names, with the service-role key (``interceptor.config.STORES``)."""
    url, key = settings.supabase_project_url, settings.supabase_service_role_key
    if not (url and key):
        raise ConfigStoreError("config_invalid", "Supabase needs both SUPABASE_PROJECT_URL and SUPABASE_SERVICE_ROLE_KEY")
    return SupabaseConfigStore(url, key.get_secret_value())


class SupabaseConfigStore:
    """Projects read and written through Supabase's Data API."""

    def __init__(
        self,
        url: str,
        service_role_key: str,
        *,
        schema: str = "public",
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._key = service_role_key
        self._schema = schema
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._client: Any = None
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SupabaseConfigStore({self._url!r}, schema={self._schema!r})"

    async def open(self) -> None:
        await self._ready()

    async def close(self) -> None:
        await self._http.aclose()

    async def _ready(self) -> Any:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    try:
                        from supabase import AsyncClientOptions, acreate_client
                    except ImportError as exc:  # a supabase release without the 2.x client API
                        raise ConfigStoreError(
                            "config_unavailable", f"the installed supabase package cannot be used: {exc.msg}"
                        ) from None

                    options = AsyncClientOptions(schema=self._schema, httpx_client=self._http)
                    try:
                        self._client = await acreate_client(self._url, self._key, options=options)
                    except Exception as exc:  # the client validates url and key before any I/O
                        raise ConfigStoreError("config_unavailable", f"Supabase client: {type(exc).__name__}") from None
        return self._client

    async def _execute(self, build: Any) -> Any:
        client = await self._ready()
        try:
            query = build(client)
            # One attempt: the client's own retries (backoff up to seconds, each attempt its own
            # timeout) would hold a CLI command or a request that long; the cache retries on its terms.
            no_retry = getattr(query, "retry", None)
            if callable(no_retry):
                query = no_retry(False)
            return (await query.execute()).data
        except APIError as exc:
            if exc.code == "23505":
                raise ConfigStoreError("project_exists", "a project with that name or key exists") from None
            if exc.code == "P0002":
                raise ConfigStoreError("project_not_found", "no such project") from None
            raise ConfigStoreError("config_unavailable", f"Supabase answered error {exc.code}") from None
        except (httpx.HTTPError, OSError) as exc:
            raise ConfigStoreError("config_unavailable", f"Supabase unreachable ({type(exc).__name__})") from None
        except ConfigStoreError:
            raise
        except Exception as exc:  # an answer the client could not parse: not a config we can trust
            raise ConfigStoreError("config_unavailable", f"Supabase answer not understood ({type(exc).__name__})") from None

    # -- reads -----------------------------------------------------------------------------

    async def list_projects(self) -> list[Project]:
        rows = await self._execute(
            lambda c: c.table("projects").select(_PROJECT_COLUMNS).not_.is_("name", "null").order("name")
        )
        return [project_from_row(r, f"projects[{r.get('name')}]") for r in _rows(rows)]

    async def find_by_key_hash(self, api_key_sha256: str) -> Project | None:
        # As in the PostgreSQL store: compare against every project, never filter by the hash.
        return find_by_key_hash(await self.list_projects(), api_key_sha256)

    async def find_key(self, api_key_sha256: str) -> KeyHolder | None:
        return find_key(await self.list_projects(), api_key_sha256)

    async def get_project(self, name: str) -> Project | None:
        rows = _rows(await self._execute(lambda c: c.table("projects").select(_PROJECT_COLUMNS).eq("name", name)))
        return project_from_row(rows[0], f"projects[{name}]") if rows else None

    async def policy_history(self, name: str) -> list[PolicyVersion]:
        await self._need(name)
        rows = await self._execute(
            lambda c: c.table("policy_versions").select(_VERSION_COLUMNS).eq("project", name).order("version")
        )
        return [version_from_row(r, f"policy_versions[{name}]") for r in _rows(rows)]

    # -- writes ----------------------------------------------------------------------------

    async def create_project(self, name: str, api_key_sha256: str) -> Project:
        check_name(name)
        key_hash = check_key_hash(api_key_sha256)
        row = {"name": name, "api_key_sha256": key_hash, "tools": [], "policies": {}}
        rows = _rows(await self._execute(lambda c: c.table("projects").insert(row)))
        return project_from_row(rows[0], f"projects[{name}]") if rows else Project(name=name, api_key_sha256=key_hash)

    async def set_api_key(self, name: str, api_key_sha256: str, *, expected_sha256: str | None = None) -> None:
        key_hash = check_key_hash(api_key_sha256)
        if expected_sha256 is None:
            await self._update(name, {"api_key_sha256": key_hash})
            return
        values = {"api_key_sha256": key_hash, "updated_at": now_utc().isoformat()}

        def build(c: Any) -> Any:
            query = c.table("projects").update(values).eq("name", name)
            # Hashes are stored lower-case (check_key_hash); a project without a key has none.
            return query.eq("api_key_sha256", expected_sha256.lower()) if expected_sha256 else query.is_("api_key_sha256", "null")

        if not _rows(await self._execute(build)):
            await self._need(name)
            raise ConfigStoreError("conflict", f"the key of project {name!r} changed since it was read; nothing was written")

    async def add_agent_key(self, name: str, agent: str, api_key_sha256: str, *, replace: bool = False) -> None:
        check_agent_name(agent)
        params = {"p_project": name, "p_key_sha256": check_key_hash(api_key_sha256), "p_agent": agent,
                  "p_replace": replace}
        try:
            await self._execute(lambda c: c.rpc("sentinel_add_agent_key", params))
        except ConfigStoreError as exc:
            if exc.code == "project_exists":
                raise ConfigStoreError("project_exists", "that key is in use; nothing was written") from None
            raise

    async def revoke_agent_keys(self, name: str, agent: str) -> int:
        params = {"p_project": name, "p_agent": agent}
        removed = await self._execute(lambda c: c.rpc("sentinel_revoke_agent_keys", params))
        if not isinstance(removed, int):
            raise ConfigStoreError("config_invalid", "sentinel_revoke_agent_keys did not return a number")
        return removed

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None:
        clean = list(check_tools(tools))
        check_json(clean, "tools")
        await self._update(name, {"tools": clean})

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str, note: str = "") -> int:
        clean = check_policies(policies)
        check_json(clean, "policies")
        params = {"p_project": name, "p_policies": clean, "p_author": author, "p_note": note}
        version = await self._execute(lambda c: c.rpc("sentinel_push_policy", params))
        if not isinstance(version, int):
            raise ConfigStoreError("config_invalid", "sentinel_push_policy did not return a version number")
        return version

    async def rollback(self, name: str, version: int, author: str) -> int:
        await self._need(name)
        rows = _rows(
            await self._execute(
                lambda c: c.table("policy_versions").select("policies").eq("project", name).eq("version", version)
            )
        )
        if not rows:
            raise ConfigStoreError("version_not_found", f"project {name!r} has no policy version {version}")
        return await self.push_policy(name, rows[0].get("policies") or {}, author, f"rollback to version {version}")

    async def _update(self, name: str, values: dict[str, Any]) -> None:
        values = {**values, "updated_at": now_utc().isoformat()}
        rows = _rows(await self._execute(lambda c: c.table("projects").update(values).eq("name", name)))
        if not rows:
            raise ConfigStoreError("project_not_found", f"no project named {name!r}")

    async def _need(self, name: str) -> None:
        if not _rows(await self._execute(lambda c: c.table("projects").select("name").eq("name", name))):
            raise ConfigStoreError("project_not_found", f"no project named {name!r}")


def _rows(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ConfigStoreError("config_invalid", "Supabase answered rows of an unexpected shape")
    return data

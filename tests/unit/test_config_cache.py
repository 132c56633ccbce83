"""The config cache: TTL, bounded stale serving, fail-closed, one refresh at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from interceptor.config import CachedConfigStore, ConfigStoreError, PolicyVersion, Project, api_key_sha256


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryBackend:
    """A backend whose outages and latency the test controls; counts list_projects calls."""

    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.reads = 0
        self.down: Exception | None = None
        self.delay = 0.0
        self.closed = False

    def add(self, name: str, key: str, **fields: Any) -> None:
        self.projects[name] = Project(name=name, api_key_sha256=api_key_sha256(key), **fields)

    async def list_projects(self) -> list[Project]:
        self.reads += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down is not None:
            raise self.down
        return sorted(self.projects.values(), key=lambda p: p.name)

    async def create_project(self, name: str, api_key_sha256: str) -> Project:
        self.projects[name] = Project(name=name, api_key_sha256=api_key_sha256)
        return self.projects[name]

    async def set_api_key(self, name: str, api_key_sha256: str) -> None:
        old = self.projects[name]
        self.projects[name] = Project(name=name, api_key_sha256=api_key_sha256, tools=old.tools, policies=old.policies)

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str, note: str = "") -> int:
        raise ConfigStoreError("config_unavailable", "down")

    async def policy_history(self, name: str) -> list[PolicyVersion]:
        return []

    async def rollback(self, name: str, version: int, author: str) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def backend() -> MemoryBackend:
    b = MemoryBackend()
    b.add("acme", "sk-acme", policies={"staticRules": {"a": "ALLOW"}})
    return b


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache(backend: MemoryBackend, clock: Clock, ttl: float = 5, stale: float = 60, retry: float | None = 1) -> CachedConfigStore:
    return CachedConfigStore(backend, ttl_seconds=ttl, stale_seconds=stale, clock=clock, retry_seconds=retry)


async def test_reads_within_the_ttl_are_served_from_memory(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock)
    for _ in range(20):
        assert (await store.find_by_key_hash(api_key_sha256("sk-acme"))).name == "acme"
        assert (await store.get_project("acme")).name == "acme"
        assert [p.name for p in await store.list_projects()] == ["acme"]
    assert backend.reads == 1


async def test_a_change_in_the_backend_shows_after_the_ttl(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock)
    await store.get_project("acme")
    backend.add("acme", "sk-rotated")
    clock.now += 4.9
    assert (await store.get_project("acme")).api_key_sha256 == api_key_sha256("sk-acme")
    clock.now += 0.2
    assert (await store.get_project("acme")).api_key_sha256 == api_key_sha256("sk-rotated")
    assert await store.find_by_key_hash(api_key_sha256("sk-acme")) is None
    assert backend.reads == 2


async def test_unknown_keys_are_answered_without_asking_the_backend(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock)
    for i in range(200):
        assert await store.find_by_key_hash(api_key_sha256(f"sk-guess-{i}")) is None
    assert await store.get_project("nobody") is None
    assert backend.reads == 1


async def test_last_good_config_serves_while_the_store_is_down_then_fails_closed(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock, ttl=5, stale=60)
    assert (await store.get_project("acme")) is not None  # last good read at t=1000
    backend.down = ConfigStoreError("config_unavailable", "connection refused")
    clock.now += 30
    assert (await store.find_by_key_hash(api_key_sha256("sk-acme"))).name == "acme"
    clock.now += 30  # exactly the bound: still served
    assert (await store.get_project("acme")) is not None
    clock.now += 0.5
    with pytest.raises(ConfigStoreError) as caught:
        await store.find_by_key_hash(api_key_sha256("sk-acme"))
    assert caught.value.code == "config_unavailable"
    assert "connection refused" in caught.value.message


async def test_the_store_coming_back_ends_the_outage(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock, ttl=5, stale=10)
    await store.list_projects()
    backend.down = OSError("refused")
    clock.now += 20
    with pytest.raises(ConfigStoreError):
        await store.list_projects()
    backend.down = None
    clock.now += 1  # past the retry interval
    assert [p.name for p in await store.list_projects()] == ["acme"]


async def test_with_nothing_loaded_yet_an_outage_fails_at_once(backend: MemoryBackend, clock: Clock) -> None:
    backend.down = ConfigStoreError("config_unavailable", "refused")
    with pytest.raises(ConfigStoreError) as caught:
        await cache(backend, clock).find_by_key_hash(api_key_sha256("sk-acme"))
    assert caught.value.code == "config_unavailable"


async def test_an_unwrapped_driver_error_is_config_unavailable(backend: MemoryBackend, clock: Clock) -> None:
    backend.down = RuntimeError("driver bug")
    with pytest.raises(ConfigStoreError) as caught:
        await cache(backend, clock).list_projects()
    assert caught.value.code == "config_unavailable"


async def test_while_down_the_backend_is_asked_once_per_retry_interval(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock, ttl=5, stale=60, retry=2)
    await store.list_projects()
    backend.down = OSError("refused")
    clock.now += 6
    for _ in range(50):
        await store.list_projects()
    assert backend.reads == 2
    clock.now += 2
    for _ in range(50):
        await store.list_projects()
    assert backend.reads == 3


async def test_many_concurrent_reads_after_the_ttl_make_one_backend_read(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock)
    await store.list_projects()
    clock.now += 10
    backend.delay = 0.05
    results = await asyncio.gather(*(store.get_project("acme") for _ in range(100)))
    assert all(r is not None for r in results)
    assert backend.reads == 2


async def test_first_concurrent_reads_all_wait_for_the_one_read(backend: MemoryBackend, clock: Clock) -> None:
    backend.delay = 0.05
    store = cache(backend, clock)
    results = await asyncio.gather(*(store.find_by_key_hash(api_key_sha256("sk-acme")) for _ in range(50)))
    assert {r.name for r in results if r} == {"acme"} and len(results) == 50
    assert backend.reads == 1


async def test_a_write_through_the_cache_is_seen_by_the_next_read(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock, ttl=3600)
    await store.list_projects()
    await store.create_project("beta", api_key_sha256("sk-beta"))
    assert (await store.find_by_key_hash(api_key_sha256("sk-beta"))).name == "beta"
    await store.set_api_key("beta", api_key_sha256("sk-beta-2"))
    assert (await store.get_project("beta")).api_key_sha256 == api_key_sha256("sk-beta-2")


async def test_a_failed_write_still_refreshes_and_raises(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock, ttl=3600)
    await store.list_projects()
    with pytest.raises(ConfigStoreError):
        await store.push_policy("acme", {}, "alice")
    await store.list_projects()
    assert backend.reads == 2


async def test_awaiting_the_cache_opens_it_and_loads_once(backend: MemoryBackend, clock: Clock) -> None:
    await cache(backend, clock)
    assert backend.reads == 1
    async with cache(backend, clock) as second:
        assert await second.get_project("acme") is not None
    assert backend.closed


async def test_awaiting_the_cache_raises_when_the_store_is_down(backend: MemoryBackend, clock: Clock) -> None:
    backend.down = OSError("refused")
    with pytest.raises(ConfigStoreError):
        await cache(backend, clock)


async def test_a_stale_bound_shorter_than_the_ttl_is_raised_to_it(backend: MemoryBackend, clock: Clock) -> None:
    store = cache(backend, clock, ttl=10, stale=0)
    await store.list_projects()
    backend.down = OSError("refused")
    clock.now += 9
    assert await store.get_project("acme") is not None  # fresh within the TTL, no read at all
    assert backend.reads == 1


def test_negative_durations_are_refused(backend: MemoryBackend) -> None:
    with pytest.raises(ValueError):
        CachedConfigStore(backend, ttl_seconds=-1, stale_seconds=10)


async def test_open_config_store_takes_a_yaml_path_or_settings_from_the_environment(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from interceptor.config import ConfigStoreSettings, YamlConfigStore, open_config_store

    for name in ("SENTINEL_DATABASE_URL", "SUPABASE_PROJECT_URL", "SUPABASE_SERVICE_ROLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "s.yaml"
    await YamlConfigStore(path).create_project("acme", api_key_sha256("sk-acme"))
    monkeypatch.setenv("SENTINEL_CONFIG", str(path))
    for settings in (str(path), path, ConfigStoreSettings()):
        store = open_config_store(settings)
        assert isinstance(store.store, YamlConfigStore)
        assert (await store.find_by_key_hash(api_key_sha256("sk-acme"))).name == "acme"
        await store.close()

"""Attacks on the config stores, one per test, each named after the attack.

Each test fails if its defence is removed: the constant-time key lookup, the
cache in front of the backend, the stale bound, the hashed-only key storage,
row-level security on the tables, and secrets kept out of errors.
"""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path

import asyncpg
import pytest

from interceptor.config import (
    CachedConfigStore,
    ConfigStoreError,
    PostgresConfigStore,
    Project,
    YamlConfigStore,
    _records,
    api_key_sha256,
)
from sentinel_cli import main
from tests.conftest import POSTGRES_DSN

PROJECTS = [Project(name=f"p{i}", api_key_sha256=api_key_sha256(f"sk-{i}")) for i in range(16)]


class CountingBackend:
    def __init__(self, projects: list[Project]) -> None:
        self.projects, self.reads, self.down = projects, 0, False

    async def list_projects(self) -> list[Project]:
        self.reads += 1
        if self.down:
            raise ConfigStoreError("config_unavailable", "refused")
        return list(self.projects)

    async def close(self) -> None:
        return None


def _comparisons(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    seen: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        seen.append(a)
        return real(a, b)

    monkeypatch.setattr(_records.hmac, "compare_digest", counting)
    return seen


@pytest.mark.parametrize("position", [0, 7, 15])
def test_key_hash_timing_probe_sees_every_project_compared(monkeypatch: pytest.MonkeyPatch, position: int) -> None:
    # An attacker timing lookups must not learn where (or whether) a hash matched:
    # every lookup compares against every project, in full, with compare_digest.
    seen = _comparisons(monkeypatch)
    found = _records.find_by_key_hash(PROJECTS, api_key_sha256(f"sk-{position}"))
    assert found is PROJECTS[position]
    hits = list(seen)
    seen.clear()
    assert _records.find_by_key_hash(PROJECTS, api_key_sha256("sk-wrong")) is None
    assert len(hits) == len(seen) == len(PROJECTS)
    seen.clear()
    assert _records.find_by_key_hash(PROJECTS, api_key_sha256("sk-3")[:10]) is None  # a prefix probe
    assert len(seen) == len(PROJECTS)


def test_key_hash_probe_against_a_project_without_a_key_finds_nothing() -> None:
    keyless = [Project(name="draft", api_key_sha256="")]
    assert _records.find_by_key_hash(keyless, "") is None
    assert _records.find_by_key_hash(keyless, "0" * 64) is None


async def test_wrong_key_flood_never_reaches_the_backend() -> None:
    backend = CountingBackend(PROJECTS)
    cache = CachedConfigStore(backend, ttl_seconds=5, stale_seconds=60)
    results = await asyncio.gather(*(cache.find_by_key_hash(api_key_sha256(f"guess-{i}")) for i in range(500)))
    assert results == [None] * 500
    assert backend.reads == 1


async def test_outage_replay_with_a_revoked_key_fails_closed_after_the_stale_bound() -> None:
    # A key revoked during a long store outage must not keep working forever from the cache.
    now = [0.0]
    backend = CountingBackend(PROJECTS)
    cache = CachedConfigStore(backend, ttl_seconds=5, stale_seconds=60, clock=lambda: now[0], retry_seconds=1)
    assert await cache.find_by_key_hash(api_key_sha256("sk-1")) is not None
    backend.down = True
    now[0] = 61
    with pytest.raises(ConfigStoreError) as caught:
        await cache.find_by_key_hash(api_key_sha256("sk-1"))
    assert caught.value.code == "config_unavailable"


async def test_store_outage_is_not_reported_as_a_wrong_key() -> None:
    # "No project" would become a 401 and hide the outage; it must be an error (503).
    backend = CountingBackend(PROJECTS)
    backend.down = True
    with pytest.raises(ConfigStoreError):
        await CachedConfigStore(backend, ttl_seconds=5, stale_seconds=60).find_by_key_hash(api_key_sha256("sk-1"))


def test_config_file_theft_reveals_no_api_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    assert main(["keys", "create", "--project", "acme", "--config", str(config)]) == 0
    key = capsys.readouterr().out.strip()
    stolen = config.read_bytes()
    assert key.encode() not in stolen and key.removeprefix("sk-sentinel-").encode() not in stolen
    assert api_key_sha256(key).encode() in stolen


def test_new_config_file_is_not_readable_by_other_users(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    main(["keys", "create", "--project", "acme", "--config", str(config)])
    capsys.readouterr()
    assert config.stat().st_mode & 0o077 == 0


async def test_plaintext_key_written_as_a_hash_is_refused(tmp_path: Path) -> None:
    # A caller that passes the key itself instead of its hash must not store it.
    store = YamlConfigStore(tmp_path / "sentinel.yaml")
    with pytest.raises(ConfigStoreError) as caught:
        await store.create_project("acme", "sk-sentinel-" + "A" * 43)
    assert caught.value.code == "invalid_argument"
    assert not (tmp_path / "sentinel.yaml").exists()


def test_project_repr_in_a_log_line_leaks_no_key_hash() -> None:
    project = PROJECTS[0]
    assert project.api_key_sha256 not in repr(project) and project.api_key_sha256 not in str(project)


@pytest.mark.postgres
async def test_data_api_anon_role_reads_no_project_rows(pg_schema: str) -> None:
    # On Supabase the anon key is public; without row-level security it could read every key hash.
    store = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
    await store.open()
    await store.close()
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        rows = await conn.fetch(
            "select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = $1 and c.relname in ('projects', 'policy_versions') order by c.relname",
            pg_schema,
        )
    finally:
        await conn.close()
    assert [(r["relname"], r["relrowsecurity"]) for r in rows] == [("policy_versions", True), ("projects", True)]


async def test_a_rotated_api_key_stops_working_within_the_cache_ttl(tmp_path: Path) -> None:
    # The operator guide's promise for `sentinel keys create --rotate`, against a running interceptor.
    import shutil
    import subprocess
    import sys

    from interceptor.testing import running_interceptor

    config = tmp_path / "sentinel.yaml"
    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml", config)

    def create(*extra: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "sentinel_cli", "keys", "create", "--project", "acme",
                               "--config", str(config), *extra], capture_output=True, text=True, timeout=60, check=True)
        return proc.stdout.strip()

    old = create()
    async with running_interceptor(None, config_path=config, config_cache_ttl_seconds=0.2,  # type: ignore[arg-type]
                                   audit_log=tmp_path / "audit.jsonl") as harness:
        start = {"X-Sentinel-Key": old}
        assert (await harness.client.post("/session/start", headers=start)).status_code == 200
        new = create("--rotate")
        await asyncio.sleep(0.5)
        assert (await harness.client.post("/session/start", headers=start)).status_code == 401
        assert (await harness.client.post("/session/start", headers={"X-Sentinel-Key": new})).status_code == 200


async def test_duplicate_key_smuggling_a_later_allow_past_validate_fails_closed(tmp_path: Path) -> None:
    # `staticRules: {x: DENY, x: ALLOW}` read last-wins would validate and load ALLOW;
    # the file is invalid instead, and the interceptor serves no call from it.
    from interceptor.testing import running_interceptor

    config = tmp_path / "sentinel.yaml"
    config.write_text(
        "projects:\n  - name: a\n"
        f"    api_key_sha256: {api_key_sha256('sk-a')}\n"
        "    tools: []\n    policies:\n      staticRules: {x: DENY, x: ALLOW}\n"
    )
    assert main(["policy", "validate", str(config)]) == 2
    async with running_interceptor(None, config_path=config, audit_log=tmp_path / "audit.jsonl") as harness:  # type: ignore[arg-type]
        response = await harness.client.post("/session/start", headers={"X-Sentinel-Key": "sk-a"})
        assert response.status_code == 503 and response.json()["error"]["code"] == "config_unavailable"


async def test_push_of_an_ambiguous_scalar_cannot_flip_a_deny_list(tmp_path: Path) -> None:
    # A deny list of "off"/"no" must not come back as [False, False] after a push (YAML 1.1 reader).
    store = YamlConfigStore(tmp_path / "sentinel.yaml")
    await store.create_project("a", api_key_sha256("sk-a"))
    rule = {"name": "no-off", "effect": "deny", "when": {"tool": "set_mode", "args": {"mode": {"in": ["off", "no", "1:20"]}}}}
    await store.push_policy("a", {"default": "allow", "rules": [rule]}, "alice")
    project = await YamlConfigStore(tmp_path / "sentinel.yaml").get_project("a")
    assert project is not None and project.policies["rules"][0]["when"]["args"]["mode"]["in"] == ["off", "no", "1:20"]


@pytest.mark.parametrize("policies", [
    {"rules": [{"name": "r", "effect": "allow", "when": {"tool": "t", "args": {"amount": {"lt": float("inf")}}}}]},
    {"rules": [{"name": "r", "effect": "deny", "when": {"tool": "t", "args": {"amount": {"gt": 10**23}}}}]},
])
async def test_non_json_policy_value_is_never_stored_as_something_else(tmp_path: Path, policies: dict[str, object]) -> None:
    # Infinity stored as null made every call of the project fail; a 24-digit integer was a bare driver error.
    store = YamlConfigStore(tmp_path / "sentinel.yaml")
    await store.create_project("a", api_key_sha256("sk-a"))
    with pytest.raises(ConfigStoreError) as caught:
        await store.push_policy("a", policies, "mallory")
    assert caught.value.code == "invalid_argument" and "not a JSON value" in caught.value.message
    assert (await store.policy_history("a")) == []

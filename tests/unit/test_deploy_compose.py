"""docker-compose.yml: zone isolation, every variable the services read, and `docker compose config`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from interceptor.settings import InterceptorSettings
from mcp_server.settings import McpSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
NETWORKS: dict[str, Any] = COMPOSE.get("networks") or {}


def env_names(settings: type[BaseSettings]) -> dict[str, set[str]]:
    """field -> the environment variable names that set it (upper case), as pydantic-settings reads them."""
    prefix = str(settings.model_config.get("env_prefix") or "")
    names: dict[str, set[str]] = {}
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names[field_name] = {str(choice).upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names[field_name] = {alias.upper()}
        else:
            names[field_name] = {(prefix + field_name).upper()}
    return names


def service_env(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k).upper(): str(v) for k, v in env.items()}


def networks_of(service: str) -> set[str]:
    nets = SERVICES[service].get("networks") or ["default"]
    return set(nets if isinstance(nets, list) else nets.keys())


def is_internal(network: str) -> bool:
    return bool((NETWORKS.get(network) or {}).get("internal", False))


def test_the_three_services_exist_and_are_built_from_the_project() -> None:
    assert {"redis", "interceptor", "mcp"} <= set(SERVICES)
    for name in ("interceptor", "mcp"):
        build = SERVICES[name]["build"]
        dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        context = build.get("context", ".") if isinstance(build, dict) else build
        assert (ROOT / context / dockerfile).is_file()


def test_the_tool_server_publishes_no_port() -> None:
    assert not SERVICES["mcp"].get("ports")
    assert SERVICES["mcp"].get("network_mode") is None  # host networking would bypass every network rule


def test_the_tool_server_is_only_on_internal_networks() -> None:
    for network in networks_of("mcp"):
        assert is_internal(network), f"mcp joins {network}, which is not internal"


def test_the_tool_server_is_not_on_the_interceptors_public_network() -> None:
    public = {n for n in networks_of("interceptor") if not is_internal(n)}
    assert public, "the interceptor needs a public network"
    assert not public & networks_of("mcp")


def test_only_the_interceptor_shares_the_tool_servers_zone_network() -> None:
    # The network that carries the signed calls: mcp and the interceptor, and nobody else.
    shared = networks_of("mcp") & networks_of("interceptor")
    zone_c = {n for n in shared if {s for s in SERVICES if n in networks_of(s)} == {"mcp", "interceptor"}}
    assert zone_c, "no internal network joined by exactly the interceptor and the tool server"


def test_the_interceptor_is_published_and_reaches_both_redis_and_mcp() -> None:
    assert SERVICES["interceptor"].get("ports")
    assert networks_of("interceptor") & networks_of("mcp")
    assert networks_of("interceptor") & networks_of("redis")
    assert networks_of("mcp") & networks_of("redis")
    assert not SERVICES["redis"].get("ports")


def test_every_service_has_a_healthcheck_and_waits_for_its_dependencies() -> None:
    for name in ("redis", "interceptor", "mcp"):
        assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert SERVICES["interceptor"]["depends_on"]["mcp"]["condition"] == "service_healthy"
    assert SERVICES["interceptor"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert SERVICES["mcp"]["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize(("service", "settings"), [("interceptor", InterceptorSettings), ("mcp", McpSettings)])
def test_every_variable_the_service_reads_is_set(service: str, settings: type[BaseSettings]) -> None:
    env = service_env(service)
    missing = {field: names for field, names in env_names(settings).items() if not names & env.keys()}
    assert not missing, f"{service} does not set {missing}"


def test_required_secrets_come_from_env_and_fail_loudly_when_missing() -> None:
    assert service_env("interceptor")["SENTINEL_IDENTITY_KEY"].startswith("${SENTINEL_IDENTITY_KEY:?")
    assert service_env("mcp")["SENTINEL_INTERCEPTOR_PUBLIC_KEYS"].startswith("${SENTINEL_INTERCEPTOR_PUBLIC_KEYS:?")


def test_the_tool_server_never_receives_the_interceptors_secrets() -> None:
    env = service_env("mcp")
    for secret in ("SENTINEL_IDENTITY_KEY", "SENTINEL_API_KEY", "SENTINEL_DATABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"):
        assert secret not in env
    assert not SERVICES["mcp"].get("env_file"), "env_file would hand the whole .env, private key included, to Zone C"
    assert not SERVICES["interceptor"].get("env_file")


def test_signature_checks_cannot_be_switched_off_from_env() -> None:
    assert service_env("mcp")["SENTINEL_MCP_VERIFY"] == "true"


def test_the_zones_use_separate_redis_prefixes_and_the_compose_redis() -> None:
    icp, mcp = service_env("interceptor"), service_env("mcp")
    assert icp["SENTINEL_REDIS_URL"].startswith("redis://redis:")
    assert mcp["SENTINEL_REDIS_URL"].startswith("redis://redis:")
    a, b = icp["SENTINEL_REDIS_PREFIX"], mcp["SENTINEL_REDIS_PREFIX"]
    assert not a.startswith(b) and not b.startswith(a)
    assert icp["MCP_UPSTREAM_URL"] == "http://mcp:9000"


def test_both_zones_agree_on_the_tool_servers_id() -> None:
    assert service_env("interceptor")["SENTINEL_MCP_ID"] == service_env("mcp")["SENTINEL_MCP_ID"]


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"the docker compose plugin is not installed ({(probe.stderr or probe.stdout).strip()[:120]})")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env |= {"SENTINEL_IDENTITY_KEY": "test-seed", "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": "test-public"}
    result = subprocess.run(
        [docker, "compose", "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 0, result.stderr

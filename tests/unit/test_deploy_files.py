"""The Dockerfile, .env.example and scripts/: what an operator relies on without reading the code."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import AliasChoices

from interceptor.settings import InterceptorSettings
from mcp_server.settings import McpSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
BRIEF_VARIABLES = [
    "SENTINEL_API_KEY", "SENTINEL_URL", "MCP_UPSTREAM_URL", "SUPABASE_PROJECT_URL", "SUPABASE_SERVICE_ROLE_KEY",
    "OPENROUTER_API_KEY", "OPENROUTER_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "SENTINEL_IDENTITY_KEY",
    "SENTINEL_INTERCEPTOR_PUBLIC_KEYS", "SENTINEL_MCP_ID", "SENTINEL_REDIS_URL", "SENTINEL_DATABASE_URL",
    "SENTINEL_CONFIG", "SENTINEL_AUDIT_LOG", "SENTINEL_MCP_AUDIT_LOG", "SENTINEL_MCP_DATA_DIR",
]


def read_elsewhere() -> set[str]:
    """Variables read outside the settings classes: `os.environ`/`env.get` in the code, `${VAR:-...}` in scripts."""
    names: set[str] = set()
    for package in ("interceptor", "mcp_server", "sentinel_cli", "sentinel_sdk", "sentinel_agent", "rule_maker"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(r"""(?:environ|env)(?:\.get\(|\[)["']([A-Z][A-Z0-9_]+)["']""", path.read_text()))
    for path in (ROOT / "scripts").glob("*.sh"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", path.read_text()))
    return names - {"USER", "PYTHON"}


def settings_variables() -> set[str]:
    names: set[str] = set()
    for settings in (InterceptorSettings, McpSettings):
        prefix = str(settings.model_config.get("env_prefix") or "")
        for name, field in settings.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.add(str(alias.choices[0]).upper())
            elif isinstance(alias, str):
                names.add(alias.upper())
            else:
                names.add((prefix + name).upper())
    return names


# -- Dockerfile ---------------------------------------------------------------


def test_image_is_python_311_slim() -> None:
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, flags=re.M)
    assert froms and all(image == "python:3.11-slim" for image in froms)


def test_image_runs_as_a_non_root_user() -> None:
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, flags=re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_image_installs_exactly_the_locked_server_dependencies() -> None:
    assert re.search(r"pip install --require-hashes --no-deps -r requirements-server.lock", DOCKERFILE)
    assert re.search(r"pip install --no-deps --no-build-isolation \.", DOCKERFILE)
    locked = (ROOT / "requirements-server.lock").read_text()
    assert "--hash=sha256:" in locked and "\npytest==" not in locked


def test_image_copies_every_package_the_project_ships() -> None:
    # A package left out of the image fails only when a service imports it at run time.
    import tomllib

    includes = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {line.split()[0] for line in re.findall(r"^COPY\s+(?!--from)(.+)$", DOCKERFILE, flags=re.M)}
    assert {pattern.rstrip("*") for pattern in includes} <= copied


def test_image_never_copies_secrets_or_the_whole_tree() -> None:
    copies = re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", DOCKERFILE, flags=re.M)
    sources = [part for line in copies for part in line.split()[:-1]]
    assert "." not in sources and ".env" not in sources and not any(s.startswith(".env") for s in sources)


def test_the_two_services_default_redis_prefixes_are_disjoint() -> None:
    # One ACL key pattern per service (`~PREFIX*`) must not reach the other service's keys.
    interceptor = InterceptorSettings.model_fields["redis_prefix"].default
    mcp = McpSettings.model_fields["redis_prefix"].default
    assert not interceptor.startswith(mcp) and not mcp.startswith(interceptor)


# -- .env.example -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(BRIEF_VARIABLES) | settings_variables() | read_elsewhere()))
def test_every_variable_is_documented_in_env_example(name: str) -> None:
    assert re.search(rf"^#?\s*{name}=", ENV_EXAMPLE, flags=re.M), f"{name} is not in .env.example"


def test_env_example_holds_no_real_secret() -> None:
    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", ENV_EXAMPLE, flags=re.M))
    for name in ("SENTINEL_IDENTITY_KEY", "SENTINEL_PREVIOUS_IDENTITY_KEYS", "SUPABASE_SERVICE_ROLE_KEY", "OPENROUTER_API_KEY",
                 "OPENAI_API_KEY", "SENTINEL_DATABASE_URL"):
        assert values[name] == "", f"{name} must be empty in .env.example"
    assert "SENTINEL_MCP_VERIFY=false" not in values


# -- scripts ------------------------------------------------------------------


@pytest.mark.parametrize("script", ["run-interceptor.sh", "run-mcp.sh", "gen-keys.sh"])
def test_scripts_are_executable_bash(script: str) -> None:
    path = ROOT / "scripts" / script
    assert path.stat().st_mode & stat.S_IXUSR
    subprocess.run(["bash", "-n", str(path)], check=True, timeout=10)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of scripts/ and .env.example, so the scripts' .env is a temporary one."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    return tmp_path


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_", "OPENAI_", "OPENROUTER_"))}
    return env | {"PYTHON": sys.executable, "PYTHONPATH": str(ROOT)} | extra


def test_gen_keys_writes_a_key_pair_into_a_private_env_file(sandbox: Path) -> None:
    result = subprocess.run(
        ["bash", str(sandbox / "scripts" / "gen-keys.sh"), "--write"], capture_output=True, text=True, timeout=60, env=script_env()
    )
    assert result.returncode == 0, result.stderr
    env_file = sandbox / ".env"
    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", env_file.read_text(), flags=re.M))
    assert len(values["SENTINEL_IDENTITY_KEY"]) == 43 and len(values["SENTINEL_INTERCEPTOR_PUBLIC_KEYS"]) == 43
    assert values["SENTINEL_IDENTITY_KEY"] not in result.stdout + result.stderr  # the secret is never printed
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    again = subprocess.run(["bash", str(sandbox / "scripts" / "gen-keys.sh"), "--write"], capture_output=True, text=True, timeout=60, env=script_env())
    assert again.returncode != 0  # never silently replaces a key in use
    assert dict(re.findall(r"^([A-Z_]+)=(.*)$", env_file.read_text(), flags=re.M)) == values


def test_run_mcp_never_hands_the_identity_key_to_the_tool_server(sandbox: Path) -> None:
    fake_python = sandbox / "fake-python"
    fake_python.write_text("#!/usr/bin/env bash\nenv\n")
    fake_python.chmod(0o755)
    (sandbox / ".env").write_text(
        "SENTINEL_IDENTITY_KEY=private-seed-value\nSENTINEL_INTERCEPTOR_PUBLIC_KEYS=public-value\n"
        "SUPABASE_SERVICE_ROLE_KEY=service-role\nSENTINEL_API_KEY=agent-key\n"
    )
    result = subprocess.run(
        ["bash", str(sandbox / "scripts" / "run-mcp.sh")], capture_output=True, text=True, timeout=30,
        env=script_env(PYTHON=str(fake_python)),
    )
    assert result.returncode == 0, result.stderr
    assert "SENTINEL_INTERCEPTOR_PUBLIC_KEYS=public-value" in result.stdout
    for secret in ("private-seed-value", "service-role", "agent-key"):
        assert secret not in result.stdout


@pytest.mark.parametrize(("script", "needs"), [("run-mcp.sh", "SENTINEL_INTERCEPTOR_PUBLIC_KEYS"), ("run-interceptor.sh", "SENTINEL_IDENTITY_KEY")])
def test_run_scripts_explain_a_missing_key(sandbox: Path, script: str, needs: str) -> None:
    (sandbox / ".env").write_text(f"{needs}=\n")
    result = subprocess.run(["bash", str(sandbox / "scripts" / script)], capture_output=True, text=True, timeout=30, env=script_env())
    assert result.returncode == 1
    assert needs in result.stderr and "gen-keys.sh" in result.stderr

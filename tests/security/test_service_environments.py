"""Zone C never sees a secret of Zone B: each way of starting the tool server is checked from outside.

Attack: read the tool server's process environment (a debugging endpoint, a
crash dump, a compromised tool) and find the interceptor's identity seed, or a
previous one kept for rotation. With it anyone can register a session and sign
calls that no policy ever decided. Defence: the tool server is started with an
allowlist of its own settings (McpSettings), never with what is left after
dropping a list of known secrets.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from mcp_server.settings import McpSettings
from sentinel_contract import b64url_encode, generate_keypair
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MCP_VARIABLES = {f"SENTINEL_{name.upper()}" for name in McpSettings.model_fields}
# Secrets of other zones and services, as an operator's .env holds them.
SECRETS = {
    "SENTINEL_IDENTITY_KEY": b64url_encode(generate_keypair().seed),
    "SENTINEL_PREVIOUS_IDENTITY_KEYS": b64url_encode(generate_keypair().seed),
    "SENTINEL_API_KEY": "sk-live-secret",
    "SENTINEL_DATABASE_URL": "postgresql://app:hunter2@db/sentinel",
    "SUPABASE_SERVICE_ROLE_KEY": "service-role-secret",
    "OPENROUTER_API_KEY": "sk-or-secret",
    "SOME_FUTURE_SECRET": "added-to-env-later",
}


def process_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_the_run_script_allowlists_every_tool_server_setting() -> None:
    script = (ROOT / "scripts" / "run-mcp.sh").read_text()
    listed = script.split("MCP_SETTINGS=(", 1)[1].split(")", 1)[0].split()
    assert set(listed) == MCP_VARIABLES


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_the_run_script_starts_the_tool_server_with_no_secret(tmp_path: Path) -> None:
    port = free_port()
    identity = generate_keypair()
    env = {**os.environ, **SECRETS, "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
           "SENTINEL_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "SENTINEL_MCP_DATA_DIR": str(tmp_path / "data")}
    env.pop("SENTINEL_REDIS_URL", None)
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run-mcp.sh"), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        seen: dict[str, str] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            # The script execs the server: the same pid, once its command line is the server's.
            if b"sentinel_cli" in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                seen = process_environment(proc.pid)
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the tool server did not start"
        assert seen.get("SENTINEL_INTERCEPTOR_PUBLIC_KEYS") == identity.public_b64
        assert set(seen) & set(SECRETS) == set()
        assert not any(value in SECRETS.values() for value in seen.values())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_compose_gives_the_tool_server_only_its_own_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = next(s for name, s in compose["services"].items() if "9000" in str(s.get("environment", {})))
    assert "env_file" not in service
    given = set(service["environment"])
    assert given - MCP_VARIABLES <= {"SENTINEL_HEALTH_PORT"}


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_sentinel_up_starts_the_tool_server_with_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentinel_cli.run import start_mcp, stop_processes

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    identity = generate_keypair()
    _, proc = start_mcp(identity_public=identity.public_b64, var_dir=tmp_path)
    try:
        seen = process_environment(proc.pid)
        assert seen.get("SENTINEL_INTERCEPTOR_PUBLIC_KEYS") == identity.public_b64
        assert set(seen) & set(SECRETS) == set()
        assert not any(value in SECRETS.values() for value in seen.values())
    finally:
        stop_processes([proc])

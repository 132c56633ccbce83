"""No config, no start: the default config is the user's own file, which `sentinel init` writes (issue 17).

Each test runs the real command in a scratch folder, with XDG_CONFIG_HOME pointing
into it, so the machine's own ~/.config is never read or written.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from sentinel_cli.run import DEMO_API_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sentinel.yaml"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_")) and k != "XDG_CONFIG_HOME"}
    return env | {"XDG_CONFIG_HOME": str(tmp_path / "xdg")} | extra


def _sentinel(tmp_path: Path, *argv: str, cwd: Path | None = None, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", "sentinel_cli", *argv], cwd=cwd or tmp_path, env=_env(tmp_path, **extra),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`sentinel {' '.join(argv)}` kept running instead of refusing: {exc.stdout!r} {exc.stderr!r}")


def _repository_copy(tmp_path: Path) -> Path:
    """A folder laid out as the repository is, with its tracked example config."""
    repo = tmp_path / "repo"
    (repo / "examples").mkdir(parents=True)
    shutil.copy(EXAMPLE, repo / "examples" / "sentinel.yaml")
    return repo


def test_up_without_a_config_refuses_in_one_line_naming_sentinel_config_and_init(tmp_path: Path) -> None:
    repo = _repository_copy(tmp_path)  # even where a relative examples/sentinel.yaml exists, it is not the default
    proc = _sentinel(tmp_path, "up", "--port", str(free_port()), "--mcp-port", str(free_port()), "--var-dir", str(tmp_path / "var"),
                     cwd=repo, timeout=30)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Sentinel is up" not in proc.stdout
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "SENTINEL_CONFIG" in proc.stderr and "sentinel init" in proc.stderr
    assert str(tmp_path / "xdg" / "sentinel" / "sentinel.yaml") in proc.stderr


def test_the_interceptor_without_a_config_exits_non_zero_and_logs_why(tmp_path: Path) -> None:
    from sentinel_contract import b64url_encode, generate_keypair

    seed = b64url_encode(generate_keypair().seed)
    proc = _sentinel(tmp_path, "serve", "interceptor", "--port", str(free_port()), timeout=30, SENTINEL_IDENTITY_KEY=seed)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("sentinel serve interceptor: not starting: ")
    assert "no such config file" in proc.stderr and "SENTINEL_CONFIG" in proc.stderr and "sentinel init" in proc.stderr
    # SENTINEL_CONFIG naming a file that is not there: the same, with the path it named
    proc = _sentinel(tmp_path, "serve", "interceptor", "--port", str(free_port()), timeout=30, SENTINEL_IDENTITY_KEY=seed,
                     SENTINEL_CONFIG=str(tmp_path / "gone.yaml"))
    assert proc.returncode == 2 and f"{tmp_path / 'gone.yaml'}: no such config file (from SENTINEL_CONFIG)" in proc.stderr


def test_tools_push_without_a_config_never_rewrites_the_tracked_example(tmp_path: Path) -> None:
    repo = _repository_copy(tmp_path)
    before = (repo / "examples" / "sentinel.yaml").read_bytes()
    (repo / "tools.json").write_text('[{"name": "read_inbox", "description": "Read mail.", "class": "UNTRUSTED_READ"}]')
    proc = _sentinel(tmp_path, "tools", "push", "--project", "demo", "--tools", "tools.json", "--replace", cwd=repo)
    assert proc.returncode != 0, proc.stderr
    assert "sentinel init" in proc.stderr and "SENTINEL_CONFIG" in proc.stderr
    assert (repo / "examples" / "sentinel.yaml").read_bytes() == before


def test_init_writes_the_default_config_and_up_serves_its_key(tmp_path: Path) -> None:
    init = _sentinel(tmp_path, "init")
    assert init.returncode == 0, init.stderr
    key = init.stdout.strip()
    assert init.stdout == key + "\n" and key.startswith("sk-sentinel-")
    config = tmp_path / "xdg" / "sentinel" / "sentinel.yaml"
    text = config.read_text()
    assert key not in text and stat.S_IMODE(config.stat().st_mode) == 0o600
    project = yaml.safe_load(text)["projects"][0]
    assert project["name"] == "default" and project["policy_version"] == 1
    from mcp_server.demo import tool_definitions

    assert [t["name"] for t in project["tools"]] == [t["name"] for t in tool_definitions()]
    assert _sentinel(tmp_path, "policy", "validate", str(config)).returncode == 0

    port, mcp_port = free_port(), free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "sentinel_cli", "up", "--port", str(port), "--mcp-port", str(mcp_port), "--var-dir", str(tmp_path / "var")],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        seen = []
        assert up.stdout is not None
        for line in up.stdout:
            seen.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        assert any(f"config: {config}" in line for line in seen), "".join(seen)
        assert not any(DEMO_API_KEY in line for line in seen)  # this config does not take the demo key
        url = f"http://127.0.0.1:{port}/session/start"
        assert httpx.post(url, headers={"X-Sentinel-Key": key}, timeout=5).status_code == 200
        assert httpx.post(url, headers={"X-Sentinel-Key": DEMO_API_KEY}, timeout=5).status_code == 401
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output


def test_init_never_overwrites_a_config(tmp_path: Path) -> None:
    assert _sentinel(tmp_path, "init").returncode == 0
    config = tmp_path / "xdg" / "sentinel" / "sentinel.yaml"
    before = config.read_bytes()
    again = _sentinel(tmp_path, "init")
    assert again.returncode == 1 and again.stdout == "" and "never overwrites" in again.stderr
    repo = _repository_copy(tmp_path)
    example = repo / "examples" / "sentinel.yaml"
    tracked = _sentinel(tmp_path, "init", "--path", str(example))
    assert tracked.returncode == 1 and tracked.stdout == "" and example.read_bytes() == EXAMPLE.read_bytes()
    assert config.read_bytes() == before
    # SENTINEL_CONFIG names the file Sentinel reads, so that is the one init writes
    elsewhere = tmp_path / "team" / "sentinel.yaml"
    named = _sentinel(tmp_path, "init", "--project", "team", SENTINEL_CONFIG=str(elsewhere))
    assert named.returncode == 0 and yaml.safe_load(elsewhere.read_text())["projects"][0]["name"] == "team"


def test_the_starter_policy_is_the_example_policy() -> None:
    from sentinel_cli.init import STARTER_POLICY

    example = yaml.safe_load(EXAMPLE.read_text())["projects"][0]
    assert example["policies"] == STARTER_POLICY

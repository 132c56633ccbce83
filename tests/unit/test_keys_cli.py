"""`sentinel keys identity` and `sentinel keys create`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from interceptor.config import YamlConfigStore, api_key_sha256
from sentinel_cli import main
from sentinel_contract import load_public_key, load_signing_key

ROOT = Path(__file__).resolve().parents[2]


def _sync(awaitable):  # type: ignore[no-untyped-def]
    return asyncio.run(awaitable)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_identity_prints_a_seed_and_its_public_half(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "keys", "identity")
    assert code == 0
    lines = dict(line.split("=", 1) for line in out.splitlines())
    pair = load_signing_key(lines["SENTINEL_IDENTITY_KEY"])
    assert pair.public_b64 == lines["SENTINEL_INTERCEPTOR_PUBLIC_KEYS"]
    load_public_key(lines["SENTINEL_INTERCEPTOR_PUBLIC_KEYS"])
    _, again, _ = _run(capsys, "keys", "identity")
    assert again != out


def test_create_prints_a_key_that_then_authenticates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    code, out, err = _run(capsys, "keys", "create", "--project", "acme", "--config", str(config))
    assert code == 0
    key = out.strip()
    assert out == key + "\n" and key.startswith("sk-sentinel-") and len(key) >= len("sk-sentinel-") + 43
    assert "created project 'acme'" in err and key not in err
    found = _sync(YamlConfigStore(config).find_by_key_hash(api_key_sha256(key)))
    assert found is not None and found.name == "acme"
    text = config.read_text()
    assert key not in text and key.removeprefix("sk-sentinel-") not in text
    assert api_key_sha256(key) in text


def test_create_adds_a_project_to_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    config.write_text((ROOT / "examples" / "sentinel.yaml").read_text())
    _, out, _ = _run(capsys, "keys", "create", "--project", "acme", "--config", str(config))
    store = YamlConfigStore(config)
    assert [p.name for p in _sync(store.list_projects())] == ["demo", "acme"]
    assert (_sync(store.find_by_key_hash(api_key_sha256(out.strip())))).name == "acme"
    assert (_sync(store.find_by_key_hash(api_key_sha256("sk-sentinel-demo")))).name == "demo"
    assert config.read_text().startswith("# Sentinel config store: the demo project.")


def test_an_existing_project_keeps_its_key_unless_rotate_is_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    _, first, _ = _run(capsys, "keys", "create", "--project", "acme", "--config", str(config))
    code, out, err = _run(capsys, "keys", "create", "--project", "acme", "--config", str(config))
    assert code == 1 and out == "" and "--rotate" in err
    store = YamlConfigStore(config)
    assert (_sync(store.find_by_key_hash(api_key_sha256(first.strip())))) is not None
    code, second, err = _run(capsys, "keys", "create", "--project", "acme", "--config", str(config), "--rotate")
    assert code == 0 and "old key no longer works" in err
    assert _sync(store.find_by_key_hash(api_key_sha256(first.strip()))) is None
    assert (_sync(store.find_by_key_hash(api_key_sha256(second.strip())))).name == "acme"


def test_a_bad_project_name_is_refused_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "keys", "create", "--project", "no spaces", "--config", str(tmp_path / "s.yaml"))
    assert code == 1 and out == "" and "invalid_argument" in err
    assert not (tmp_path / "s.yaml").exists()


def test_the_store_comes_from_the_environment_and_config_overrides_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env, override = tmp_path / "env.yaml", tmp_path / "flag.yaml"
    for name in ("SENTINEL_DATABASE_URL", "SUPABASE_PROJECT_URL", "SUPABASE_SERVICE_ROLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SENTINEL_CONFIG", str(from_env))
    _, out, _ = _run(capsys, "keys", "create", "--project", "env")
    assert (_sync(YamlConfigStore(from_env).find_by_key_hash(api_key_sha256(out.strip())))).name == "env"
    # A database URL would win over SENTINEL_CONFIG; --config wins over both.
    monkeypatch.setenv("SENTINEL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    _, out, _ = _run(capsys, "keys", "create", "--project", "flag", "--config", str(override))
    assert (_sync(YamlConfigStore(override).find_by_key_hash(api_key_sha256(out.strip())))).name == "flag"


def test_the_console_script_runs_keys_create(tmp_path: Path) -> None:
    config = tmp_path / "s.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "keys", "create", "--project", "cli", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.startswith("sk-sentinel-") and result.stdout.count("\n") == 1
    assert api_key_sha256(result.stdout.strip()) in config.read_text()


def test_a_hand_written_project_without_a_key_gets_one_without_rotate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "s.yaml"
    config.write_text("projects:\n  - name: draft\n    tools: []\n    policies: {}\n")
    code, out, err = _run(capsys, "keys", "create", "--project", "draft", "--config", str(config))
    assert code == 0 and "first key" in err
    assert _sync(YamlConfigStore(config).find_by_key_hash(api_key_sha256(out.strip()))).name == "draft"


def test_rotating_the_key_of_a_project_that_does_not_exist_is_an_error_not_a_new_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sentinel.yaml"
    config.write_text((ROOT / "examples" / "sentinel.yaml").read_text())
    before = config.read_bytes()
    code, out, err = _run(capsys, "keys", "create", "--project", "dmeo", "--rotate", "--config", str(config))
    assert code == 1 and out == ""  # no key printed: nothing was rotated, nothing created
    assert err.count("\n") == 1 and "no project named 'dmeo'" in err and "known projects: demo" in err
    assert "sentinel keys create --project dmeo" in err  # how to create it, if that was meant
    assert config.read_bytes() == before
    # an empty store says so instead of listing nothing
    code, out, err = _run(capsys, "keys", "create", "--project", "acme", "--rotate", "--config", str(tmp_path / "new.yaml"))
    assert code == 1 and out == "" and "has no projects yet" in err and not (tmp_path / "new.yaml").exists()

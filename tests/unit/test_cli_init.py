"""`sentinel init`: refusals and the key-before-file order (the full flow with `sentinel up` is tests/e2e/test_init.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from interceptor.config import YamlConfigStore, api_key_sha256
from sentinel_cli import main


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SENTINEL_DATABASE_URL", "SUPABASE_PROJECT_URL", "SUPABASE_SERVICE_ROLE_KEY", "SENTINEL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_the_key_it_prints_is_the_one_the_file_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    assert main(["init", "--project", "acme"]) == 0
    key = capsys.readouterr().out.strip()
    store = YamlConfigStore(tmp_path / "xdg" / "sentinel" / "sentinel.yaml")
    project = asyncio.run(store.find_by_key_hash(api_key_sha256(key)))
    assert project is not None and project.name == "acme" and project.policy_version == 1
    assert [p.name for p in asyncio.run(store.list_projects())] == ["acme"]
    assert not [p for p in (tmp_path / "xdg" / "sentinel").iterdir() if p.name != "sentinel.yaml"]  # no draft left


def test_a_bad_project_name_is_refused_before_a_key_is_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--project", "no spaces"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "project name" in err and not (tmp_path / "xdg").exists()


def test_with_a_database_store_in_the_environment_it_wants_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", "postgresql://u:hunter2@127.0.0.1:1/db")
    assert main(["init"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "chooses the postgres config store" in err and "hunter2" not in err
    assert main(["init", "--path", str(tmp_path / "mine.yaml")]) == 0  # a file, named: written
    assert (tmp_path / "mine.yaml").is_file()


def test_a_key_that_cannot_be_printed_leaves_no_config(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PATH": "/usr/bin:/bin"}
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "sentinel_cli", "init"], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=60, env=env)
    assert result.returncode == 1 and "nothing was written" in result.stderr
    assert not (tmp_path / "xdg" / "sentinel" / "sentinel.yaml").exists()

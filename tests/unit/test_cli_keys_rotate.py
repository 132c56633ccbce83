"""`sentinel keys create --rotate`: the key is shown before its hash is stored, and the store write is a compare-and-set."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interceptor.config import ConfigStoreError, YamlConfigStore, api_key_sha256
from sentinel_cli import main


def _create(config: Path, *extra: str, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "keys", "create", "--project", "acme", "--config", str(config), *extra],
        stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "sentinel.yaml"
    first = _create(path)
    assert first.returncode == 0, first.stderr
    return path, first.stdout.strip()


@pytest.mark.parametrize("stdout", ["/dev/full", "closed"])
def test_a_rotation_whose_key_cannot_be_printed_changes_nothing(config: tuple[Path, str], stdout: str) -> None:
    # `--rotate > /dev/full` used to store the new hash, then crash: nobody had the key that worked.
    path, old_key = config
    before = path.read_text()
    if stdout == "/dev/full":
        with open("/dev/full", "w") as full:
            result = _create(path, "--rotate", stdout=full)
    else:
        read, write = os.pipe()
        os.close(read)  # the reader is gone: writing is a broken pipe
        try:
            result = _create(path, "--rotate", stdout=write)
        finally:
            os.close(write)
    assert result.returncode != 0
    assert "could not write the key to stdout; nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert path.read_text() == before
    found = asyncio.run(YamlConfigStore(path).find_by_key_hash(api_key_sha256(old_key)))
    assert found is not None and found.name == "acme"


def test_a_new_project_whose_key_cannot_be_printed_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "sentinel.yaml"
    with open("/dev/full", "w") as full:
        result = _create(path, stdout=full)
    assert result.returncode != 0 and "nothing was changed" in result.stderr
    assert not path.exists()


def test_the_key_is_printed_before_the_store_is_written(
    config: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = config
    printed: list[str] = []
    real = YamlConfigStore.set_api_key

    async def spy(self: YamlConfigStore, *args: Any, **kwargs: Any) -> None:
        printed.append(capsys.readouterr().out)
        await real(self, *args, **kwargs)

    monkeypatch.setattr(YamlConfigStore, "set_api_key", spy)
    assert main(["keys", "create", "--project", "acme", "--config", str(path), "--rotate"]) == 0
    assert len(printed) == 1 and printed[0].startswith("sk-sentinel-")
    assert asyncio.run(YamlConfigStore(path).find_by_key_hash(api_key_sha256(printed[0].strip()))) is not None


def test_a_concurrent_rotation_loses_with_a_conflict_not_silently(
    config: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another rotation lands between our read and our write: ours must fail, theirs stands.
    path, _ = config
    real = YamlConfigStore.set_api_key

    async def racing(self: YamlConfigStore, name: str, key_hash: str, **kwargs: Any) -> None:
        await real(YamlConfigStore(path), name, api_key_sha256("sk-theirs"))
        await real(self, name, key_hash, **kwargs)

    monkeypatch.setattr(YamlConfigStore, "set_api_key", racing)
    assert main(["keys", "create", "--project", "acme", "--config", str(path), "--rotate"]) == 1
    out, err = capsys.readouterr()
    assert "changed since it was read" in err and "(conflict)" in err
    found = asyncio.run(YamlConfigStore(path).find_by_key_hash(api_key_sha256("sk-theirs")))
    assert found is not None and found.name == "acme"
    assert asyncio.run(YamlConfigStore(path).find_by_key_hash(api_key_sha256(out.strip()))) is None


async def test_the_yaml_store_compare_and_set_refuses_a_stale_hash(config: tuple[Path, str]) -> None:
    path, old_key = config
    store = YamlConfigStore(path)
    with pytest.raises(ConfigStoreError) as caught:
        await store.set_api_key("acme", api_key_sha256("sk-x"), expected_sha256=api_key_sha256("sk-stale"))
    assert caught.value.code == "conflict"
    assert (await store.find_by_key_hash(api_key_sha256(old_key))) is not None

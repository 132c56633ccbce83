"""A store the CLI cannot reach is one line, within seconds, and a non-zero exit (issue 17).

Nothing listens on ``free_port()``: each connection is refused at once, so
whatever time a command takes beyond that is its own waiting and retrying.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sentinel_cli import main
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_store_in_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SENTINEL_DATABASE_URL", "SUPABASE_PROJECT_URL", "SUPABASE_SERVICE_ROLE_KEY", "SENTINEL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_experiments_with_an_unreachable_redis_fail_in_one_line_at_once(tmp_path: Path) -> None:
    url = f"redis://sentinel:hunter2@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "experiments", "run", "--redis", url, "--policy", "baseline",
         "--scenario", "q3-summary", "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot reach Redis at redis://sentinel:***@127.0.0.1:" in proc.stderr and "hunter2" not in proc.stderr
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert not (tmp_path / "out" / "stacks").exists()  # refused before any stack started


def test_a_redis_url_that_is_not_one_is_refused_the_same_way(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["experiments", "run", "--redis", "http://127.0.0.1:1", "--policy", "baseline", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "is not a Redis URL" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["policy", "history", "demo"],
    ["policy", "pull", "demo"],
    ["keys", "create", "--project", "acme"],
])
@pytest.mark.parametrize("store", ["postgres", "supabase"])
def test_a_config_store_that_does_not_answer_is_one_line_within_seconds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], store: str
) -> None:
    port = free_port()
    if store == "postgres":
        monkeypatch.setenv("SENTINEL_DATABASE_URL", f"postgresql://sentinel:hunter2@127.0.0.1:{port}/sentinel")
    else:  # the Supabase client retried each read three times with a growing backoff (seconds)
        supabase = pytest.importorskip("supabase")
        if not hasattr(supabase, "acreate_client"):
            pytest.skip("the installed supabase lacks acreate_client, the client API the store uses (test_config_stores fails too)")
        monkeypatch.setenv("SUPABASE_PROJECT_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-secret")
    started = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "unreachable" in err, err
    assert "hunter2" not in err and "service-secret" not in err
    assert elapsed < 3, f"took {elapsed:.1f} s"

"""`sentinel connect` that cannot start says why in one line on stderr, exits 2, and writes nothing on stdout.

Stdout is the MCP channel a desktop client reads: a traceback or a stray line
there would be a protocol error instead of the message. Nothing listens on
``free_port()``, so an unreachable Sentinel is refused at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel_cli import main
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def connect(*args: str, key: str | None = "sk-test") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")} | {"PYTHONPATH": str(ROOT)}
    if key is not None:
        env["SENTINEL_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "sentinel_cli", "connect", *args], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=ROOT)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("key", [None, "", "   "])
def test_without_a_key_it_says_which_variable(key: str | None) -> None:
    err = one_line(connect("--url", "http://127.0.0.1:8000", key=key))
    assert err == "sentinel connect: no API key: set SENTINEL_API_KEY to the project's key\n"


@pytest.mark.parametrize("args", [[], ["--mode", "legacy"], ["--session", "s-1"], ["--session", "s-1", "--mode", "legacy"]],
                         ids=["2026-07-28", "legacy", "join", "join-legacy"])
def test_an_unreachable_url_is_one_line(args: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    err = one_line(connect("--url", url, *args, key="sk-secret-key"))
    assert err.startswith(f"sentinel connect: cannot reach Sentinel at {url}") and "sk-secret-key" not in err


@pytest.mark.parametrize("url", [None, "127.0.0.1:8000", "ftp://sentinel.example", "http://"])
def test_a_url_that_is_not_the_interceptors_is_refused(
    url: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTINEL_API_KEY", "sk-test")
    monkeypatch.delenv("SENTINEL_URL", raising=False)
    code = main(["connect", *(["--url", url] if url is not None else [])])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == "sentinel connect: --url must be the interceptor's http(s) URL, e.g. http://127.0.0.1:8000\n"


def test_agent_and_session_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["connect", "--url", "http://127.0.0.1:1", "--agent", "a", "--session", "s"])
    assert refused.value.code == 2 and "not allowed with argument" in capsys.readouterr().err

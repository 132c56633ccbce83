"""`sentinel tools import|approve|pins`: every bad input is one clear line and a consistent exit status."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp_upstreams import HERE

from sentinel_cli import main
from sentinel_contract import b64url_encode, generate_keypair

DUPLICATE = f"dup=stdio:{sys.executable} {HERE / 'raw_server.py'} duplicate"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("SENTINEL_CONFIG", "SENTINEL_DATABASE_URL", "SUPABASE_PROJECT_URL", "SENTINEL_IDENTITY_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pins.yaml"
    assert main(["keys", "create", "--project", "p", "--config", str(path)]) == 0
    return str(path)


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["import", "--project", "nobody", "--upstream", DUPLICATE], 1, "lists the tool 'echo' twice"),
    (["import", "--project", "p", "--upstream", "no-target"], 2, "expected NAME=stdio:COMMAND"),
    (["import", "--project", "p", "--url", "http://127.0.0.1:1"], 2, "SENTINEL_IDENTITY_KEY is required"),
    (["approve", "--project", "nobody", "--tool", "t", "--upstream", "x=stdio:true"], 1, "project 'nobody' does not exist"),
    (["approve", "--project", "p", "--tool", "t", "--upstream", "x=stdio:true"], 1, "project 'p' has no tool 't'"),
    (["pins", "--project", "p", "--upstream", "a=stdio:true", "--url", "http://x"], 2, "not allowed with argument"),
])
def test_bad_input_is_one_clear_line(config: str, capfd: pytest.CaptureFixture[str], argv: list[str], status: int,
                                     message: str) -> None:
    try:
        code = main(["tools", *argv, "--config", config])
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    assert code == status
    assert message in capfd.readouterr().err


def test_an_unreachable_tool_server_is_named(config: str, capfd: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_IDENTITY_KEY", b64url_encode(generate_keypair().seed))
    assert main(["tools", "import", "--project", "p", "--url", "http://127.0.0.1:1", "--config", config]) == 1
    assert "http://127.0.0.1:1: the tool server is unreachable (tool_server_unreachable)" in capfd.readouterr().err

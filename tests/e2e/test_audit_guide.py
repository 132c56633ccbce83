"""docs/audit.md on the real processes: the commands join a session across both zones, find both files
intact, and catch an edited, a truncated and a reordered copy of the interceptor's file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sentinel_cli.run import run_stack
from tests.e2e.test_approvals_guide import shell

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "audit.md").read_text()
AGENT = {"X-Sentinel-Key": "sk-sentinel-demo"}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[Any, Path, str, dict[str, str]]]:
    made = shell("sentinel keys admin --name auditor > auditor.key", tmp_path)
    entry = made.stderr.strip().rpartition(" ")[2]
    with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path / "var",
                   interceptor_env={"SENTINEL_ADMIN_KEYS": entry}) as running:
        url = running.interceptor_url
        sid = httpx.post(f"{url}/session/start", headers=AGENT).json()["session_id"]
        for tool, arguments in (("get_current_time", {}), ("read_inbox", {}),
                                ("send_email", {"to": "a@evil.example", "subject": "s", "body": "b"})):
            httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json={"tool": tool, "arguments": arguments})
        env = {"SESSION_ID": sid, "SENTINEL_URL": url,
               "SENTINEL_ADMIN_KEY": (tmp_path / "auditor.key").read_text().strip()}
        yield running, tmp_path, sid, env


def test_the_guides_commands_join_and_verify(session: tuple[Any, Path, str, dict[str, str]]) -> None:
    _, root, _, env = session
    show, verify, against_head = re.findall(r"```bash\n(.*?)```", GUIDE, flags=re.S)
    joined = shell(show, root, **env)
    assert joined.returncode == 0, joined.stderr
    rows = joined.stdout.splitlines()
    assert [row.split()[1:3] for row in rows] == [["get_current_time", "allow"], ["read_inbox", "allow"],
                                                 ["send_email", "deny"]]
    assert rows[0].endswith("tool server: executed") and "tool server" not in rows[2]
    checked = shell(verify, root, **env)
    assert checked.returncode == 0 and checked.stdout.count("intact: ") == 2, checked.stdout + checked.stderr
    assert shell(against_head, root, **env).returncode == 0


def test_an_edited_truncated_or_reordered_copy_is_caught(session: tuple[Any, Path, str, dict[str, str]]) -> None:
    _, root, _, env = session
    original = (root / "var" / "interceptor-audit.jsonl").read_bytes().splitlines(keepends=True)
    copies = {
        "edited": [original[0], original[1].replace(b'"allow"', b'"deny"'), *original[2:]],
        "reordered": [original[1], original[0], *original[2:]],
        "truncated": original[:-1],  # only the running interceptor's head shows this one
    }
    for name, lines in copies.items():
        (root / f"{name}.jsonl").write_bytes(b"".join(lines))
        checked = shell(f"sentinel audit verify {name}.jsonl --url \"$SENTINEL_URL\"", root, **env)
        assert checked.returncode == 1 and checked.stdout.startswith("broken: "), (name, checked.stdout)
    assert "missing after line 2 (the file was cut short)" in shell(
        'sentinel audit verify truncated.jsonl --url "$SENTINEL_URL"', root, **env).stdout

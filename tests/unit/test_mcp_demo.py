"""The demo tools and their data folder: definitions, seeding, sandbox and the injected fixtures."""

from __future__ import annotations

import json
import os

import pytest

from mcp_server.demo import (
    ATTACKER_EMAIL,
    ATTACKER_IBAN,
    build_registry,
    security_classes,
    seed_data_dir,
    tool_definitions,
)
from mcp_server.demo.sandbox import Sandbox
from mcp_server.errors import ToolError

EXPECTED = {
    "get_current_time": "SAFE_READ",
    "list_files": "SENSITIVE_READ",
    "read_file": "SENSITIVE_READ",
    "read_inbox": "UNTRUSTED_READ",
    "fetch_url": "UNTRUSTED_READ",
    "send_email": "CONSEQUENTIAL_WRITE",
    "transfer_funds": "CONSEQUENTIAL_WRITE",
    "delete_file": "INTERNAL_WRITE",
}


def test_every_demo_tool_has_its_security_class():
    assert security_classes() == EXPECTED
    definitions = {d["name"]: d for d in tool_definitions()}
    assert set(definitions) == set(EXPECTED)
    assert definitions["send_email"]["input_schema"]["required"] == ["to", "subject", "body"]
    assert set(definitions["transfer_funds"]["input_schema"]["properties"]) == {"to_iban", "amount"}
    assert all(d["description"] and d["class"] == EXPECTED[d["name"]] for d in definitions.values())


def test_seeding_creates_the_folder_and_reset_restores_it(tmp_path):
    root = seed_data_dir(tmp_path / "data")
    assert (root / "files" / "secrets" / "api_keys.txt").is_file()
    assert (root / "files" / "reports" / "q3_summary.txt").is_file()
    assert (root / "outbox.jsonl").read_text() == "" and (root / "ledger.jsonl").read_text() == ""
    (root / "outbox.jsonl").write_text('{"to": "x"}\n')
    (root / "files" / "reports" / "q3_summary.txt").unlink()
    (root / "unrelated.txt").write_text("mine")
    seed_data_dir(root)  # no reset: keeps what is there, adds what is missing
    assert (root / "outbox.jsonl").read_text() != ""
    seed_data_dir(root, reset=True)
    assert (root / "outbox.jsonl").read_text() == ""
    assert (root / "files" / "reports" / "q3_summary.txt").is_file()
    assert (root / "unrelated.txt").read_text() == "mine"


def test_inbox_and_web_corpus_carry_the_injection(tmp_path):
    root = seed_data_dir(tmp_path)
    inbox = json.loads((root / "inbox.json").read_text())
    injected = [m for m in inbox if ATTACKER_EMAIL in m["body"]]
    assert len(injected) == 1 and len(inbox) >= 4
    assert "secrets/api_keys.txt" in injected[0]["body"] and ATTACKER_IBAN in injected[0]["body"]
    assert "5000" in injected[0]["body"]
    pages = json.loads((root / "web.json").read_text())
    assert sum(ATTACKER_EMAIL in p["text"] for p in pages.values()) == 1


async def _run(registry, name, **arguments):
    tool = registry.get(name)
    return await tool.invoke(tool.validate(arguments))


async def test_demo_tools_behave_and_leave_records(tmp_path):
    root = seed_data_dir(tmp_path)
    registry = build_registry(root)
    assert "Revenue" in (await _run(registry, "read_file", path="reports/q3_summary.txt")).content[0].text
    listing = (await _run(registry, "list_files", directory="reports")).structured_content
    assert {e["name"] for e in listing["entries"]} >= {"q3_summary.txt"}
    inbox = (await _run(registry, "read_inbox", limit=2)).structured_content
    assert len(inbox["emails"]) == 2 and inbox["total"] >= 4
    page = await _run(registry, "fetch_url", url="https://example.com")
    assert "Example Domain" in page.content[0].text
    missing = await _run(registry, "fetch_url", url="https://not-in-corpus.example")
    assert missing.is_error is True
    await _run(registry, "send_email", to="a@example.com", subject="s", body="b")
    await _run(registry, "transfer_funds", to_iban="DE89 3704 0044 0532 0130 00", amount=12.5)
    assert json.loads((root / "outbox.jsonl").read_text())["to"] == "a@example.com"
    assert json.loads((root / "ledger.jsonl").read_text())["to_iban"] == "DE89370400440532013000"
    assert (await _run(registry, "delete_file", path="notes/todo.txt")).is_error is False
    assert not (root / "files" / "notes" / "todo.txt").exists()
    time = await _run(registry, "get_current_time", timezone="Europe/Berlin")
    assert time.structured_content["timezone"] == "Europe/Berlin"
    assert (await _run(registry, "get_current_time", timezone="Mars/Olympus")).is_error is True


@pytest.mark.parametrize("path", ["..", "../x", "a/../../b", "/etc/passwd", "C:\\Windows", "\\\\server\\share", "~/x", "a\x00b", ""])
def test_sandbox_refuses_escapes(tmp_path, path):
    (tmp_path / "root").mkdir()
    with pytest.raises(ToolError):
        Sandbox(tmp_path / "root").resolve(path)


def test_sandbox_refuses_symlinks_that_lead_out_but_allows_ones_that_stay_in(tmp_path):
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("a")
    os.symlink(tmp_path, root / "up")
    os.symlink(root / "docs" / "a.txt", root / "alias.txt")
    sandbox = Sandbox(root)
    with pytest.raises(ToolError):
        sandbox.resolve("up/anything")
    assert sandbox.resolve("alias.txt") == (root / "docs" / "a.txt").resolve()

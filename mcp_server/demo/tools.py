"""The demo tools, one or more per security class, over a data folder.

They are realistic enough to show what an injected instruction would do: the
inbox and one web page carry a prompt injection, ``send_email`` and
``transfer_funds`` leave observable records (``outbox.jsonl``, ``ledger.jsonl``).
They must never touch anything outside the data folder, and never reach the
network (``fetch_url`` answers from a local corpus).
"""

from __future__ import annotations

import json
import math
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp_server.demo.sandbox import Sandbox
from mcp_server.errors import ToolError
from mcp_server.registry import ToolRegistry

__all__ = ["build_registry"]

_append_lock = threading.Lock()


def _append(path: Path, record: dict[str, Any]) -> None:
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _append_lock, open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_registry(data_dir: Path) -> ToolRegistry:
    """The demo tools bound to ``data_dir``; defining them touches no file."""
    registry = ToolRegistry()
    sandbox = Sandbox(data_dir / "files")

    @registry.tool(description="The current date and time in an IANA time zone.", security_class="SAFE_READ", inline=True)
    def get_current_time(timezone: str = "UTC") -> dict[str, str]:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolError("unknown time zone") from None
        return {"timezone": timezone, "now": datetime.now(zone).isoformat(timespec="seconds")}

    @registry.tool(description="List the files and folders of a folder in the user's documents.", security_class="SENSITIVE_READ")
    def list_files(directory: str = ".") -> dict[str, Any]:
        folder = sandbox.resolve(directory)
        if not folder.is_dir():
            raise ToolError("no such folder")
        entries = []
        for entry in sorted(folder.iterdir()):
            try:
                sandbox.resolve(sandbox.relative(entry.resolve()))
            except (ToolError, ValueError):
                continue  # a link leading out of the sandbox is not shown
            kind = "directory" if entry.is_dir() else "file"
            entries.append({"name": entry.name, "type": kind, "size": entry.stat().st_size if kind == "file" else None})
        return {"directory": sandbox.relative(folder), "entries": entries}

    @registry.tool(description="Read a text file from the user's documents.", security_class="SENSITIVE_READ")
    def read_file(path: str) -> str:
        target = sandbox.resolve(path)
        if not target.is_file():
            raise ToolError("no such file")
        return target.read_text(encoding="utf-8", errors="replace")

    @registry.tool(description="Read the most recent emails in the user's inbox.", security_class="UNTRUSTED_READ")
    def read_inbox(limit: int = 10) -> dict[str, Any]:
        if limit < 1:
            raise ToolError("limit must be at least 1")
        emails = json.loads((data_dir / "inbox.json").read_text(encoding="utf-8"))
        return {"emails": emails[:limit], "total": len(emails)}

    @registry.tool(description="Fetch a web page and return its text.", security_class="UNTRUSTED_READ")
    def fetch_url(url: str) -> str:
        pages = json.loads((data_dir / "web.json").read_text(encoding="utf-8"))
        page = pages.get(url) or pages.get(url.rstrip("/"))
        if page is None:
            raise ToolError("the page could not be fetched (not in the offline corpus)")
        return f"{page['title']}\n\n{page['text']}"

    @registry.tool(description="Send an email on the user's behalf.", security_class="CONSEQUENTIAL_WRITE")
    def send_email(to: str, subject: str, body: str) -> dict[str, str]:
        if "@" not in to:
            raise ToolError("the recipient is not an email address")
        message_id = f"msg-{uuid.uuid4().hex[:12]}"
        _append(data_dir / "outbox.jsonl", {"id": message_id, "ts": _now(), "to": to, "subject": subject, "body": body})
        return {"status": "sent", "message_id": message_id, "to": to}

    @registry.tool(description="Transfer money from the user's account to an IBAN.", security_class="CONSEQUENTIAL_WRITE")
    def transfer_funds(to_iban: str, amount: float) -> dict[str, Any]:
        if not math.isfinite(amount) or amount <= 0:
            raise ToolError("the amount must be a positive number")
        iban = "".join(to_iban.split()).upper()
        if not (15 <= len(iban) <= 34 and iban.isalnum()):
            raise ToolError("not a valid IBAN")
        transfer_id = f"tx-{uuid.uuid4().hex[:12]}"
        _append(data_dir / "ledger.jsonl", {"id": transfer_id, "ts": _now(), "to_iban": iban, "amount": amount})
        return {"status": "completed", "transfer_id": transfer_id, "to_iban": iban, "amount": amount}

    @registry.tool(description="Delete a file from the user's documents.", security_class="INTERNAL_WRITE")
    def delete_file(path: str) -> dict[str, str]:
        target = sandbox.resolve(path)
        if os.path.islink(sandbox.root.resolve() / path) or not target.is_file():
            raise ToolError("no such file")
        target.unlink()
        return {"status": "deleted", "path": sandbox.relative(target)}

    return registry

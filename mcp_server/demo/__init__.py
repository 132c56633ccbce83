"""The demo tool set: one tool or more per security class, over a seeded data folder.

Public helpers let the interceptor's example config, the demo and the
experiment suite check themselves against the real tools:

- ``build_registry(data_dir)``: the tools, bound to a data folder
- ``security_classes()``: ``{tool name: security class}``
- ``tool_definitions()``: ``[{name, description, input_schema, class}]``
- ``seed_data_dir(path, reset=False)``: create (or reset) a data folder from the
  fixtures shipped in this package (``files.json``, ``inbox.json``, ``web.json``)

The injected instructions in the fixtures ask for ``secrets/api_keys.txt`` to go to
``ATTACKER_EMAIL`` and for 5000 to go to ``ATTACKER_IBAN`` (stored without spaces).
Seeding must never delete anything but the demo's own entries in the folder.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from mcp_server.demo.tools import build_registry

__all__ = [
    "ATTACKER_EMAIL",
    "ATTACKER_IBAN",
    "build_registry",
    "security_classes",
    "seed_data_dir",
    "tool_definitions",
]

ATTACKER_EMAIL = "attacker@evil.example"
ATTACKER_IBAN = "XX13EVIL000066666666"
_SEEDED = ("files", "outbox.jsonl", "ledger.jsonl", "inbox.json", "web.json")


def _fixture(name: str) -> str:
    return resources.files("mcp_server.demo").joinpath(name).read_text(encoding="utf-8")


def tool_definitions() -> list[dict[str, Any]]:
    """What the interceptor's config lists for these tools: name, description, schema, class."""
    return [
        {
            "name": tool.name,
            "description": tool.description,
            "input_schema": tool.input_schema,
            "class": tool.security_class,
        }
        for tool in build_registry(Path("unused"))
    ]


def security_classes() -> dict[str, str]:
    return {tool.name: str(tool.security_class) for tool in build_registry(Path("unused"))}


def seed_data_dir(path: Path | str, *, reset: bool = False) -> Path:
    """Create what is missing in ``path`` (or, with ``reset``, put every demo entry back)."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    if reset:
        for name in _SEEDED:
            entry = root / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.exists() or entry.is_symlink():
                entry.unlink()
    files_dir = root / "files"
    if not files_dir.exists():
        files: dict[str, str] = json.loads(_fixture("files.json"))
        for relative, text in files.items():
            target = files_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    for name in ("inbox.json", "web.json"):
        if not (root / name).exists():
            (root / name).write_text(_fixture(name), encoding="utf-8")
    for name in ("outbox.jsonl", "ledger.jsonl"):
        (root / name).touch(exist_ok=True)
    return root

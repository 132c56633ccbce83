"""Rewriting a YAML file safely: atomic replacement under a lock, comments kept.

Used by the YAML config store for every write. It must never leave a
half-written file where readers look, never widen the file's permissions, and
never create a file others can read.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock still serialises this process
    fcntl = None  # type: ignore[assignment]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def plain(value: Any) -> Any:
    """A deep copy in plain dicts and lists, so history entries share no nodes (no YAML anchors)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def edit(text: str, change: Callable[[dict[str, Any]], None]) -> str:
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.util import load_yaml_guess_indent
    except ImportError:  # only PyYAML: same content, comments are lost
        doc = yaml.load(text, Loader=_Loader) or {}  # noqa: S506 - a safe loader
        change(doc)
        return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=4096))
    rt = YAML()
    rt.width = 4096
    rt.preserve_quotes = True
    if text.strip():
        doc, indent, offset = load_yaml_guess_indent(text)
        if offset is None:  # no block sequence to learn from: the DESIGN.md style
            indent, offset = 4, 2
        rt.indent(mapping=2, sequence=indent, offset=offset)
    else:
        doc = None
        rt.indent(mapping=2, sequence=4, offset=2)
    if doc is None:  # empty or comments only: keep the comments above a new list
        doc = rt.load((text.rstrip() + "\n" if text.strip() else "") + "projects: []\n")
    change(doc)
    buffer = io.StringIO()
    rt.dump(doc, buffer)
    return buffer.getvalue()


def replace(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600  # a new file holds key hashes: readable by its owner only
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    # Lock the directory, not the file: os.replace swaps the file's inode, so a
    # lock on the file would not stop a second writer that opened the new one.
    if fcntl is None:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

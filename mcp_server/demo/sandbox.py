"""Path confinement for the demo file tools: every path stays inside one root folder.

Refused: absolute paths (POSIX or Windows-looking), any ``..`` component, NUL
bytes, and anything whose resolved location (symlinks followed) lies outside the
root. It must never open, list or delete a file before that check passed.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from mcp_server.errors import ToolError

__all__ = ["Sandbox"]


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root  # resolved lazily: the folder may be created after the tools are defined

    def resolve(self, path: str) -> Path:
        """The real location of ``path`` inside the root, or ToolError."""
        if not path or "\x00" in path:
            raise ToolError("invalid path")
        if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute() or path.startswith(("\\", "~")):
            raise ToolError("absolute paths are not allowed; give a path inside the sandbox")
        parts = path.replace("\\", "/").split("/")
        if ".." in parts:
            raise ToolError("'..' is not allowed in paths")
        root = self.root.resolve()
        target = (root / path).resolve()
        if target != root and not target.is_relative_to(root):
            raise ToolError("the path leads outside the sandbox")
        return target

    def relative(self, target: Path) -> str:
        return target.relative_to(self.root.resolve()).as_posix() or "."

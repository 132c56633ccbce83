"""No product module reaches into a dependency's private modules or attributes.

A private name (``redis._parsers``, ``conn._reader``) is no promise: any release
may move it, and then Sentinel itself breaks, not just its tests. The scan reads
every product module's syntax tree, so it also sees ``import x; x._y``.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = {
    "interceptor", "mcp_server", "rule_maker", "sentinel_agent", "sentinel_cli", "sentinel_contract",
    "sentinel_http", "sentinel_policy", "sentinel_redis", "sentinel_sdk",
}
PRODUCT_DIRS = tuple(sorted(OWN)) + ("bench",)
# bench/ scripts import each other as top-level modules: those are ours too.
OWN |= {path.stem for path in (ROOT / "bench").glob("*.py")}


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _product_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", *PRODUCT_DIRS],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if name.endswith(".py") and (ROOT / name).exists()]


def private_uses(source: str) -> list[str]:
    """Every use of a dependency's private module or attribute in ``source``."""
    found: list[str] = []
    dependency_names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in OWN:
                    continue
                if any(_private(part) for part in parts):
                    found.append(f"import {alias.name}")
                dependency_names.add(alias.asname or parts[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] in OWN:
                continue
            if any(_private(part) for part in parts):
                found.append(f"from {node.module} import ...")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"from {node.module} import {alias.name}")
                dependency_names.add(alias.asname or alias.name)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in dependency_names:
                found.append(f"{ast.unparse(node)}")
    return found


def test_the_scan_finds_each_kind_of_private_use() -> None:
    assert private_uses("from redis._parsers.base import BaseParser") == ["from redis._parsers.base import ..."]
    assert private_uses("import httpx._client") == ["import httpx._client"]
    assert private_uses("from starlette.requests import _CachedRequest") == [
        "from starlette.requests import _CachedRequest"]
    assert private_uses("import redis\nredis.connection._HiredisParser") == ["redis.connection._HiredisParser"]
    assert private_uses("from sentinel_policy import _compile\nimport orjson\norjson.__name__") == []


def test_no_product_module_uses_a_private_name_of_a_dependency() -> None:
    files = _product_files()
    assert len(files) > 50, "the scan found too few modules to be looking in the right place"
    offenders = {str(path.relative_to(ROOT)): uses for path in files if (uses := private_uses(path.read_text("utf-8")))}
    assert offenders == {}

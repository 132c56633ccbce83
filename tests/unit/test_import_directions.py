"""Imports go only the ways docs/architecture.md draws them.

The zones stay apart (the interceptor and the tool server share only the
contract), the pure packages stay pure (the policy engine imports no service),
the SDK installs alone, and the CLI sits on top: nothing below imports it. Every
import counts, also one inside a function.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> the other Sentinel packages it may import (docs/architecture.md, "Packages").
ALLOWED: dict[str, frozenset[str]] = {
    "sentinel_contract": frozenset(),
    "sentinel_http": frozenset(),
    "sentinel_redis": frozenset(),
    "sentinel_policy": frozenset(),
    "sentinel_sdk": frozenset(),
    "interceptor": frozenset({"sentinel_contract", "sentinel_http", "sentinel_policy", "sentinel_redis"}),
    "mcp_server": frozenset({"sentinel_contract", "sentinel_http", "sentinel_redis"}),
    "rule_maker": frozenset({"sentinel_policy", "interceptor"}),
    "sentinel_agent": frozenset({"sentinel_sdk", "sentinel_policy", "sentinel_redis", "mcp_server"}),
    "sentinel_cli": frozenset({
        "interceptor", "mcp_server", "rule_maker", "sentinel_agent", "sentinel_contract", "sentinel_http",
        "sentinel_policy", "sentinel_redis", "sentinel_sdk",
    }),
}
# rule_maker reaches the interceptor only for its config store (to push a drafted policy).
NARROWED = {("rule_maker", "interceptor"): "interceptor.config"}
OURS = frozenset(ALLOWED) | {"tests", "bench"}


def imported_modules(source: str) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def wrong_way_imports(package: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", package],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found: list[str] = []
    for name in listed:
        path = ROOT / name
        if not name.endswith(".py") or not path.exists():
            continue
        for module in imported_modules(path.read_text("utf-8")):
            top = module.split(".")[0]
            if top not in OURS or top == package:
                continue
            narrowed = NARROWED.get((package, top))
            allowed = top in ALLOWED[package] and (narrowed is None or module.startswith(narrowed))
            if not allowed:
                found.append(f"{name}: {module}")
    return found


def test_the_scan_sees_imports_inside_functions() -> None:
    assert imported_modules("def f():\n    from sentinel_cli.run import run_stack\n") == ["sentinel_cli.run"]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_go_only_the_allowed_ways(package: str) -> None:
    assert wrong_way_imports(package) == []


def test_bench_does_not_import_the_tests() -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", "bench"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = [f"{name}: {module}" for name in listed if name.endswith(".py") and (ROOT / name).exists()
                 for module in imported_modules((ROOT / name).read_text("utf-8")) if module.split(".")[0] == "tests"]
    assert offenders == []

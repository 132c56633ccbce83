"""Tools that are Python functions in this process: a :class:`ToolRegistry` as a tool source.

``load_registry("package.module:attribute")`` imports a module and returns the
:class:`ToolRegistry` it names (``sentinel serve mcp --tools``); anything else
is a :class:`~mcp_server.errors.ConfigError` that says what was wrong. It
imports the operator's own code, and must never import anything the spec
does not name.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import mcp_types

from mcp_server.demo import build_registry, seed_data_dir
from mcp_server.errors import ConfigError, ProtocolError
from mcp_server.registry import ToolRegistry
from mcp_server.sources._model import tool_sha256

__all__ = ["DEMO", "DemoSource", "RegistrySource", "load_registry"]

DEMO = "demo"  # --tools demo: the demo tools, over SENTINEL_MCP_DATA_DIR

_SPEC = re.compile(r"(?P<module>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*):(?P<attribute>[A-Za-z_][A-Za-z0-9_]*)")


class RegistrySource:
    """The tools of one registry, under their own names."""

    def __init__(self, registry: ToolRegistry) -> None:
        self.registry = registry
        self._hashes: dict[str, tuple[object, str]] = {}  # name -> (the registered tool hashed, its hash)

    async def open(self) -> None:
        return None

    async def list_tools(self) -> list[mcp_types.Tool]:
        return [tool.definition() for tool in self.registry]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        registered = self.registry.get(name)
        if registered is None:
            raise ProtocolError("unknown tool", code="unknown_tool")
        return await registered.invoke(registered.validate(arguments))

    async def definition_sha256(self, name: str) -> str | None:
        registered = self.registry.get(name)
        if registered is None:
            return None
        cached = self._hashes.get(name)
        if cached is None or cached[0] is not registered:  # a function's definition is fixed once registered
            cached = (registered, tool_sha256(registered.definition()))
            self._hashes[name] = cached
        return cached[1]

    async def close(self) -> None:
        return None


def load_registry(spec: str) -> ToolRegistry:
    """The ``ToolRegistry`` named by ``module:attribute``; ConfigError(bad_tools_spec) otherwise."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise ConfigError(
            f"--tools {spec[:200]!r}: expected package.module:attribute (a ToolRegistry), e.g. mytools:registry",
            code="bad_tools_spec",
        )
    module_name, attribute = match["module"], match["attribute"]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ConfigError(f"--tools {spec}: no module named {exc.name!r}", code="bad_tools_spec") from None
        raise ConfigError(f"--tools {spec}: importing {module_name} failed: {_describe(exc)}", code="bad_tools_spec") from exc
    except Exception as exc:  # the operator's module raised while it was imported
        raise ConfigError(f"--tools {spec}: importing {module_name} failed: {_describe(exc)}", code="bad_tools_spec") from exc
    value: Any = getattr(module, attribute, None)
    if value is None:
        raise ConfigError(f"--tools {spec}: {module_name} has no attribute {attribute!r}", code="bad_tools_spec")
    if not isinstance(value, ToolRegistry):
        raise ConfigError(
            f"--tools {spec}: {attribute} is a {type(value).__name__}, not a mcp_server.ToolRegistry",
            code="bad_tools_spec",
        )
    return value


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class DemoSource(RegistrySource):
    """The demo tools over a data folder, which is seeded (what is missing of it) when opened."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(build_registry(data_dir))
        self.data_dir = data_dir

    async def open(self) -> None:
        seed_data_dir(self.data_dir)

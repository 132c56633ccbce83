"""The SDK stands alone: no server package, no server dependency, with or without LangChain."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = {"interceptor", "mcp_server", "rule_maker", "sentinel_contract", "sentinel_cli"}
SERVER_DEPENDENCIES = {"fastapi", "starlette", "uvicorn", "redis", "asyncpg", "supabase", "nacl", "jwt", "cryptography", "rfc8785", "psycopg", "psycopg2"}
# Not imported by the SDK itself, though langchain-core brings them along (pyyaml, langsmith's orjson).
SDK_NEVER_IMPORTS = SERVER_DEPENDENCIES | {"orjson", "yaml"}


def imported_in_subprocess(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, text=True, timeout=60)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_sdk_loads_no_server_code_and_no_langchain() -> None:
    loaded = imported_in_subprocess("import sentinel_sdk")
    assert not loaded & (SERVER_PACKAGES | SDK_NEVER_IMPORTS)
    assert "langchain_core" not in loaded  # only loaded when LangChain tools are asked for


def test_building_langchain_tools_loads_no_server_code() -> None:
    code = (
        "import asyncio\n"
        "from sentinel_sdk import SentinelClient\n"
        "from sentinel_sdk.testing import FakeInterceptor\n"
        "fake = FakeInterceptor(tools=[{'name': 't', 'input_schema': {'type': 'object'}}], api_key='k')\n"
        "async def main():\n"
        "    async with SentinelClient(api_key='k', base_url='http://s.test', transport=fake.transport) as c:\n"
        "        (tool,) = await c.get_langchain_tools()\n"
        "        await tool.ainvoke({})\n"
        "asyncio.run(main())\n"
    )
    loaded = imported_in_subprocess(code)
    assert "langchain_core" in loaded
    assert not loaded & (SERVER_PACKAGES | SERVER_DEPENDENCIES)


def test_sdk_source_imports_nothing_from_the_server_side() -> None:
    for path in (ROOT / "sentinel_sdk").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in SERVER_PACKAGES | SDK_NEVER_IMPORTS, f"{path.name} imports {name}"


def test_the_sdk_extra_brings_no_server_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project.get("dependencies", [])) + list(project["optional-dependencies"]["sdk"])
    names = {re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower().replace("_", "-") for req in requirements}
    forbidden = {"fastapi", "starlette", "uvicorn", "redis", "asyncpg", "supabase", "pynacl", "pyjwt", "psycopg", "psycopg2", "psycopg2-binary", "sqlalchemy"}
    assert not names & forbidden
    assert {"httpx", "langchain-core"} <= names

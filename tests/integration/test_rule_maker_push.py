"""`sentinel tools push` / `rule_maker push`: classified tools land in a project of the config store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import POSTGRES_DSN

from interceptor.config import ConfigSettings, api_key_sha256, open_backend
from rule_maker import CatalogueError
from rule_maker._push import push_tools
from sentinel_cli import main as sentinel

CLASSIFIED = [
    {"name": "get_webpage", "description": "Returns a web page.", "parameters": {"type": "object", "properties": {"url": {"type": "string"}}}, "class": "UNTRUSTED_READ", "confidence": 0.8, "rationale": "web", "needs_review": False},
    {"name": "send_email", "description": "Sends an email.", "parameters": {"type": "object", "properties": {}}, "class": "CONSEQUENTIAL_WRITE", "confidence": 0.5, "rationale": "send", "needs_review": True},
]


async def _project_tools(settings: Any, name: str) -> list[dict[str, Any]]:
    store = open_backend(settings)
    try:
        project = await store.get_project(name)
        return [dict(t) for t in project.tools]
    finally:
        await store.close()


async def _create(settings: Any, name: str) -> None:
    store = open_backend(settings)
    try:
        await store.create_project(name, api_key_sha256("sk-test"))
    finally:
        await store.close()


def _check(tools: list[dict[str, Any]]) -> None:
    assert [t["name"] for t in tools] == ["get_webpage", "send_email"]
    assert tools[0]["class"] == "UNTRUSTED_READ"
    assert tools[0]["input_schema"] == {"type": "object", "properties": {"url": {"type": "string"}}}
    assert tools[1]["needs_review"] is True


async def test_push_to_yaml_store(tmp_path: Path) -> None:
    settings = ConfigSettings(config_path=tmp_path / "sentinel.yaml")
    await _create(settings, "demo")
    assert await push_tools("demo", CLASSIFIED, settings=settings) == 2
    _check(await _project_tools(settings, "demo"))


@pytest.mark.postgres
async def test_push_to_postgres_store(pg_schema: str) -> None:
    settings = ConfigSettings(database_url=POSTGRES_DSN, database_schema=pg_schema)
    await _create(settings, "demo")
    assert await push_tools("demo", CLASSIFIED, settings=settings) == 2
    _check(await _project_tools(settings, "demo"))


def test_sentinel_tools_push_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    catalogue = tmp_path / "classified.json"
    catalogue.write_text(json.dumps(CLASSIFIED))
    assert sentinel(["keys", "create", "--project", "demo", "--config", str(config)]) == 0
    assert sentinel(["tools", "push", "--project", "demo", "--tools", str(catalogue), "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "pushed 2 tools" in err and "send_email" in err  # the one needing review is named
    import asyncio

    _check(asyncio.run(_project_tools(ConfigSettings(config_path=config), "demo")))


def test_push_to_missing_project_fails_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    catalogue = tmp_path / "classified.json"
    catalogue.write_text(json.dumps(CLASSIFIED))
    assert sentinel(["keys", "create", "--project", "demo", "--config", str(config)]) == 0
    assert sentinel(["tools", "push", "--project", "other", "--tools", str(catalogue), "--config", str(config)]) == 1
    assert "project_not_found" in capsys.readouterr().err


async def test_push_refuses_a_class_outside_the_five(tmp_path: Path) -> None:
    settings = ConfigSettings(config_path=tmp_path / "sentinel.yaml")
    await _create(settings, "demo")
    with pytest.raises(CatalogueError):
        await push_tools("demo", [{"name": "x", "class": "TRUSTED_BY_ME"}], settings=settings)
    assert await _project_tools(settings, "demo") == []


def test_rule_maker_push_command(tmp_path: Path) -> None:
    from rule_maker._cli import main as rule_maker

    config = tmp_path / "sentinel.yaml"
    catalogue = tmp_path / "classified.json"
    catalogue.write_text(json.dumps(CLASSIFIED))
    assert sentinel(["keys", "create", "--project", "demo", "--config", str(config)]) == 0
    assert rule_maker(["push", "--project", "demo", "--tools", str(catalogue), "--config", str(config)]) == 0
    import asyncio

    _check(asyncio.run(_project_tools(ConfigSettings(config_path=config), "demo")))

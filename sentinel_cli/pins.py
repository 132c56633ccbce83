"""``sentinel tools import|approve|pins``: pin the definitions of a project's tools (the defence against a "rug pull").

    sentinel tools import  --project P [--url URL | --upstream NAME=TARGET ... | --upstreams FILE]
                           [--config FILE] [--offline] [--replace]
    sentinel tools approve --project P --tool NAME [source] [--config FILE] [--yes]
    sentinel tools pins    --project P [source] [--config FILE]

The source is a running tool server's ``tools/list`` (``--url``, default
``MCP_UPSTREAM_URL``; signed with ``SENTINEL_IDENTITY_KEY``, as the interceptor
signs it), or upstream MCP servers opened directly, in ``sentinel serve mcp``'s
syntax and with its ``NAME__TOOL`` names. Each tool's pin is
``sentinel_contract.definition_sha256`` of what the tool server serves.

``import`` classifies the tools that are new to the project (rule_maker;
``--offline``: no LLM) and writes the catalogue with a pin on every tool; it
never re-pins a tool whose definition changed: that is ``approve``'s, which
shows what changed and asks (``--yes`` where nobody can answer). Exit status:
0 done, 1 refused or failed (nothing written), 2 a usage error. This module must
never print a raw control character from a tool definition, nor an API key.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["register"]


class PinError(Exception):
    """A refusal with its exit status (1: refused or failed, 2: usage)."""

    def __init__(self, message: str, *, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def register(commands: Any) -> None:
    imp = commands.add_parser(
        "import", help="read the tool server's (or upstreams') tools, classify them and write them, pinned, to a project"
    )
    imp.add_argument("--project", required=True, help="project name in the config store")
    _source_arguments(imp)
    imp.add_argument("--config", help="a YAML config file (default: the interceptor's store from the environment)")
    imp.add_argument("--offline", action="store_true", help="classify without an LLM, even when one is configured")
    imp.add_argument("--replace", action="store_true",
                     help="let the import remove the project's tools the source does not list (refused otherwise)")
    imp.set_defaults(handler=_import)

    approve = commands.add_parser("approve", help="re-pin one tool to its live definition after showing what changed")
    approve.add_argument("--project", required=True, help="project name in the config store")
    approve.add_argument("--tool", required=True, help="the tool's name as the tool server serves it")
    _source_arguments(approve)
    approve.add_argument("--config", help="a YAML config file (default: the interceptor's store from the environment)")
    approve.add_argument("--yes", action="store_true", help="approve without asking (required when stdin is not a terminal)")
    approve.set_defaults(handler=_approve)

    pins = commands.add_parser("pins", help="list a project's pinned tools and whether the live definitions match")
    pins.add_argument("--project", required=True, help="project name in the config store")
    _source_arguments(pins)
    pins.add_argument("--config", help="a YAML config file (default: the interceptor's store from the environment)")
    pins.set_defaults(handler=_pins)


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--url", help="a running tool server (default: MCP_UPSTREAM_URL); needs SENTINEL_IDENTITY_KEY")
    group.add_argument("--upstream", action="append", metavar="NAME=TARGET",
                       help="an MCP server as `sentinel serve mcp --upstream` takes it (repeatable)")
    group.add_argument("--upstreams", type=Path, metavar="FILE.yaml", help="upstreams from a YAML file")


# -- the commands -----------------------------------------------------------------------

def _import(args: argparse.Namespace) -> int:
    return _run("import", _import_tools, args)


def _approve(args: argparse.Namespace) -> int:
    return _run("approve", _approve_tool, args)


def _pins(args: argparse.Namespace) -> int:
    return _run("pins", _show_pins, args)


def _run(command: str, work: Any, args: argparse.Namespace) -> int:
    from interceptor.config import ConfigStoreError
    from rule_maker import RuleMakerError

    try:
        return int(asyncio.run(work(args)))
    except PinError as exc:
        print(f"sentinel tools {command}: {_printable(str(exc))}", file=sys.stderr)
        return exc.status
    except (RuleMakerError, ConfigStoreError) as exc:
        print(f"sentinel tools {command}: {_printable(str(exc))} ({exc.code})", file=sys.stderr)
        return 1


async def _import_tools(args: argparse.Namespace) -> int:
    from rule_maker import annotate, classify_tools, parse_tools
    from rule_maker._push import push_catalogue

    settings = _store_settings(args)
    live = await _live_tools(args)
    project = await _project(settings, args.project)
    existing = {str(tool["name"]): tool for tool in project.tools}
    changed = [t["name"] for t in live if existing.get(t["name"], {}).get("definition_sha256") not in (None, t["pin"])]
    if changed:
        raise PinError(
            f"{len(changed)} tool(s) changed since they were pinned: {', '.join(changed)}; nothing was written. "
            f"Review each with `sentinel tools approve --project {args.project} --tool NAME`"
        )
    new = [_definition(tool) for tool in live if tool["name"] not in existing]
    classified = {}
    if new:
        parse_tools(new)  # names a policy can hold, no duplicates
        tools = await asyncio.to_thread(classify_tools, new, offline=args.offline)
        classified = {str(tool["name"]): tool for tool in annotate(new, tools)}
    records = []
    for tool in live:
        record = dict(existing.get(tool["name"]) or classified[tool["name"]])  # a known tool keeps its class
        record.update(_definition(tool), definition_sha256=tool["pin"])
        records.append(record)
    change = await push_catalogue(args.project, records, settings=settings, replace=args.replace)
    pinned = sum(1 for tool in live if existing.get(tool["name"], {}).get("definition_sha256") is None)
    print(f"imported {len(live)} tools into project {args.project!r}: new {len(new)}, newly pinned {pinned}, "
          f"removed {len(change.removed)}", file=sys.stderr)
    review = [str(t["name"]) for t in classified.values() if t.get("needs_review")]
    if review:
        print(f"# {len(review)} need review: {', '.join(review)}", file=sys.stderr)
    return 0


async def _approve_tool(args: argparse.Namespace) -> int:
    from rule_maker import OfflineClassifier
    from rule_maker._push import push_catalogue
    from sentinel_contract import args_sha256

    settings = _store_settings(args)
    project = await _project(settings, args.project)
    record = next((dict(t) for t in project.tools if t.get("name") == args.tool), None)
    if record is None:
        raise PinError(f"project {args.project!r} has no tool {args.tool!r}; add it with `sentinel tools import`")
    live = next((t for t in await _live_tools(args) if t["name"] == args.tool), None)
    if live is None:
        raise PinError(f"the source does not list a tool {args.tool!r}; nothing to approve")
    old_pin = record.get("definition_sha256")
    if old_pin == live["pin"]:
        print(f"{args.tool}: its live definition matches its pin; nothing to approve", file=sys.stderr)
        return 0
    new = _definition(live)
    old_schema = args_sha256(record.get("input_schema") or {})
    new_schema = args_sha256(new["input_schema"])
    same = "unchanged" if record.get("description", "") == new["description"] else "changed"
    print(f"tool {args.tool} of project {args.project!r}\n"
          f"  pin:          {old_pin or '(none)'} -> {live['pin']}\n"
          f"  description:  {same}\n"
          f"  input schema: {old_schema} -> {new_schema}" + (" (unchanged)" if old_schema == new_schema else "") + "\n"
          f"  new description: {_printable(new['description'])}")
    verdict = OfflineClassifier().classify(new).security_class.value
    if record.get("class") not in (None, verdict):
        print(f"  # rule_maker classifies the new definition as {verdict}; the catalogue keeps {record['class']} "
              f"(change it with `sentinel tools push` if the tool now does something else)")
    if not args.yes:
        if not sys.stdin.isatty():
            raise PinError("stdin is not a terminal: pass --yes to approve without a prompt; nothing was written",
                           status=2)
        answer = await asyncio.to_thread(input, f"approve this definition of {args.tool}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise PinError("not approved; nothing was written")
    record.update(new, definition_sha256=live["pin"])
    tools = [record if t.get("name") == args.tool else dict(t) for t in project.tools]
    await push_catalogue(args.project, tools, settings=settings)
    print(f"approved: {args.tool} is pinned to {live['pin']}", file=sys.stderr)
    return 0


async def _show_pins(args: argparse.Namespace) -> int:
    settings = _store_settings(args)
    project = await _project(settings, args.project)
    live = {t["name"]: t["pin"] for t in await _live_tools(args)}
    for tool in project.tools:
        name, pin = str(tool["name"]), tool.get("definition_sha256")
        if pin is None:
            status = "unpinned"
        elif name not in live:
            status = "not-served"
        else:
            status = "ok" if live[name] == pin else "changed"
        print(f"{_printable(name)}\t{status}\t{pin or '-'}")
    return 0


# -- reading the source -----------------------------------------------------------------

async def _live_tools(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each tool the source serves as ``{name, description, inputSchema, pin}``; PinError if it cannot be read."""
    from interceptor.definitions import live_hashes

    tools = await (_upstream_tools(args) if args.upstream or args.upstreams else _tool_server_tools(args.url))
    names = [tool.get("name") for tool in tools]
    twice = sorted({str(name) for name in names if names.count(name) > 1})
    if twice:  # a call by that name could reach either definition
        raise PinError(f"the source lists {', '.join(twice)} twice; nothing was written")
    hashes = live_hashes(tools)
    unusable = [str(name) for name in names if name not in hashes]
    if unusable:
        raise PinError(f"the source lists tools without a usable name, description or input schema: {', '.join(unusable)}")
    return [{**tool, "pin": hashes[str(tool["name"])]} for tool in tools]


async def _tool_server_tools(url: str | None) -> list[dict[str, Any]]:
    from interceptor.definitions import listing_token
    from interceptor.errors import InterceptorError
    from interceptor.forwarding import ToolServerClient
    from interceptor.sessions import SessionIdentity
    from interceptor.settings import load_settings
    from sentinel_contract import load_signing_key

    overrides: dict[str, Any] = {"mcp_upstream_url": url} if url else {}
    try:
        settings = load_settings(**overrides)
    except InterceptorError as exc:
        raise PinError(f"reading the tool server needs the interceptor's settings: {exc}", status=2) from None
    key = load_signing_key(settings.identity_key.get_secret_value().strip())
    identity = SessionIdentity(settings.interceptor_id, settings.mcp_id, key)
    try:
        client = ToolServerClient(settings.mcp_upstream_url, settings.upstream_timeout_seconds)
    except InterceptorError as exc:
        raise PinError(str(exc), status=2) from None
    try:
        return await client.list_tools(listing_token(identity))
    except InterceptorError as exc:
        raise PinError(f"the tool server at {settings.mcp_upstream_url}: {exc} ({exc.code})") from None
    finally:
        await client.close()


async def _upstream_tools(args: argparse.Namespace) -> list[dict[str, Any]]:
    import mcp_types

    from mcp_server.errors import ConfigError
    from mcp_server.sources import ToolCatalog, UpstreamSource, load_upstreams, parse_upstream
    from mcp_server.sources.config import check_unique

    try:
        configs = [parse_upstream(spec) for spec in args.upstream or ()]
        if args.upstreams is not None:
            configs.extend(load_upstreams(args.upstreams))
        check_unique(configs)
    except ConfigError as exc:
        raise PinError(exc.message, status=2) from None
    catalog = ToolCatalog([], [UpstreamSource(config) for config in configs])
    try:
        await catalog.open()
    except ConfigError as exc:
        raise PinError(exc.message) from None
    try:
        listing = mcp_types.ListToolsResult(tools=await catalog.list_tools())
    finally:
        await catalog.close()
    document = listing.model_dump(by_alias=True, exclude_none=True, mode="json")
    return list(document["tools"])


# -- small things -----------------------------------------------------------------------

def _store_settings(args: argparse.Namespace) -> Any:
    from interceptor.config import missing_config, settings_from_env

    settings = settings_from_env(config_path=args.config)
    missing = missing_config(settings)
    if missing is not None:
        raise PinError(missing)
    return settings


async def _project(settings: Any, name: str) -> Any:
    from interceptor.config import open_backend

    store = open_backend(settings)
    try:
        project = await store.get_project(name)
    finally:
        await store.close()
    if project is None:
        raise PinError(f"project {name!r} does not exist; create it with `sentinel keys create --project {name}`")
    return project


def _definition(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A live tool in the catalogue's shape."""
    return {
        "name": tool["name"],
        "description": tool.get("description") or "",
        "input_schema": tool.get("inputSchema", {}),
    }


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)

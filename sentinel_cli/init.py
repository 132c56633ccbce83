"""`sentinel init`: write a starter config where Sentinel looks for one when SENTINEL_CONFIG is unset.

    sentinel init [--path FILE] [--project NAME]

The file is ``$XDG_CONFIG_HOME/sentinel/sentinel.yaml`` (``~/.config/sentinel/
sentinel.yaml``), or SENTINEL_CONFIG when that is set, or ``--path``. It holds
one project (default ``default``) with a fresh API key, printed once, alone on
stdout (``KEY=$(sentinel init)``), the demo tool server's tools (what `sentinel
up` runs) and the demo's starting policy (``STARTER_POLICY``, the policy of
``examples/sentinel.yaml``): `sentinel up` then serves it as it is, and the
operator replaces tools and policy with their own (`sentinel tools push
--replace`, `sentinel policy push`).

It must never overwrite a file (a config in use, or a tracked example), never
store the key in clear, and never leave a half-written config: the file is
built beside its place and linked there in one step, which fails if a file
appeared meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_PROJECT = "default"

# The demo's starting policy (examples/sentinel.yaml; a test keeps the two equal).
STARTER_POLICY: dict[str, Any] = {
    "staticRules": {
        "get_current_time": "ALLOW",
        "list_files": "ALLOW",
        "read_file": "ALLOW",
        "read_inbox": "ALLOW",
        "fetch_url": "ALLOW",
        "send_email": "ALLOW",
        "transfer_funds": "ALLOW",
        "delete_file": "DENY",
    },
    "taintRules": [
        {"type": "ADD_TAINT", "tool": "read_inbox", "tag": "untrusted"},
        {"type": "ADD_TAINT", "tool": "fetch_url", "tag": "untrusted"},
        {"type": "CHECK_TAINT", "tool": "send_email", "forbidden_tags": ["untrusted"]},
        {"type": "CHECK_TAINT", "tool": "transfer_funds", "forbidden_tags": ["untrusted"]},
        {"type": "BLOCK_SECOND", "first": "read_file", "second": "send_email"},
    ],
}

_HEADER = """\
# Sentinel config, written by `sentinel init`.
#
# Project {project!r}: its API key was printed once by `sentinel init`; this file
# holds only the key's SHA-256. Another project and its key:
#   sentinel keys create --project NAME
# The tools are the demo tool server's (what `sentinel up` runs); the policy is
# the demo's starting policy (docs/policy-reference.md). Your agent's tools and policy:
#   sentinel tools classify --tools tools.json --out classified.json
#   sentinel tools push --project {project} --tools classified.json --replace
#   sentinel tools draft --tools classified.json --out policy.yaml
#   sentinel policy push {project} policy.yaml
"""


def register(subparsers: Any) -> None:
    init = subparsers.add_parser(
        "init", help="write a starter config (a project with a fresh API key, the demo tools, a starting policy)"
    )
    init.add_argument("--path", metavar="FILE",
                      help="where to write it (default: SENTINEL_CONFIG if set, else $XDG_CONFIG_HOME/sentinel/sentinel.yaml)")
    init.add_argument("--project", default=DEFAULT_PROJECT, help=f"the project's name (default: {DEFAULT_PROJECT})")
    init.set_defaults(handler=_init)


def _fail(message: str) -> int:
    print(f"sentinel init: {message}", file=sys.stderr)
    return 1


def _init(args: argparse.Namespace) -> int:
    from interceptor.config import ConfigStoreError, settings_from_env, store_kind
    from interceptor.config._records import check_name
    from sentinel_cli.keys import new_api_key, show_once

    try:
        check_name(args.project)  # refused before a key is printed
        settings = settings_from_env(config_path=args.path)
    except ConfigStoreError as exc:
        return _fail(exc.message)
    if args.path is None and store_kind(settings).name != "yaml":
        return _fail(f"the environment chooses the {store_kind(settings).name} config store, not a file; "
                     "create a project there with `sentinel keys create --project NAME`, or pass --path FILE")
    path = Path(settings.config_path).expanduser().absolute()
    if path.exists() or path.is_symlink():
        return _fail(f"{path} exists; sentinel init never overwrites a config "
                     "(add a project with `sentinel keys create --project NAME`, or choose another --path)")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"{path.parent}: cannot create the folder ({exc.strerror or exc})")
    key = new_api_key()
    if not show_once(key):  # shown before it is stored: a key nobody saw is never written
        return _fail("could not write the key to stdout; nothing was written")
    try:
        tools = _write(path, args.project, key)
    except (ConfigStoreError, OSError) as exc:
        return _fail(f"{getattr(exc, 'message', None) or exc}; nothing was written (the key above is void)")
    print(f"# wrote {path}: project {args.project!r} with the demo tool server's {tools} tools and a starting policy;\n"
          "# the key above is shown once (the file holds its SHA-256). Start the stack with: sentinel up", file=sys.stderr)
    return 0


def _write(path: Path, project: str, key: str) -> int:
    """Build the config in a temporary file beside ``path`` through the YAML store, then link it into place."""
    from interceptor.config import ConfigStoreError

    fd, name = tempfile.mkstemp(prefix=f".{path.name}.init-", suffix=".tmp", dir=path.parent)  # mode 600
    draft = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_HEADER.format(project=project))
        tools = asyncio.run(_fill(draft, project, key))
        try:
            os.link(draft, path)  # fails if a file appeared at `path` meanwhile: never overwritten
        except FileExistsError:
            raise ConfigStoreError("project_exists", f"{path} appeared meanwhile; it was left as it is") from None
        except OSError:  # a file system without hard links: create exclusively, then fill
            with open(path, "x", encoding="utf-8") as out:
                os.chmod(path, 0o600)
                out.write(draft.read_text(encoding="utf-8"))
        return tools
    finally:
        with contextlib.suppress(OSError):
            draft.unlink()


async def _fill(draft: Path, project: str, key: str) -> int:
    """The project, the demo tools and the starting policy, written by the YAML store (its checks, its read-back)."""
    from interceptor.config import YamlConfigStore, api_key_sha256
    from mcp_server.demo import tool_definitions

    store = YamlConfigStore(draft)
    tools = tool_definitions()
    await store.create_project(project, api_key_sha256(key))
    await store.push_tools(project, tools)
    await store.push_policy(project, STARTER_POLICY, "sentinel init", "the starting policy")
    return len(tools)

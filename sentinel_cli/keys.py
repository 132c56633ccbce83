"""``sentinel keys``: make the interceptor's identity key and projects' API keys.

    sentinel keys identity                      a new Ed25519 identity seed and its public half
    sentinel keys create --project NAME [--config FILE] [--rotate]
                                                a new API key, printed once; only its SHA-256 is stored
    sentinel keys create --project NAME --agent AGENT [--config FILE] [--rotate]
                                                a new key bound to one agent of an existing project
                                                (with --rotate it replaces that agent's keys)
    sentinel keys list --project NAME [--config FILE]
                                                the project's keys: a fingerprint each, and its agent
    sentinel keys revoke --project NAME --agent AGENT [--config FILE]
                                                every key bound to that agent stops working
    sentinel keys admin --name NAME             a new admin key (approvers), printed once, and the
                                                SENTINEL_ADMIN_KEYS entry (name and SHA-256) that admits it

The store is chosen as the interceptor chooses it, from the same settings
(``ConfigStoreSettings``: SENTINEL_DATABASE_URL, else SUPABASE_PROJECT_URL +
SUPABASE_SERVICE_ROLE_KEY, else SENTINEL_CONFIG or the file `sentinel init`
writes); ``--config FILE`` overrides all of them. ``--rotate`` names a project
that must exist: a mistyped name is an error, not a second project; so does
``--agent`` (an agent-bound key never creates a project). ``list`` shows the
first 8 hex digits of each key's SHA-256, never a whole hash.

It must never store or log an API key in clear, and prints each secret once,
alone on stdout, so it can be captured (``KEY=$(sentinel keys create ...)``).
The key is printed (and flushed) before its hash is stored, and a rotation
replaces the hash only if it is still the one read (compare-and-set), so a
failed print or a concurrent rotation never leaves a project with a key nobody
was shown.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Coroutine
from typing import Any

API_KEY_PREFIX = "sk-sentinel-"


def new_api_key() -> str:
    """``sk-sentinel-`` + 32 random bytes, base64url: 256 bits, never guessable."""
    from sentinel_contract import b64url_encode

    return API_KEY_PREFIX + b64url_encode(secrets.token_bytes(32))


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="make identity keys and project API keys")
    commands = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)

    identity = commands.add_parser(
        "identity", help="print a new interceptor identity key (SENTINEL_IDENTITY_KEY) and its public half"
    )
    identity.set_defaults(handler=_identity)

    create = commands.add_parser(
        "create", help="print a new API key for a project (created if missing; with --rotate it must exist)"
    )
    create.add_argument("--project", required=True, help="project name")
    create.add_argument("--config", metavar="FILE", help="YAML config file (overrides SENTINEL_CONFIG and the databases)")
    create.add_argument(
        "--agent", metavar="AGENT",
        help="bind the key to this agent: its sessions run only as AGENT (the project must exist)"
    )
    create.add_argument(
        "--rotate", action="store_true",
        help="replace the key of an existing project (its old key stops working), or with --agent that agent's keys; "
             "an unknown project is an error"
    )
    create.set_defaults(handler=_create)

    listing = commands.add_parser("list", help="show a project's keys: a fingerprint each, and the agent it is bound to")
    listing.add_argument("--project", required=True, help="project name")
    listing.add_argument("--config", metavar="FILE", help="YAML config file (overrides SENTINEL_CONFIG and the databases)")
    listing.set_defaults(handler=_list)

    revoke = commands.add_parser("revoke", help="revoke every key bound to one agent of a project")
    revoke.add_argument("--project", required=True, help="project name")
    revoke.add_argument("--agent", required=True, metavar="AGENT", help="the agent whose keys stop working")
    revoke.add_argument("--config", metavar="FILE", help="YAML config file (overrides SENTINEL_CONFIG and the databases)")
    revoke.set_defaults(handler=_revoke)

    admin = commands.add_parser(
        "admin", help="print a new admin key (approvers) and the SENTINEL_ADMIN_KEYS entry that admits it"
    )
    admin.add_argument("--name", required=True, help="who holds it: what the audit trail and `approvers:` name")
    admin.set_defaults(handler=_admin)


ADMIN_KEY_PREFIX = "sk-sentinel-admin-"
_ADMIN_NAME = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}"


def _admin(args: argparse.Namespace) -> int:
    """The key alone on stdout (captured by the person it is for); the entry the operator adds on stderr."""
    import hashlib
    import re

    from sentinel_contract import b64url_encode

    if not re.fullmatch(_ADMIN_NAME, args.name):
        print("sentinel keys admin: --name is 1-64 letters, digits and . _ @ + - (not first)", file=sys.stderr)
        return 2
    key = ADMIN_KEY_PREFIX + b64url_encode(secrets.token_bytes(32))
    print(key, flush=True)
    entry = f"{args.name}:{hashlib.sha256(key.encode()).hexdigest()}"
    print(f"# add to the interceptor's SENTINEL_ADMIN_KEYS (comma-separated): {entry}", file=sys.stderr)
    return 0


def _identity(args: argparse.Namespace) -> int:
    from sentinel_contract import b64url_encode, generate_keypair

    pair = generate_keypair()
    print(f"SENTINEL_IDENTITY_KEY={b64url_encode(pair.seed)}")
    print(f"SENTINEL_INTERCEPTOR_PUBLIC_KEYS={pair.public_b64}")
    print(
        "# the first line is secret: give it to the interceptor only; the second goes to the tool server",
        file=sys.stderr,
    )
    return 0


def _on_store(verb: str, work: Coroutine[Any, Any, int]) -> int:
    """Run one command against the config store; a store refusal is one line on stderr and exit status 1."""
    from interceptor.config import ConfigStoreError

    try:
        return asyncio.run(work)
    except ConfigStoreError as exc:
        print(f"sentinel keys {verb}: {exc.message} ({exc.code})", file=sys.stderr)
        return 1


def _create(args: argparse.Namespace) -> int:
    return _on_store("create", _create_async(args))


async def _create_async(args: argparse.Namespace) -> int:
    from interceptor.config import api_key_sha256, open_backend, settings_from_env
    from interceptor.config._records import check_name

    check_name(args.project)  # refused before a key is printed
    if args.agent is not None:
        return await _create_agent_key(args)
    settings = settings_from_env(config_path=args.config)  # once, at the command's start
    store = open_backend(settings)
    try:
        existing = await _get_project_or_none(store, args.project)
        if existing is None and args.rotate:
            # A typo must not create a second project and leave the real key in place.
            known = sorted(p.name for p in await _list_projects_or_none(store))
            listing = f"known projects: {', '.join(known)}" if known else "the store has no projects yet"
            print(
                f"sentinel keys create: --rotate: no project named {args.project!r} in {store!r} ({listing}); "
                f"nothing was changed. To create it, run without --rotate: sentinel keys create --project {args.project}",
                file=sys.stderr,
            )
            return 1
        if existing is not None and existing.api_key_sha256 and not args.rotate:
            print(
                f"sentinel keys create: project {args.project!r} already has a key; "
                "pass --rotate to replace it (the old key stops working)",
                file=sys.stderr,
            )
            return 1
        key = new_api_key()
        # The key is shown before its hash is stored: if it cannot be shown (a full
        # disk, a closed pipe), nothing changes and the old key keeps working.
        if not show_once(key):
            print("sentinel keys create: could not write the key to stdout; nothing was changed", file=sys.stderr)
            return 1
        key_hash = api_key_sha256(key)
        if existing is None:
            await store.create_project(args.project, key_hash)
            note = f"created project {args.project!r}"
        else:
            # Compare-and-set on the hash just read: of two concurrent rotations one
            # fails (conflict) instead of both printing a key only one of which works.
            await store.set_api_key(args.project, key_hash, expected_sha256=existing.api_key_sha256)
            note = (
                f"replaced the key of project {args.project!r}; its old key no longer works"
                if existing.api_key_sha256
                else f"gave project {args.project!r} its first key"
            )
    finally:
        await store.close()
    print(f"# {note}; {store!r} holds only the key's SHA-256. This key is shown once.", file=sys.stderr)
    return 0


async def _create_agent_key(args: argparse.Namespace) -> int:
    from interceptor.config import api_key_sha256, open_backend, settings_from_env
    from interceptor.config._records import check_agent_name

    check_agent_name(args.agent, "--agent")  # refused before a key is printed
    store = open_backend(settings_from_env(config_path=args.config))
    try:
        if not await _need_project(store, args.project, "keys create"):
            return 1
        key = new_api_key()
        if not show_once(key):
            print("sentinel keys create: could not write the key to stdout; nothing was changed", file=sys.stderr)
            return 1
        await store.add_agent_key(args.project, args.agent, api_key_sha256(key), replace=args.rotate)
    finally:
        await store.close()
    what = "replaced the keys" if args.rotate else "added a key"
    print(f"# {what} of agent {args.agent!r} in project {args.project!r}: its sessions run only as {args.agent!r}; "
          f"{store!r} holds only the key's SHA-256. This key is shown once.", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    return _on_store("list", _list_async(args))


async def _list_async(args: argparse.Namespace) -> int:
    from interceptor.config import open_backend, settings_from_env

    store = open_backend(settings_from_env(config_path=args.config))
    try:
        project = await _get_project_or_none(store, args.project)
        if project is None:
            await _need_project(store, args.project, "keys list")  # says so, with the store's projects
            return 1
    finally:
        await store.close()
    rows = [(project.api_key_sha256, "project key: any agent, every session of the project")] if project.api_key_sha256 else []
    rows += sorted(((h, f"agent {a}") for h, a in project.agent_keys.items()), key=lambda row: (row[1], row[0]))
    for key_hash, holder in rows:
        print(f"{key_hash[:8]}  {holder}")
    if not rows:
        print(f"# project {args.project!r} has no keys", file=sys.stderr)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    return _on_store("revoke", _revoke_async(args))


async def _revoke_async(args: argparse.Namespace) -> int:
    from interceptor.config import open_backend, settings_from_env
    from interceptor.config._records import check_agent_name

    check_agent_name(args.agent, "--agent")
    store = open_backend(settings_from_env(config_path=args.config))
    try:
        if not await _need_project(store, args.project, "keys revoke"):
            return 1
        removed = await store.revoke_agent_keys(args.project, args.agent)
    finally:
        await store.close()
    if not removed:
        print(f"sentinel keys revoke: project {args.project!r} has no key bound to agent {args.agent!r}; "
              "nothing was changed (`sentinel keys list` shows its keys)", file=sys.stderr)
        return 1
    print(f"# revoked {removed} key(s) of agent {args.agent!r} in project {args.project!r}; a running interceptor "
          "refuses them once its config cache refreshes (every request presents its key). The agent's open sessions "
          f"end at their expiry; `sentinel sessions revoke --project {args.project} --agent {args.agent}` ends them now.",
          file=sys.stderr)
    return 0


async def _need_project(store: Any, name: str, command: str) -> bool:
    """Whether the project exists; if not, say so on stderr with the store's projects (a typo creates nothing)."""
    if await _get_project_or_none(store, name) is not None:
        return True
    known = sorted(p.name for p in await _list_projects_or_none(store))
    listing = f"known projects: {', '.join(known)}" if known else "the store has no projects yet"
    print(f"sentinel {command}: no project named {name!r} in {store!r} ({listing}); nothing was changed",
          file=sys.stderr)
    return False


def show_once(key: str) -> bool:
    """Print the key and flush; False if it could not be written (stdout full, closed, a broken pipe)."""
    try:
        print(key, flush=True)
        return True
    except (OSError, ValueError):
        _silence_stdout()
        return False


def _silence_stdout() -> None:
    # What is still buffered would fail again when the interpreter flushes stdout
    # at exit ("Exception ignored ..."); point the descriptor at /dev/null instead.
    import os

    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


async def _list_projects_or_none(store: Any) -> list[Any]:
    """The store's projects; none when its file does not exist yet."""
    from interceptor.config import YamlConfigStore

    if isinstance(store, YamlConfigStore) and not store.path.exists():
        return []
    return list(await store.list_projects())


async def _get_project_or_none(store: Any, name: str) -> Any:
    from interceptor.config import ConfigStoreError, YamlConfigStore

    try:
        return await store.get_project(name)
    except ConfigStoreError as exc:
        if exc.code == "config_unavailable" and isinstance(store, YamlConfigStore) and not store.path.exists():
            folder = store.path.parent if str(store.path.parent) else None
            if folder is not None and not folder.is_dir():
                # Refused before a key is printed: it could never be stored.
                raise ConfigStoreError(
                    "config_unavailable",
                    f"{folder}: no such directory for the config file; `sentinel init` makes a config with a project "
                    "and its key, or pass --config FILE",
                ) from None
            return None  # a first key creates the file
        raise

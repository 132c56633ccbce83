"""The ``sentinel`` console script: one entry point, one module per command group.

Each command module exposes ``register(subparsers)``; it must import its heavy
dependencies (FastAPI, Redis, database drivers) inside the command functions,
so ``sentinel --help`` stays fast and the SDK-only install still has a CLI that
explains what is missing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command groups, each a module of this package with a `register(subparsers)`.
_GROUPS = ("init", "serve", "keys", "policy", "tools", "approvals", "breakglass", "sessions", "audit", "run", "demo", "experiments", "connect")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentinel", description="Sentinel: a zero-trust gateway for agent tool calls.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _GROUPS:
        importlib.import_module(f"sentinel_cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

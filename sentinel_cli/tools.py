"""``sentinel tools``: manage a project's tool catalogue.

    sentinel tools push --project NAME --tools classified.json [--config FILE]

The catalogue is what ``python -m rule_maker classify`` writes. The store is
chosen as the interceptor chooses it; ``--config FILE`` overrides it. Heavy
imports happen inside the command, so ``sentinel --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from rule_maker._cli import add_push_arguments

    tools = subparsers.add_parser("tools", help="manage a project's tool catalogue")
    commands = tools.add_subparsers(dest="tools_command", metavar="COMMAND", required=True)
    push = commands.add_parser("push", help="write classified tools into a project of the config store")
    add_push_arguments(push)
    push.set_defaults(handler=_push)


def _push(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from rule_maker._catalogue import load_tools
    from rule_maker._errors import RuleMakerError
    from rule_maker._push import push_tools

    try:
        tools = load_tools(args.tools)
        count = asyncio.run(push_tools(args.project, tools, config=args.config))
    except RuleMakerError as exc:
        print(f"sentinel tools push: {exc} ({exc.code})", file=sys.stderr)
        return 1
    review = [t["name"] for t in tools if t.get("needs_review")]
    print(f"pushed {count} tools to project {args.project!r}", file=sys.stderr)
    if review:
        print(f"# {len(review)} need review: {', '.join(review)}", file=sys.stderr)
    return 0

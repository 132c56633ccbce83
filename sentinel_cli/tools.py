"""``sentinel tools``: classify an agent's tools, draft a starting policy, write the catalogue to a project.

    sentinel tools classify NAME DESCRIPTION [--offline]                 one tool, JSON on stdout
    sentinel tools classify --tools tools.json [--offline] [--out FILE]  a catalogue
    sentinel tools draft --tools classified.json [--out policy.yaml] [--mode balanced|strict]
    sentinel tools push --project NAME --tools classified.json [--config FILE] [--replace]
    sentinel tools import|approve|pins --project NAME ...                pinned definitions (sentinel_cli/pins.py)

``classify`` and ``draft`` run rule_maker (``python -m rule_maker classify|policy``
is the same, kept as an alias); ``push`` writes into the config store chosen
from the store settings, as the interceptor chooses it (``--config FILE``
overrides them); the file becomes the project's whole catalogue, and a push
that would remove tools is refused, naming them, unless ``--replace`` is given. Heavy imports happen inside the commands, so ``sentinel
--help`` stays fast. This module must never print an API key, nor a raw
control character from a catalogue to the terminal.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    tools = subparsers.add_parser("tools", help="classify tools, draft a policy, push a catalogue to a project")
    commands = tools.add_subparsers(dest="tools_command", metavar="COMMAND", required=True)

    from rule_maker import CLASSIFY_HELP, DRAFT_HELP, add_classify_arguments, add_draft_arguments

    classify = commands.add_parser("classify", help=CLASSIFY_HELP)
    add_classify_arguments(classify)
    classify.set_defaults(handler=_classify)

    draft = commands.add_parser("draft", help=DRAFT_HELP)
    add_draft_arguments(draft)
    draft.set_defaults(handler=_draft)

    push = commands.add_parser("push", help="write classified tools into a project of the config store")
    push.add_argument("--project", required=True, help="project name in the config store")
    push.add_argument("--tools", required=True, help="classified catalogue (JSON)")
    push.add_argument("--config", help="a YAML config file (default: the interceptor's store from the environment)")
    push.add_argument("--replace", action="store_true",
                      help="let the push remove the project's tools that the file does not list (refused otherwise)")
    push.set_defaults(handler=_push)

    from sentinel_cli import pins

    pins.register(commands)


def _printable(text: str) -> str:
    # A tool name ends up on the terminal: escape whatever could end a line or drive it.
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _fail(command: str, exc: Any) -> int:
    print(f"sentinel tools {command}: {exc} ({exc.code})", file=sys.stderr)
    return 2


def _classify(args: argparse.Namespace) -> int:
    from rule_maker import RuleMakerError, classify_command

    try:
        return classify_command(args)
    except RuleMakerError as exc:
        return _fail("classify", exc)


def _draft(args: argparse.Namespace) -> int:
    from rule_maker import RuleMakerError, draft_command

    try:
        return draft_command(args)
    except RuleMakerError as exc:
        return _fail("draft", exc)


def _push(args: argparse.Namespace) -> int:
    import asyncio

    from interceptor.config import ConfigStoreError, missing_config, settings_from_env
    from rule_maker import RuleMakerError, load_tools
    from rule_maker._push import push_catalogue
    from sentinel_cli.policy import catalogue_problems

    try:
        settings = settings_from_env(config_path=args.config)
        missing = missing_config(settings)
        if missing is not None:
            print(f"sentinel tools push: {missing}", file=sys.stderr)
            return 1
        tools = load_tools(args.tools)
        change = asyncio.run(push_catalogue(args.project, tools, settings=settings, replace=args.replace))
    except (RuleMakerError, ConfigStoreError) as exc:  # it may name the store's tools: printable only
        print(f"sentinel tools push: {_printable(str(exc))} ({exc.code})", file=sys.stderr)
        return 1
    count = len(change.added) + len(change.changed) + len(change.unchanged)
    print(f"pushed {count} tools to project {args.project!r}: {_names('added', change.added)}, "
          f"{_names('changed', change.changed)}, {_names('removed', change.removed)}", file=sys.stderr)
    review = [_printable(str(t["name"])) for t in tools if t.get("needs_review")]
    if review:
        print(f"# {len(review)} need review: {', '.join(review)}", file=sys.stderr)
    stale = catalogue_problems(change.policies, [dict(t) for t in tools])
    if stale:
        print(f"# the project's policy names tools the catalogue no longer has ({len(stale)}): "
              f"{_printable('; '.join(stale))}; check it with `sentinel policy validate`", file=sys.stderr)
    return 0


def _names(what: str, names: tuple[str, ...]) -> str:
    return f"{what} {len(names)}" + (f" ({', '.join(_printable(n) for n in names)})" if names else "")

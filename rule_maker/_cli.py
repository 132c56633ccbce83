"""``python -m rule_maker``: classify tools, draft a policy, push tools to a project.

Thin: parse arguments, call the library, print. It must never print an API key,
nor a raw control character from a catalogue to the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rule_maker._catalogue import (
    annotate,
    dump_tools,
    load_tools,
    parse_tools,
    printable,
)
from rule_maker._classification import Classification
from rule_maker._errors import RuleMakerError
from rule_maker._offline import OfflineClassifier


def classify_tools(tools: Sequence[dict[str, Any]], *, offline: bool = False) -> list[Classification]:
    """Offline when asked or when no LLM endpoint is configured; the LLM (with fallback) otherwise."""
    from rule_maker._llm import LLMClassifier, LLMSettings

    settings = None if offline else LLMSettings.from_env()
    if settings is None:
        classifier = OfflineClassifier()
        return [classifier.classify(t) for t in tools]
    return asyncio.run(LLMClassifier(settings).classify_many(tools))


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def classify_command(args: argparse.Namespace) -> int:
    """classify, as both `sentinel tools classify` and `python -m rule_maker classify` run it (RuleMakerError on bad input)."""
    if args.tools:
        if args.name or args.description:
            raise RuleMakerError("give either NAME DESCRIPTION or --tools FILE, not both", code="usage")
        tools = load_tools(args.tools)
    elif args.name:
        tools = parse_tools([{"name": args.name, "description": args.description or ""}])
    else:
        raise RuleMakerError("give NAME DESCRIPTION or --tools FILE", code="usage")
    results = classify_tools(tools, offline=args.offline)
    classified = annotate(tools, results)
    if args.tools:
        _write(dump_tools(classified), args.out)
        counts = Counter(r.security_class.value for r in results)
        review = [printable(r.tool) for r in results if r.needs_review]
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"classified {len(results)} tools: {summary}; needs review: {len(review)}" + (f" ({', '.join(review)})" if review else ""), file=sys.stderr)
    else:
        _write(json.dumps(classified[0], indent=2) + "\n", args.out)
    return 0


def draft_command(args: argparse.Namespace) -> int:
    """draft, as both `sentinel tools draft` and `python -m rule_maker policy` run it (RuleMakerError on bad input)."""
    from rule_maker._policy import generate_policy, policy_yaml

    tools = load_tools(args.tools)
    policy = generate_policy(tools, mode=args.mode, flow_effect=args.flow_effect)
    _write(policy_yaml(policy, tools), args.out)
    return 0


def _push(args: argparse.Namespace) -> int:
    from rule_maker._push import push_tools

    count = asyncio.run(push_tools(args.project, load_tools(args.tools), config=args.config, replace=args.replace))
    print(f"pushed {count} tools to project {args.project}", file=sys.stderr)
    return 0


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, help="project name in the config store")
    parser.add_argument("--tools", required=True, help="classified catalogue (JSON)")
    parser.add_argument("--config", help="config store location (default: the interceptor's settings)")
    parser.add_argument("--replace", action="store_true",
                        help="let the push remove the project's tools that the file does not list (refused otherwise)")


CLASSIFY_HELP = "classify one tool (NAME DESCRIPTION) or a catalogue (--tools)"
DRAFT_HELP = "draft a starting policy from a classified catalogue"


def add_classify_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of classify, shared by ``sentinel tools classify`` and ``python -m rule_maker classify``."""
    parser.add_argument("name", nargs="?", help="tool name")
    parser.add_argument("description", nargs="?", help="tool description")
    parser.add_argument("--tools", help="catalogue: JSON list of {name, description, parameters}")
    parser.add_argument("--offline", action="store_true", help="never call an LLM, even when one is configured")
    parser.add_argument("--out", help="write here instead of stdout")


def add_draft_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of draft, shared by ``sentinel tools draft`` and ``python -m rule_maker policy``."""
    parser.add_argument("--tools", required=True, help="classified catalogue (what `sentinel tools classify` writes)")
    parser.add_argument("--out", help="write the YAML here instead of stdout")
    parser.add_argument("--mode", choices=("balanced", "strict"), default="balanced",
                        help="strict denies every write after untrusted content")
    parser.add_argument("--flow-effect", choices=("deny", "require_approval"), default="deny",
                        help="for a write carrying a value from untrusted content")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rule_maker", description="Classify agent tools and draft a Sentinel policy.")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("classify", help=CLASSIFY_HELP)
    add_classify_arguments(c)
    c.set_defaults(handler=classify_command)

    p = sub.add_parser("policy", help=DRAFT_HELP)
    add_draft_arguments(p)
    p.set_defaults(handler=draft_command)

    u = sub.add_parser("push", help="write the classified tools into a project of the config store")
    add_push_arguments(u)
    u.set_defaults(handler=_push)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except RuleMakerError as exc:
        print(f"rule_maker: error [{exc.code}]: {exc}", file=sys.stderr)
        return 2

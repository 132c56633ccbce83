"""`sentinel experiments run|list` and `sentinel chat`: the experiment suite and the conversational agent.

`experiments run` starts one real stack per policy, runs every scenario through
the SDK with a fresh session, judges the outcome on the tool server's side, and
writes report.html, results.json and chart.svg to --out. It exits 1 when an
enforced policy let an attack through or failed a task, 2 when it cannot run.

`chat` lets a person talk to an LLM agent whose tools go through Sentinel; with
--verbose each call shows its decision and rule. Without an LLM endpoint it
says how to configure one and exits 2.

Both start their stacks with this package's launcher (``run.run_stack``),
passed down to ``sentinel_agent``.

Heavy imports (LangChain, rich, the stack) happen inside the handlers, so
`sentinel --help` stays fast. This module must never print an API key.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
# Names --policy accepted before the built-in policies were named for what they contain.
POLICY_ALIASES = {"original": "static+taint"}


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("experiments", help="attack and benign scenarios over the demo tools, under several policies")
    commands = group.add_subparsers(dest="experiments_command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run the scenarios; print a table; write report.html, results.json, chart.svg")
    _policy_options(run)
    run.add_argument("--agent", choices=("scripted", "llm"), default="scripted",
                     help="scripted: obeys every injected instruction (default, no network); llm: an OpenAI-compatible model")
    run.add_argument("--redis", nargs="?", const=DEFAULT_REDIS, default=None, metavar="URL",
                     help=f"keep the state in Redis (default URL {DEFAULT_REDIS}) under a prefix deleted afterwards")
    run.add_argument("--out", default="var/experiments", help="where the report goes (default: var/experiments)")
    run.add_argument("--scenario", action="append", default=[], metavar="ID", help="run only these scenarios (repeatable)")
    run.set_defaults(handler=_run)

    listing = commands.add_parser("list", help="the scenarios, their kind and what should stop them")
    listing.set_defaults(handler=_list)

    chat = subparsers.add_parser("chat", help="talk to an LLM agent whose tool calls go through Sentinel")
    chat.add_argument("--verbose", "-v", action="store_true", help="show every tool call with its arguments, decision, rule and reason")
    chat.add_argument("--url", default=None, help="an interceptor already running (default: start a local stack)")
    chat.add_argument("--api-key", default=None, help="the project's API key with --url (default: SENTINEL_API_KEY)")
    chat.add_argument("--policy", default="sentinel",
                      help="local stack: built-in policy name (baseline, static+taint, sentinel) or policy file (default: sentinel)")
    chat.add_argument("--config", default=None, help="local stack: a whole config file instead of --policy")
    chat.add_argument("--keep", action="store_true", help="keep the local stack's folder (audit logs, tool data)")
    chat.set_defaults(handler=_chat)


def _policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", action="append", default=[], metavar="NAME|FILE",
                        help="a policy to compare: baseline, static+taint (alias: original), sentinel or a policy "
                             "file (repeatable; default: baseline, static+taint and sentinel)")
    parser.add_argument("--config", action="append", default=[], metavar="FILE",
                        help="a whole config file to run as it is (repeatable); its project must accept --api-key")
    parser.add_argument("--api-key", default="sk-sentinel-demo", help="the API key for --config files (default: the demo key)")


def _policies(args: argparse.Namespace) -> list[Any]:
    from sentinel_agent.experiments import DEFAULT_POLICIES, policy_from_config, resolve_policy

    taken: set[str] = set()
    specs = [POLICY_ALIASES.get(spec, spec) for spec in args.policy] if (args.policy or args.config) else list(DEFAULT_POLICIES)
    policies = [resolve_policy(spec, taken=taken) for spec in specs]
    policies += [policy_from_config(path, args.api_key, taken=taken) for path in args.config]
    return policies


def _error(message: str) -> int:
    print(f"sentinel: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from redis import RedisError
    from rich.console import Console

    from sentinel_agent._errors import AgentError
    from sentinel_agent.agents import ScriptedAgent
    from sentinel_agent.experiments import SCENARIOS, run_experiments
    from sentinel_agent.experiments._report import write_outputs
    from sentinel_agent.experiments._terminal import print_results, progress_bar
    from sentinel_cli.run import run_stack

    try:
        policies = _policies(args)
        scenarios = [s for s in SCENARIOS if not args.scenario or s.id in args.scenario]
        unknown = set(args.scenario) - {s.id for s in SCENARIOS}
        if unknown:
            return _error(f"unknown scenario(s): {', '.join(sorted(unknown))} (see `sentinel experiments list`)")
        model_name = None
        if args.agent == "llm":
            agent, model_name = _llm_agent()
        else:
            agent = ScriptedAgent()
    except AgentError as exc:
        return _error(exc.message)
    if args.redis:
        from sentinel_cli.run import redis_problem

        problem = redis_problem(args.redis)  # before any stack starts: seconds, not a 30 s wait
        if problem is not None:
            return _error(f"experiments run --redis: {problem}")
    console = Console()
    out_dir = Path(args.out).resolve()
    console.print(f"Running {len(scenarios)} scenarios under {', '.join(p.name for p in policies)} "
                  f"with the {agent.name} agent{f' ({model_name})' if model_name else ''}; one stack per policy.")
    try:
        with progress_bar(console, len(scenarios) * len(policies)) as on_result:
            report = run_experiments(policies, scenarios, agent, out_dir, launch=run_stack, redis_url=args.redis,
                                     on_result=on_result, model=model_name)
    except AgentError as exc:
        return _error(exc.message)
    except RedisError as exc:  # Redis went away during the run (the keys under the run's prefix may remain)
        from sentinel_cli.run import shown_url

        return _error(f"experiments run --redis: Redis at {shown_url(args.redis)} failed during the run: {exc}")
    print_results(report, console)
    paths = write_outputs(report, out_dir)
    console.print(f"Report: {paths['html']}\nJSON:   {paths['json']}\nChart:  {paths['svg']}\n"
                  f"Audit trails per policy: {out_dir / 'stacks'}  ({report.seconds:.1f} s)")
    return 1 if report.failures() else 0


def _llm_agent() -> tuple[Any, str]:
    from sentinel_agent.agents import ChatCompletionsModel, LLMAgent, endpoint_from_env

    endpoint = endpoint_from_env()
    return LLMAgent(ChatCompletionsModel.from_endpoint(endpoint)), endpoint.describe()


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sentinel_agent.experiments import SCENARIOS

    table = Table(title=f"{len(SCENARIOS)} scenarios")
    table.add_column("id", no_wrap=True)
    for column in ("kind", "user goal", "meant to stop it"):
        table.add_column(column)
    for scenario in SCENARIOS:
        kind = scenario.kind + (" (injected)" if scenario.environment.injected else "")
        table.add_row(scenario.id, kind, scenario.goal.text, scenario.defence)
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from sentinel_agent._errors import AgentError
    from sentinel_agent.chat import run_chat

    try:
        from sentinel_agent.agents import endpoint_from_env

        endpoint = endpoint_from_env()
    except AgentError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if args.url:
        api_key = args.api_key or os.environ.get("SENTINEL_API_KEY")
        if not api_key:
            return _error("--url needs --api-key or SENTINEL_API_KEY")
        return run_chat(endpoint, url=args.url, api_key=api_key, verbose=args.verbose)
    try:
        ns = argparse.Namespace(policy=[] if args.config else [args.policy], config=[args.config] if args.config else [],
                                api_key=args.api_key or "sk-sentinel-demo")
        policy = _policies(ns)[0]
    except AgentError as exc:
        return _error(exc.message)
    from sentinel_cli.run import run_stack

    return run_chat(endpoint, policy=policy, launch=run_stack, verbose=args.verbose, keep=args.keep)

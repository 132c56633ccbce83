"""`sentinel chat`: a person types, an LLM agent answers, and every tool call goes through Sentinel.

Against an interceptor already running (``url`` and ``api_key``), or a local
stack started for the chat with one policy through the ``launch`` it is given
(the tool server and interceptor as real processes, demo data, state and audit
logs in a temporary folder).
With ``verbose`` each call prints its arguments, decision, rule and reason the
moment Sentinel answers; otherwise one short line per call.

Lines come from standard input until EOF, ``exit`` or ``quit``, so a script
can drive a chat as well as a person. It must never print a tool's raw output
(the model reads it; the person reads the model's answer) and never an API key.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from sentinel_agent._errors import AgentError
from sentinel_agent._stack import StackLauncher
from sentinel_agent.agents import CallRecord, LLMEndpoint, ToolSession

if TYPE_CHECKING:
    from sentinel_agent.experiments import PolicyUnderTest

__all__ = ["run_chat"]

_COLOURS = {"allow": "green", "deny": "red", "approval": "yellow", "error": "magenta"}
_QUIT = {"exit", "quit", ":q"}


def _printer(console: Console, verbose: bool):  # type: ignore[no-untyped-def]
    def show(record: CallRecord) -> None:
        colour = _COLOURS.get(record.decision, "white")
        if verbose:
            args = json.dumps(record.arguments, ensure_ascii=False, default=repr)
            args = args if len(args) <= 200 else args[:200] + "…"
            console.print(f"  [bold]→ {escape(record.tool)}[/] {escape(args)}")
            console.print(f"    [{colour}]{record.decision}[/] by [bold]{escape(record.rule or '-')}[/]: {escape(record.reason)}"
                          + (" [dim](the tool reported an error)[/]" if record.tool_error else "")
                          + (" [dim](outcome unknown: the tool may have run)[/]" if record.outcome_unknown else ""))
        else:
            console.print(f"  [dim]· {escape(record.tool)}:[/] [{colour}]{record.decision}[/]")

    return show


async def _converse(endpoint: LLMEndpoint, url: str, api_key: str, verbose: bool, stdin: IO[str], console: Console) -> int:
    from sentinel_agent.agents import ChatCompletionsModel, Conversation
    from sentinel_sdk import SentinelClient, SentinelError

    model = ChatCompletionsModel.from_endpoint(endpoint)
    failures = 0
    try:
        async with SentinelClient(api_key=api_key, base_url=url) as client:
            session = ToolSession(client, on_call=_printer(console, verbose))
            conversation = Conversation(model, session)
            console.print(f"Sentinel chat: model {escape(endpoint.describe())}, session {client.session_id}. "
                          "Type a request; 'exit' or Ctrl-D ends.")
            interactive = stdin.isatty()
            while True:
                if interactive:
                    console.print("[bold cyan]you>[/] ", end="")
                line = await asyncio.to_thread(stdin.readline)
                if not line:
                    break
                text = line.strip()
                if not text:
                    continue
                if text.lower() in _QUIT:
                    break
                try:
                    answer = await conversation.ask(text)
                except AgentError as exc:
                    failures += 1
                    console.print(f"[red]model error ({exc.code}):[/] {escape(exc.message)}")
                    continue
                console.print(Text.assemble(("agent> ", "bold magenta"), answer))
            calls = session.calls
            console.print(f"Session ended: {len(calls)} tool calls, "
                          f"{sum(c.decision == 'allow' for c in calls)} allowed, {sum(c.decision == 'deny' for c in calls)} blocked, "
                          f"{sum(c.decision == 'approval' for c in calls)} held.")
    except SentinelError as exc:
        console.print(f"[red]Sentinel error ({exc.code}):[/] {escape(str(exc))}")
        return 1
    return 1 if failures else 0


def run_chat(
    endpoint: LLMEndpoint,
    *,
    url: str | None = None,
    api_key: str | None = None,
    policy: PolicyUnderTest | None = None,
    launch: StackLauncher | None = None,
    verbose: bool = False,
    keep: bool = False,
    stdin: IO[str] | None = None,
    console: Console | None = None,
) -> int:
    """Chat until EOF; 0 when every turn got an answer, 1 otherwise."""
    stdin = stdin or sys.stdin
    console = console or Console(highlight=False)
    if url is not None:
        return asyncio.run(_converse(endpoint, url, api_key or "", verbose, stdin, console))
    if policy is None or launch is None:
        raise AgentError("run_chat needs either url and api_key, or a policy and a launcher for a local stack")
    var_dir = Path(tempfile.mkdtemp(prefix="sentinel-chat-"))
    try:
        config = policy.write_config(var_dir / "config")
        console.print(f"Starting the tool server and the interceptor with policy {escape(policy.name)} ({escape(policy.source)}) ...")
        with launch(config=str(config), var_dir=var_dir) as stack:
            return asyncio.run(_converse(endpoint, stack.interceptor_url, policy.api_key, verbose, stdin, console))
    finally:
        if keep:
            console.print(f"Audit logs and tool data kept in {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)

"""Agents over Sentinel and the experiments that measure it.

- ``sentinel_agent.agents``: a scripted agent that obeys every injected
  instruction (the deterministic worst case) and an LLM agent over any
  OpenAI-compatible chat endpoint, both calling tools through the SDK.
- ``sentinel_agent.experiments``: scenarios over the demo tool server, run
  under several policies on real processes, judged on the tool server's side.
- ``sentinel_agent.chat``: the conversational agent behind ``sentinel chat``.

This package is Zone A (the agent side): it must never import the
interceptor's or the tool server's internals to decide or execute a call, nor
the CLI above it. The processes are started by a ``StackLauncher`` the caller
passes in (the `sentinel` command passes its own); this package talks to them over
HTTP like any agent.
"""

from sentinel_agent._stack import RunningStack, StackLauncher

__all__ = ["RunningStack", "StackLauncher"]

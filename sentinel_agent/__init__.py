"""Agents over Sentinel and the experiments that measure it.

- ``sentinel_agent.agents``: a scripted agent that obeys every injected
  instruction (the deterministic worst case) and an LLM agent over any
  OpenAI-compatible chat endpoint, both calling tools through the SDK.
- ``sentinel_agent.experiments``: scenarios over the demo tool server, run
  under several policies on real processes, judged on the tool server's side.
- ``sentinel_agent.chat``: the conversational agent behind ``sentinel chat``.

This package is Zone A (the agent side): it must never import the
interceptor's or the tool server's internals to decide or execute a call; it
starts them as separate processes and talks to them over HTTP like any agent.
"""

__all__: list[str] = []

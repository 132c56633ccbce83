"""Which OpenAI-compatible chat endpoint the LLM agent talks to, read from the environment.

    OPENROUTER_API_KEY [OPENROUTER_MODEL] [OPENROUTER_BASE_URL]     OpenRouter
    OPENAI_BASE_URL and/or OPENAI_API_KEY [OPENAI_MODEL]           any chat-completions server

OpenRouter wins when both are set. A local server (vLLM, Ollama, llama.cpp)
needs only ``OPENAI_BASE_URL``. Read once, by the command that needs it, never
at import time; the key is kept as a ``SecretStr`` and never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from sentinel_agent._errors import LLMNotConfigured

__all__ = ["HOW_TO_CONFIGURE", "LLMEndpoint", "endpoint_from_env"]

OPENROUTER_URL = "https://openrouter.ai/api/v1"
OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_OPENROUTER_MODEL = "openai/gpt-4o-mini"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

HOW_TO_CONFIGURE = """\
No LLM endpoint is configured. The agent needs an OpenAI-compatible chat completions API with tool calling:

  OpenRouter:   export OPENROUTER_API_KEY=sk-or-...   (optional: OPENROUTER_MODEL=openai/gpt-4o-mini)
  OpenAI:       export OPENAI_API_KEY=sk-...          (optional: OPENAI_MODEL=gpt-4o-mini)
  Local server: export OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.1   (vLLM, Ollama, llama.cpp)

Then run the command again. (`sentinel experiments run` works without a model: its default agent is scripted.)"""


@dataclass(frozen=True, slots=True)
class LLMEndpoint:
    base_url: str
    model: str
    api_key: SecretStr | None = None
    provider: str = "openai"

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"


def endpoint_from_env(environ: Mapping[str, str] | None = None) -> LLMEndpoint:
    """The configured endpoint, or ``LLMNotConfigured`` whose message says how to configure one."""
    env = os.environ if environ is None else environ
    if env.get("OPENROUTER_API_KEY"):
        return LLMEndpoint(
            base_url=(env.get("OPENROUTER_BASE_URL") or OPENROUTER_URL).rstrip("/"),
            model=env.get("OPENROUTER_MODEL") or DEFAULT_OPENROUTER_MODEL,
            api_key=SecretStr(env["OPENROUTER_API_KEY"]),
            provider="openrouter",
        )
    if env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY"):
        key = env.get("OPENAI_API_KEY")
        return LLMEndpoint(
            base_url=(env.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/"),
            model=env.get("OPENAI_MODEL") or DEFAULT_OPENAI_MODEL,
            api_key=SecretStr(key) if key else None,
        )
    raise LLMNotConfigured(HOW_TO_CONFIGURE)

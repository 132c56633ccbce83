"""The errors of sentinel_agent: one root, each with a machine-readable ``code``.

    AgentError                  code
    ├── LLMNotConfigured        llm_not_configured   no OpenAI-compatible endpoint in the environment
    ├── LLMUnavailable          llm_unavailable      the endpoint could not be reached or refused the call
    ├── LLMBadResponse          llm_bad_response     the endpoint answered something that is not a chat completion
    └── ExperimentError         experiment_failed    a policy, a scenario or the stack could not be used

Messages never contain API keys (neither Sentinel's nor the model provider's).
"""

from __future__ import annotations

__all__ = ["AgentError", "ExperimentError", "LLMBadResponse", "LLMNotConfigured", "LLMUnavailable"]


class AgentError(Exception):
    default_code = "agent_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class LLMNotConfigured(AgentError):
    default_code = "llm_not_configured"


class LLMUnavailable(AgentError):
    default_code = "llm_unavailable"


class LLMBadResponse(AgentError):
    default_code = "llm_bad_response"


class ExperimentError(AgentError):
    default_code = "experiment_failed"

"""Agents that call the demo tools through Sentinel: scripted (worst case) and LLM (any OpenAI-compatible endpoint).

    session = ToolSession(client)                      # a started SentinelClient
    await ScriptedAgent().run(goal, session)           # session.calls: every call and its decision
    model = ChatCompletionsModel.from_endpoint(endpoint_from_env())
    await LLMAgent(model).run(goal, session)

Importing this package must stay cheap: no model is contacted and no LangChain
module is imported until an LLM agent is built (``ChatCompletionsModel``,
``Conversation``, ``LLMAgent`` load lazily).
"""

from typing import Any

from sentinel_agent.agents._endpoint import HOW_TO_CONFIGURE, LLMEndpoint, endpoint_from_env
from sentinel_agent.agents._instructions import Instruction, find_instructions
from sentinel_agent.agents._scripted import Goal, PlannedCall, ScriptedAgent
from sentinel_agent.agents._session import CallRecord, ToolSession, model_text

__all__ = [
    "HOW_TO_CONFIGURE",
    "CallRecord",
    "ChatCompletionsModel",
    "Conversation",
    "Goal",
    "Instruction",
    "LLMAgent",
    "LLMEndpoint",
    "PlannedCall",
    "ScriptedAgent",
    "ToolSession",
    "endpoint_from_env",
    "find_instructions",
    "model_text",
]


def __getattr__(name: str) -> Any:
    if name == "ChatCompletionsModel":
        from sentinel_agent.agents._model import ChatCompletionsModel

        return ChatCompletionsModel
    if name in ("Conversation", "LLMAgent"):
        from sentinel_agent.agents import _llm

        return getattr(_llm, name)
    raise AttributeError(f"module 'sentinel_agent.agents' has no attribute {name!r}")

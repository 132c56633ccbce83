"""A LangChain chat model over any OpenAI-compatible chat completions endpoint, with tool calling.

About 150 lines instead of a dependency: it speaks ``POST {base_url}/chat/completions``
with ``messages`` and ``tools`` through httpx (already an SDK dependency) and
turns the answer's ``tool_calls`` into LangChain ``tool_calls``. OpenRouter,
OpenAI, vLLM, Ollama and llama.cpp all accept it.

It must never log or repeat the provider's API key, and never invent a tool
call: arguments that are not valid JSON become ``invalid_tool_calls``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, SecretStr

from sentinel_agent._errors import LLMBadResponse, LLMUnavailable
from sentinel_agent.agents._endpoint import LLMEndpoint

__all__ = ["ChatCompletionsModel"]


def _wire_message(message: BaseMessage) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.text}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": message.text}
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if isinstance(message, AIMessage):
        wire: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        if message.tool_calls:
            wire["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["args"], ensure_ascii=False)},
                }
                for call in message.tool_calls
            ]
        return wire
    raise LLMBadResponse(f"cannot send a {type(message).__name__} to a chat completions endpoint")


def _parse_reply(body: Any) -> AIMessage:
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise LLMBadResponse("the endpoint's answer has no choices[0].message") from None
    calls, invalid = [], []
    for index, raw in enumerate(message.get("tool_calls") or []):
        function = raw.get("function") or {}
        call_id = raw.get("id") or f"call_{index}"
        arguments = function.get("arguments") or "{}"
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else arguments
            if not isinstance(args, dict):
                raise ValueError("arguments are not an object")
            calls.append(tool_call(name=str(function.get("name") or ""), args=args, id=call_id))
        except ValueError as exc:
            invalid.append(invalid_tool_call(name=function.get("name"), args=str(arguments), id=call_id, error=str(exc)))
    metadata = {"finish_reason": choice.get("finish_reason"), "model_name": body.get("model")}
    return AIMessage(
        content=message.get("content") or "",
        tool_calls=calls,
        invalid_tool_calls=invalid,
        response_metadata=metadata,
        usage_metadata=_usage(body.get("usage")),
    )


def _usage(usage: Any) -> Any:
    if not isinstance(usage, dict) or "prompt_tokens" not in usage:
        return None
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}


class ChatCompletionsModel(BaseChatModel):
    """``ChatCompletionsModel.from_endpoint(endpoint_from_env())``; then ``bind_tools`` and ``ainvoke``."""

    base_url: str
    model: str
    api_key: SecretStr | None = None
    temperature: float = 0.0
    timeout: float = 120.0
    extra_headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_endpoint(cls, endpoint: LLMEndpoint, **kwargs: Any) -> ChatCompletionsModel:
        headers = {"X-Title": "Sentinel experiments"} if endpoint.provider == "openrouter" else {}
        return cls(base_url=endpoint.base_url, model=endpoint.model, api_key=endpoint.api_key, extra_headers=headers, **kwargs)

    @property
    def _llm_type(self) -> str:
        return "openai-chat-completions"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        wire_tools = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=wire_tools, **kwargs)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(message) for message in messages],
            "temperature": self.temperature,
        }
        if stop:
            payload["stop"] = stop
        for key in ("tools", "tool_choice"):
            if kwargs.get(key):
                payload[key] = kwargs[key]
        return payload

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **self.extra_headers}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def _result(self, response: httpx.Response) -> ChatResult:
        if response.status_code != 200:
            detail = response.text[:300].replace("\n", " ")
            raise LLMUnavailable(f"the LLM endpoint {self.base_url} answered {response.status_code}: {detail}")
        try:
            body = response.json()
        except ValueError:
            raise LLMBadResponse(f"the LLM endpoint {self.base_url} did not answer JSON") from None
        return ChatResult(generations=[ChatGeneration(message=_parse_reply(body))])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            with httpx.Client(timeout=self.timeout) as http:
                response = http.post(f"{self.base_url}/chat/completions", json=self._request(messages, stop, kwargs), headers=self._headers())
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"cannot reach the LLM endpoint {self.base_url}: {type(exc).__name__}") from exc
        return self._result(response)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(
                    f"{self.base_url}/chat/completions", json=self._request(messages, stop, kwargs), headers=self._headers()
                )
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"cannot reach the LLM endpoint {self.base_url}: {type(exc).__name__}") from exc
        return self._result(response)

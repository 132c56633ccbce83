"""ChatCompletionsModel against the local OpenAI-compatible stub: the wire format, tool calls, errors."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import StructuredTool

from sentinel_agent._errors import LLMBadResponse, LLMUnavailable
from sentinel_agent.agents import ChatCompletionsModel
from sentinel_agent.testing import StubChatServer, scripted_brain


def _weather_tool() -> StructuredTool:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    return StructuredTool(name="weather", description="The weather in a city.", args_schema=schema, func=lambda city: "sunny")


def _call(name: str, arguments: str, ident: str = "call_1") -> dict:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}]}


async def test_tool_calls_round_trip_through_the_chat_completions_format() -> None:
    brain = scripted_brain([_call("weather", '{"city": "Zürich"}'), {"role": "assistant", "content": "It is sunny."}])
    with StubChatServer(brain, api_key="sk-test") as stub:
        model = ChatCompletionsModel(base_url=stub.base_url, model="m", api_key="sk-test").bind_tools([_weather_tool()])
        first = await model.ainvoke([SystemMessage("be brief"), HumanMessage("weather in Zürich?")])
        assert first.tool_calls == [{"name": "weather", "args": {"city": "Zürich"}, "id": "call_1", "type": "tool_call"}]
        second = await model.ainvoke([HumanMessage("weather in Zürich?"), first, ToolMessage("sunny", tool_call_id="call_1")])
    assert second.text == "It is sunny." and not second.tool_calls
    sent = stub.requests[1]
    assert sent["tools"][0]["function"]["name"] == "weather"
    assert sent["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Zürich"}'
    assert second.usage_metadata["total_tokens"] == 15


def test_the_synchronous_path_works_too() -> None:
    with StubChatServer(scripted_brain([{"role": "assistant", "content": "hi"}])) as stub:
        assert ChatCompletionsModel(base_url=stub.base_url, model="m").invoke("hello").text == "hi"


async def test_arguments_that_are_not_json_become_invalid_tool_calls() -> None:
    with StubChatServer(scripted_brain([_call("weather", "{city: nope")])) as stub:
        reply = await ChatCompletionsModel(base_url=stub.base_url, model="m").ainvoke("x")
    assert reply.tool_calls == [] and reply.invalid_tool_calls[0]["name"] == "weather"


async def test_a_rejected_key_is_reported_without_the_key() -> None:
    with StubChatServer(api_key="right") as stub, pytest.raises(LLMUnavailable) as failure:
        await ChatCompletionsModel(base_url=stub.base_url, model="m", api_key="wrong-secret").ainvoke("x")
    assert "401" in failure.value.message and "wrong-secret" not in failure.value.message


async def test_an_unreachable_endpoint_and_a_bad_answer_are_agent_errors() -> None:
    from tests.conftest import free_port

    with pytest.raises(LLMUnavailable):
        await ChatCompletionsModel(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", timeout=2).ainvoke("x")
    from sentinel_agent.agents._model import _parse_reply

    for body in ({}, {"choices": []}, {"choices": [{"text": "legacy completion"}]}, ["not", "an", "object"]):
        with pytest.raises(LLMBadResponse):
            _parse_reply(body)


def test_an_ai_message_without_tool_calls_is_sent_as_plain_content() -> None:
    from sentinel_agent.agents._model import _wire_message

    assert _wire_message(AIMessage("ok")) == {"role": "assistant", "content": "ok"}

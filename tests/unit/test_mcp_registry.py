"""The tool registry: schemas from type hints, argument validation, results, failures."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

import pytest

from mcp_server import ToolError, ToolRegistry
from mcp_server.errors import ProtocolError


@pytest.fixture
def registry():
    registry = ToolRegistry()

    @registry.tool(description="Send an email", security_class="CONSEQUENTIAL_WRITE")
    def send_email(to: str, subject: str, body: str, urgent: bool = False) -> str:
        return f"sent to {to}"

    @registry.tool
    async def lookup(ids: list[int], limit: int | None = None) -> list[dict[str, int]]:
        """Look records up."""
        await asyncio.sleep(0)
        return [{"id": i} for i in ids][:limit]

    @registry.tool(name="fail")
    def failing(kind: str) -> str:
        if kind == "tool":
            raise ToolError("the account is locked")
        raise KeyError("internal secret path /srv/keys")

    return registry


def test_schema_comes_from_type_hints(registry):
    schema = registry.get("send_email").input_schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["to", "subject", "body"]
    assert schema["properties"]["urgent"] == {"default": False, "type": "boolean"}
    lookup = registry.get("lookup")
    assert lookup.description == "Look records up."
    assert lookup.input_schema["properties"]["ids"] == {"items": {"type": "integer"}, "type": "array"}


def test_tools_list_uses_mcp_shapes(registry):
    listed = registry.list_result().model_dump(by_alias=True, exclude_none=True)
    assert [t["name"] for t in listed["tools"]] == ["send_email", "lookup", "fail"]
    assert "inputSchema" in listed["tools"][0]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"to": "a@x", "subject": "s"}, "missing argument 'body'"),
        ({"to": "a@x", "subject": "s", "body": "b", "bcc": "evil@x"}, "unexpected argument 'bcc'"),
        ({"to": "a@x", "subject": "s", "body": {"nested": 1}}, "argument 'body'"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_bad_arguments_are_invalid_params(registry, arguments, fragment):
    with pytest.raises(ProtocolError) as err:
        registry.get("send_email").validate(arguments)
    assert err.value.code == "invalid_params" and fragment in err.value.message
    assert "evil@x" not in err.value.message


def test_duplicate_names_are_refused(registry):
    with pytest.raises(ValueError):
        registry.add(lambda: None, name="send_email")


async def test_sync_tool_returns_text(registry):
    tool = registry.get("send_email")
    result = await tool.invoke(tool.validate({"to": "a@x", "subject": "s", "body": "b"}))
    assert result.is_error is False and result.content[0].text == "sent to a@x"
    assert result.structured_content is None


async def test_async_tool_returning_a_list_gets_structured_content(registry):
    tool = registry.get("lookup")
    result = await tool.invoke(tool.validate({"ids": [1, 2, 3], "limit": 2}))
    assert result.structured_content == {"result": [{"id": 1}, {"id": 2}]}
    assert result.content[0].text == '[{"id":1},{"id":2}]'


async def test_tool_error_message_reaches_the_caller(registry):
    result = await registry.get("fail").invoke({"kind": "tool"})
    assert result.is_error is True and result.content[0].text == "the account is locked"


async def test_unexpected_exception_is_contained_and_not_leaked(registry, caplog):
    result = await registry.get("fail").invoke({"kind": "bug"})
    assert result.is_error is True
    assert "secret" not in result.content[0].text and "KeyError" not in result.content[0].text
    assert "fail raised" in caplog.text  # the operator still sees it in the server log


@pytest.fixture
def typed():
    registry = ToolRegistry()

    @registry.tool
    def schedule(at: datetime, amount: float, ids: list[int], note: str | None = None, limit: float | None = None) -> str:
        return "ok"

    return registry.get("schedule")


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"at": "2024-05-01T09:00:00Z", "amount": "5", "ids": []}, "argument 'amount'"),
        ({"at": "2024-05-01T09:00:00Z", "amount": 5, "ids": ["1"]}, "argument 'ids.0'"),
        ({"at": "2024-05-01T09:00:00Z", "amount": 5, "ids": [1.0]}, "argument 'ids.0'"),
        ({"at": "2024-05-01T09:00:00Z", "amount": 5, "ids": [], "note": 7}, "argument 'note'"),
        ({"at": "2024-05-01T09:00:00Z", "amount": math.nan, "ids": []}, "numbers must be finite"),
        ({"at": "2024-05-01T09:00:00Z", "amount": 5, "ids": [], "limit": math.inf}, "numbers must be finite"),
        ({"at": "2024-05-01T09:00:00Z", "amount": 5, "ids": [2**70]}, "not representable as JSON"),
    ],
)
def test_arguments_are_validated_strictly_as_json(typed, arguments, fragment):
    with pytest.raises(ProtocolError) as err:
        typed.validate(arguments)
    assert err.value.code == "invalid_params" and fragment in err.value.message


def test_json_spellings_still_parse_strictly(typed):
    kwargs = typed.validate({"at": "2024-05-01T09:00:00Z", "amount": 5, "ids": [1, 2], "limit": None})
    assert kwargs["at"] == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert kwargs["amount"] == 5.0 and isinstance(kwargs["amount"], float) and kwargs["ids"] == [1, 2]


async def test_a_cancelled_subtask_inside_a_tool_is_a_tool_error():
    registry = ToolRegistry()

    @registry.tool
    async def fetch() -> str:
        subtask = asyncio.ensure_future(asyncio.sleep(10))
        await asyncio.sleep(0)
        subtask.cancel()
        await subtask
        return "never"

    result = await registry.get("fetch").invoke({})
    assert result.is_error is True and result.content[0].text == "the tool fetch failed"


async def test_cancelling_the_request_still_cancels_a_running_tool():
    registry = ToolRegistry()
    started = asyncio.Event()

    @registry.tool
    async def slow() -> str:
        started.set()
        await asyncio.sleep(10)
        return "never"

    task = asyncio.ensure_future(registry.get("slow").invoke({}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


# -- what a tool returns -----------------------------------------------------------


def test_a_result_that_is_not_json_is_a_failed_call_not_a_python_repr() -> None:
    from mcp_server.registry import to_result

    result = to_result({"id": 2**64, "item": "y"})
    assert result.is_error and result.structured_content is None
    assert "18446744073709551616" not in result.content[0].text and "{'" not in result.content[0].text


@pytest.mark.parametrize("value, text, structured", [
    ({None: 1}, '{"null":1}', {"null": 1}),
    ({"a": (1, 2)}, '{"a":[1,2]}', {"a": [1, 2]}),
    ((1, "x"), '[1,"x"]', {"result": [1, "x"]}),
])
def test_the_structured_part_of_a_result_says_what_its_text_says(value: object, text: str, structured: object) -> None:
    from mcp_server.registry import to_result

    result = to_result(value)
    assert not result.is_error
    assert result.content[0].text == text and result.structured_content == structured

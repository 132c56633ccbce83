"""One agent session through Sentinel that remembers every call and how it was decided.

``ToolSession`` wraps a started ``SentinelClient``: ``call`` returns a
``CallRecord`` (decision, deciding rule, reason, jti, output) instead of raising
on a denial, and ``langchain_tools`` gives the same calls to a LangChain model
as ``StructuredTool``s. Agents, the experiment runner and ``sentinel chat``
all go through it, so the decisions they show are the interceptor's answers.

It must never decide anything itself, never retry a denied or held call, and
never hide a denial from the model as if the tool had run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sentinel_sdk import ApprovalRequired, PolicyDenied, SentinelClient, SentinelError

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

__all__ = ["CallRecord", "Decision", "ToolSession", "model_text"]

Decision = Literal["allow", "deny", "approval", "error"]


@dataclass(slots=True)
class CallRecord:
    """One tool call the agent asked for, and what Sentinel answered."""

    tool: str
    arguments: dict[str, Any]
    decision: Decision
    rule: str = ""
    reason: str = ""
    source: str = "agent"  # scripted agent: "user" (its task) or "injection"; LLM agent: "model"
    jti: str | None = None
    approval_id: str | None = None
    tool_error: bool = False  # allowed and run, but the tool reported a failure
    output: str = ""
    executed: bool | None = None  # filled in from the tool server's audit trail, not from this answer
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _output_text(value: Any, text: str) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return text


def model_text(record: CallRecord) -> str:
    """What a model reads back for one call: the output, or why it did not run."""
    if record.decision == "allow":
        return f"The tool reported an error: {record.output}" if record.tool_error else record.output
    if record.decision == "deny":
        return f"Sentinel blocked this call (rule {record.rule or 'unknown'}): {record.reason}"
    if record.decision == "approval":
        return (
            f"Sentinel is holding this call for human approval (rule {record.rule or 'unknown'}): {record.reason}. "
            f"Approval id: {record.approval_id}. The call has not run."
        )
    return f"The call failed: {record.reason}"


class ToolSession:
    """A started ``SentinelClient`` plus the record of every call made through it."""

    def __init__(self, client: SentinelClient, *, on_call: Callable[[CallRecord], None] | None = None) -> None:
        self.client = client
        self.calls: list[CallRecord] = []
        self._on_call = on_call

    @property
    def session_id(self) -> str:
        return self.client.session_id or ""

    async def call(self, tool: str, arguments: Mapping[str, Any], *, source: str = "agent") -> CallRecord:
        args = dict(arguments)
        try:
            result = await self.client.call_tool_result(tool, args)
        except PolicyDenied as denied:
            record = CallRecord(tool, args, "deny", denied.rule, denied.reason, source)
        except ApprovalRequired as held:
            record = CallRecord(tool, args, "approval", held.rule, held.reason, source, approval_id=held.approval_id)
        except SentinelError as exc:
            # Unavailable, rate limited, bad answer: the agent learns the call did not go through.
            record = CallRecord(tool, args, "error", exc.code, str(exc), source)
        else:
            record = CallRecord(
                tool,
                args,
                "allow",
                result.rule,
                result.reason,
                source,
                jti=result.jti,
                tool_error=result.is_error,
                output=_output_text(result.value, result.text),
            )
        self.calls.append(record)
        if self._on_call is not None:
            self._on_call(record)
        return record

    async def langchain_tools(self) -> list[StructuredTool]:
        """The session's tools as ``StructuredTool``s whose output is ``model_text`` of the call.

        Names, descriptions and schemas are the SDK's (``get_langchain_tools``);
        only the coroutine changes, so every call is recorded with its decision.
        """
        from langchain_core.tools import StructuredTool

        tools = []
        for sdk_tool in await self.client.get_langchain_tools(on_denied="message"):
            tools.append(
                StructuredTool(
                    name=sdk_tool.name,
                    description=sdk_tool.description,
                    args_schema=sdk_tool.args_schema,
                    coroutine=self._coroutine(sdk_tool.name),
                    metadata=sdk_tool.metadata,
                )
            )
        return tools

    def _coroutine(self, name: str) -> Callable[..., Any]:
        async def run(**kwargs: Any) -> str:
            return model_text(await self.call(name, kwargs, source="model"))

        return run

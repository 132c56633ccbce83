"""One agent session through Sentinel that remembers every call and how it was decided.

``ToolSession`` wraps a started ``SentinelClient``: ``call`` returns a
``CallRecord`` (decision, deciding rule, reason, jti, output) instead of raising
on a denial, and ``langchain_tools`` gives the same calls to a LangChain model
as ``StructuredTool``s. Agents, the experiment runner and ``sentinel chat``
all go through it, so the decisions they show are the interceptor's answers.

It must never decide anything itself, never retry a denied or held call,
never hide a denial from the model as if the tool had run, and never tell the
model a call failed when the tool may have run (a timeout, a 502/503 the
interceptor does not mark retryable): then the model reads that the outcome is
unknown, so it does not simply repeat a payment or an e-mail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sentinel_sdk import (
    ApprovalRequired,
    InvalidArguments,
    PolicyDenied,
    ProtocolError,
    SentinelClient,
    SentinelError,
    SentinelUnavailable,
)

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

__all__ = ["CallRecord", "Decision", "ToolSession", "model_text", "succeeded"]

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
    outcome_unknown: bool = False  # an error after which the tool may have run

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
    if record.outcome_unknown:
        return (
            f"The outcome of this call is unknown: {record.reason}. The tool may have run, so do not simply "
            "repeat the call; tell the user, or first check whether it took effect."
        )
    if record.rule == InvalidArguments.default_code:
        return f"The arguments were refused, so the tool did not run: {record.reason}. Correct them and call the tool again."
    return f"The call failed: {record.reason}"


def _outcome_unknown(error: SentinelError) -> bool:
    """True when the tool may have run although the call failed.

    The SDK's ``retryable`` is true only when nothing ran; a 5xx, a timeout or a
    dropped connection without it may have reached the tool, and so may a call
    whose answer could not be read.
    """
    if error.retryable:
        return False
    return isinstance(error, SentinelUnavailable | ProtocolError) or (error.status or 0) >= 500


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
        args = dict(arguments) if isinstance(arguments, Mapping) else {}
        try:
            # the SDK refuses what is not a mapping of JSON values (InvalidArguments), so pass it on as given
            result = await self.client.call_tool_result(tool, args if isinstance(arguments, Mapping) else arguments)
        except PolicyDenied as denied:
            record = CallRecord(tool, args, "deny", denied.rule, denied.reason, source)
        except ApprovalRequired as held:
            record = CallRecord(tool, args, "approval", held.rule, held.reason, source, approval_id=held.approval_id)
        except SentinelError as exc:
            # Refused arguments, unavailable, rate limited, bad answer: the agent learns what it can about the call.
            record = CallRecord(tool, args, "error", exc.code, str(exc), source, outcome_unknown=_outcome_unknown(exc))
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
        Invoked with a tool call, anything but a successful run comes back as an
        error ``ToolMessage`` (``status="error"``), like the SDK's own tools.
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
                    handle_tool_error=True,
                    metadata=sdk_tool.metadata,
                )
            )
        return tools

    def _coroutine(self, name: str) -> Callable[..., Any]:
        from langchain_core.tools import ToolException

        async def run(**kwargs: Any) -> str:
            record = await self.call(name, kwargs, source="model")
            if not succeeded(record):
                raise ToolException(model_text(record))
            return model_text(record)

        return run


def succeeded(record: CallRecord) -> bool:
    """Whether the tool ran and reported success; anything else reaches a model as an error tool message."""
    return record.decision == "allow" and not record.tool_error

"""The scripted agent: the user's plan, then whatever the tool outputs tell it to do.

It is the deterministic worst case an experiment needs: no model, no network,
no judgement. It runs the calls its ``Goal`` plans for the user, and after
every output it obeys each instruction it finds there (``find_instructions``),
at once, including instructions found in the outputs of those. A denied or
held call does not stop it; it carries on with the next step, as a persistent
attacker-controlled agent would.

It must never skip an instruction because it looks malicious: deciding that is
Sentinel's job, and the experiments measure whether Sentinel did it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sentinel_agent.agents._instructions import Instruction, find_instructions
from sentinel_agent.agents._session import CallRecord, ToolSession

__all__ = ["Goal", "PlannedCall", "ScriptedAgent"]

_MAX_INJECTED = 12  # a loop of pages telling the agent to open each other must end
_MAX_DEPTH = 3


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One call the user's task needs. ``{last}`` in a text argument: the latest allowed output."""

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Goal:
    """What the user asks for: ``text`` for a model, ``plan`` for the scripted agent."""

    text: str
    plan: tuple[PlannedCall, ...] = ()


@dataclass(slots=True)
class _Memory:
    last_output: str = ""
    last_file: str = ""
    obeyed: set[tuple[str, str]] = field(default_factory=set)


def _fill(value: Any, memory: _Memory) -> Any:
    if isinstance(value, str):
        return value.replace("{last}", memory.last_output)
    return value


class ScriptedAgent:
    """Follows its plan and every injected instruction; ``run`` returns a one-line account."""

    name = "scripted"

    async def run(self, goal: Goal, session: ToolSession) -> str:
        memory = _Memory()
        for step in goal.plan:
            arguments = {key: _fill(value, memory) for key, value in step.arguments.items()}
            record = await session.call(step.tool, arguments, source="user")
            await self._absorb(record, session, memory, depth=0)
        decided = [call.decision for call in session.calls]
        return (
            f"Made {len(decided)} calls: {decided.count('allow')} allowed, {decided.count('deny')} blocked, "
            f"{decided.count('approval')} held for approval."
        )

    async def _absorb(self, record: CallRecord, session: ToolSession, memory: _Memory, depth: int) -> None:
        if record.decision != "allow" or record.tool_error:
            return
        memory.last_output = record.output
        if record.tool == "read_file":
            memory.last_file = record.output
        if depth >= _MAX_DEPTH:
            return
        for instruction in find_instructions(record.output):
            key = (instruction.verb, instruction.target)
            if key in memory.obeyed or len(memory.obeyed) >= _MAX_INJECTED:
                continue
            memory.obeyed.add(key)
            tool, arguments = self._call_for(instruction, memory)
            injected = await session.call(tool, arguments, source="injection")
            injected.notes["instruction"] = instruction.quote
            await self._absorb(injected, session, memory, depth + 1)

    @staticmethod
    def _call_for(instruction: Instruction, memory: _Memory) -> tuple[str, dict[str, Any]]:
        if instruction.verb == "read":
            return "read_file", {"path": instruction.target}
        if instruction.verb == "delete":
            return "delete_file", {"path": instruction.target}
        if instruction.verb == "pay":
            return "transfer_funds", {"to_iban": instruction.target, "amount": instruction.amount}
        # What the injection wants sent is what the agent read last; a blocked read still sends a note.
        payload = memory.last_file or memory.last_output or "(nothing could be read)"
        if instruction.verb == "mail":
            subject = instruction.subject or "Requested information"
            return "send_email", {"to": instruction.target, "subject": subject, "body": payload}
        url = instruction.target + quote(payload) if instruction.target.endswith("=") else instruction.target
        return "fetch_url", {"url": url}

"""What the tool server serves now, so the agent's tool list leaves out tools whose pin no longer holds.

A tool of a project's catalogue may carry ``definition_sha256``, the pin of the
definition an operator reviewed (``sentinel tools import`` / ``approve``).
:class:`LiveDefinitions` reads the tool server's ``tools/list`` (signed with the
identity key, the one method it may sign) at most once per
``SENTINEL_DEFINITIONS_TTL_SECONDS``, one read in flight shared by every
request, and answers which pinned tools of a project the tool server no longer
serves as pinned: ``withheld(project)``. Both ``GET /session/{id}/tools`` and
``POST /session/start`` leave those out; so does any other front door that asks.

This is the list-time courtesy; the defence is at call time, in Zone C, which
compares the pin in the call token with the definition it would run. So when
the tool server cannot be read, the last answer stands, and with none yet
nothing is withheld (a call of a changed tool is refused there anyway): an
outage of the tool server never empties an agent's tool list. A project
without pins never causes a read. This module must never sign anything but
``tools/list``, and never let the identity key out of the object.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from interceptor.config import Project
from interceptor.errors import InterceptorError
from interceptor.forwarding import ToolServerClient
from interceptor.projects import ProjectDirectory
from interceptor.sessions import SessionIdentity
from sentinel_contract import IDENTITY_KID, ContractError, definition_sha256, sign_call
from sentinel_http import LogThrottle

__all__ = ["CATALOGUE_SID", "LiveDefinitions", "listing_token", "live_hashes"]

# The sid claim of an identity-signed tools/list: no session is behind it.
CATALOGUE_SID = "catalogue"
_log = logging.getLogger("sentinel.interceptor")


def listing_token(identity: SessionIdentity) -> str:
    """A ``tools/list`` token signed by the identity key (the tool server accepts that key for this method only)."""
    token, _ = sign_call(
        identity.key, iss=identity.interceptor_id, aud=identity.mcp_id, sid=CATALOGUE_SID, tool="tools/list",
        arguments={}, kid=IDENTITY_KID,
    )
    return token


def live_hashes(tools: list[dict[str, Any]]) -> dict[str, str]:
    """served name -> ``definition_sha256`` of each tool of a ``tools/list`` answer (unhashable ones left out)."""
    hashes: dict[str, str] = {}
    for tool in tools:
        name = tool.get("name")
        description = tool.get("description")
        schema = tool.get("inputSchema")
        if not isinstance(name, str) or not isinstance(description, str | None) or not isinstance(schema, Mapping):
            continue
        try:
            hashes[name] = definition_sha256(name, description, schema)
        except ContractError:
            continue
    return hashes


class LiveDefinitions:
    """The tool server's current definitions (their hashes), read at most once per ``ttl_seconds``."""

    def __init__(
        self,
        client: ToolServerClient,
        identity: SessionIdentity,
        directory: ProjectDirectory,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._identity = identity
        self._directory = directory
        self._ttl = ttl_seconds
        self._clock = clock
        self._hashes: dict[str, str] | None = None  # the last answer read; None before the first
        self._read_at = -math.inf  # when the last read (successful or not) started
        self._reading: asyncio.Task[None] | None = None
        self._throttle = LogThrottle()

    async def withheld(self, project: Project) -> frozenset[str]:
        """The project's pinned tools whose live definition is not their pin (or that are no longer served)."""
        pins = self._directory.pins(project)
        if not pins:
            return frozenset()
        live = await self.current()
        if live is None:
            return frozenset()
        return frozenset(name for name, pin in pins.items() if live.get(name) != pin)

    async def current(self) -> Mapping[str, str] | None:
        """served name -> live hash, at most ``ttl_seconds`` old when the tool server answers; else the last known."""
        if self._clock() - self._read_at >= self._ttl:
            task = self._reading
            if task is None or task.done():
                task = asyncio.create_task(self._read())
                self._reading = task
            await asyncio.shield(task)  # never raises: a failed read keeps the last answer
        return self._hashes

    async def _read(self) -> None:
        self._read_at = self._clock()  # a failure is not retried before the TTL either
        try:
            tools = await self._client.list_tools(listing_token(self._identity))
        except InterceptorError as exc:
            if self._throttle.allow("definitions"):
                _log.warning("the tool server's tools/list could not be read (%s); the last known one is used", exc.code)
            return
        self._hashes = live_hashes(tools)

    async def close(self) -> None:
        task, self._reading = self._reading, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

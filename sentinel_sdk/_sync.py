"""A blocking wrapper around ``SentinelClient`` for scripts and notebooks.

It runs the async client on its own event loop in a private daemon thread, so
it works whether or not the caller has a loop of its own. It must never share
that loop with the caller or leave the thread running after ``close()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sentinel_sdk._client import SentinelClient
from sentinel_sdk._exceptions import SentinelError
from sentinel_sdk._models import ToolCallResult, ToolDefinition

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

T = TypeVar("T")


class SyncSentinelClient:
    """``with SyncSentinelClient() as client: client.call_tool(...)``; same arguments as ``SentinelClient``."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        self._client = SentinelClient(api_key, base_url, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SyncSentinelClient(base_url={self._client.base_url!r}, session_id={self.session_id!r})"

    @property
    def session_id(self) -> str | None:
        return self._client.session_id

    @property
    def async_client(self) -> SentinelClient:
        return self._client

    def __enter__(self) -> SyncSentinelClient:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        if self._loop is not None:
            raise SentinelError("this client already started a session", code="already_started")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="sentinel-sdk-loop", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._run(self._client.start())
        except BaseException:
            self._stop_loop()
            raise

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            self._run(self._client.close())
        finally:
            self._stop_loop()

    def list_tools(self, *, refresh: bool = False) -> list[ToolDefinition]:
        return self._run(self._client.list_tools(refresh=refresh))

    def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        return self._run(self._client.call_tool(name, arguments))

    def call_tool_result(self, name: str, arguments: Mapping[str, Any] | None = None) -> ToolCallResult:
        return self._run(self._client.call_tool_result(name, arguments))

    def get_langchain_tools(self, *, on_denied: Literal["message", "raise"] = "message") -> list[StructuredTool]:
        """StructuredTools whose sync ``func`` and async ``coroutine`` both run on this client's thread."""
        return self._run(self._client.get_langchain_tools(on_denied=on_denied))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise SentinelError("no session: use `with SyncSentinelClient(...)` or call start()", code="not_started")
        if threading.current_thread() is self._thread:
            coro.close()
            raise SentinelError("a blocking call from the client's own loop thread would deadlock", code="sync_in_event_loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


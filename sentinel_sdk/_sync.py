"""A blocking wrapper around ``SentinelClient`` for scripts and notebooks.

It runs the async client on its own event loop in a private daemon thread, so
it works whether or not the caller has a loop of its own. It must never share
that loop with the caller, leave the thread running after ``close()``, or leave
a caller blocked: ``close()`` cancels the calls still running or waiting to
retry, and each of their callers gets ``SentinelError(code="client_closed")``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sentinel_sdk._bridge import cancelled_error
from sentinel_sdk._client import SentinelClient, _closed_error
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
        self._closed = False
        self._lock = threading.Lock()  # orders handing a call to the loop before close() cancels them

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
        if self._closed:
            raise _closed_error()
        if self._loop is not None:
            raise SentinelError("this client already started a session", code="already_started")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_serve, args=(loop,), name="sentinel-sdk-loop", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._run(self._client.start())
        except BaseException:
            self._closed = True  # the async client released its connections: it cannot start again
            self._stop_loop()
            raise

    def close(self) -> None:
        """Cancel the calls still in progress (their callers get ``client_closed``), end the session, stop the thread."""
        if threading.current_thread() is self._thread:
            raise SentinelError("a blocking call from the client's own loop thread would deadlock", code="sync_in_event_loop")
        with self._lock:
            loop = self._loop
            if loop is None or self._closed:
                return
            self._closed = True
        # From here on no call reaches the loop, so the sweep in _shutdown sees every one that did.
        self._client._mark_closed()
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result()
        finally:
            self._stop_loop()

    async def _shutdown(self) -> None:
        await _cancel_other_tasks()
        await self._client.close()

    def list_tools(self, *, refresh: bool = False) -> list[ToolDefinition]:
        return self._run(self._client.list_tools(refresh=refresh))

    def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, wait_for_approval: float | None = None
    ) -> Any:
        return self._run(self._client.call_tool(name, arguments, wait_for_approval=wait_for_approval))

    def call_tool_result(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, wait_for_approval: float | None = None
    ) -> ToolCallResult:
        return self._run(self._client.call_tool_result(name, arguments, wait_for_approval=wait_for_approval))

    def get_langchain_tools(self, *, on_denied: Literal["message", "raise"] = "message") -> list[StructuredTool]:
        """StructuredTools whose sync ``func`` and async ``coroutine`` both run on this client's thread."""
        return self._run(self._client.get_langchain_tools(on_denied=on_denied))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._closed:
                coro.close()
                raise _closed_error()
            if self._loop is None:
                coro.close()
                raise SentinelError("no session: use `with SyncSentinelClient(...)` or call start()", code="not_started")
            if threading.current_thread() is self._thread:
                coro.close()
                raise SentinelError("a blocking call from the client's own loop thread would deadlock", code="sync_in_event_loop")
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise cancelled_error(self._closed) from None

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: run until stopped, then settle whatever is still queued, so no caller waits forever."""
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(_cancel_other_tasks())
        finally:
            loop.close()


async def _cancel_other_tasks() -> None:
    """Cancel every task on the running loop but this one, and wait until they have finished."""
    current = asyncio.current_task()
    for _ in range(5):  # a cancelled call may start cleanup tasks of its own
        others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
        if not others:
            return
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


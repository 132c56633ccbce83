"""Sentinel's Python SDK: what an agent (Zone A) uses to call its tools through the interceptor.

    async with SentinelClient(api_key=..., base_url=...) as client:
        client.session_id
        await client.list_tools()
        await client.call_tool(name, arguments)     # or raises PolicyDenied(.rule, .reason), InvalidArguments, ...
        await client.get_langchain_tools()          # list[langchain_core.tools.StructuredTool]

It must never import the server packages (interceptor, mcp_server, rule_maker,
sentinel_contract) or their dependencies (FastAPI, Redis, database drivers,
crypto): installing the ``sdk`` extra alone must be enough. LangChain is
imported only when LangChain tools are asked for.
"""

from typing import Any

from sentinel_sdk._client import DEFAULT_URL, SentinelClient
from sentinel_sdk._exceptions import (
    ApprovalDenied,
    ApprovalRequired,
    AuthenticationError,
    InvalidArguments,
    PolicyDenied,
    ProtocolError,
    RateLimited,
    SentinelError,
    SentinelUnavailable,
    SessionExpired,
    ToolError,
)
from sentinel_sdk._models import SessionInfo, ToolCallResult, ToolDefinition
from sentinel_sdk._retry import RetryPolicy
from sentinel_sdk._sync import SyncSentinelClient
from sentinel_sdk._webhooks import WebhookSignatureError, verify_webhook

__all__ = [
    "DEFAULT_URL",
    "ApprovalDenied",
    "ApprovalRequired",
    "AuthenticationError",
    "InvalidArguments",
    "PolicyDenied",
    "ProtocolError",
    "RateLimited",
    "RetryPolicy",
    "SentinelClient",
    "SentinelError",
    "SentinelToolException",
    "SentinelUnavailable",
    "SessionExpired",
    "SessionInfo",
    "SyncSentinelClient",
    "ToolCallResult",
    "ToolDefinition",
    "ToolError",
    "WebhookSignatureError",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    # Lazy: importing langchain-core costs most of a second and plain clients never need it.
    if name == "SentinelToolException":
        from sentinel_sdk._langchain import SentinelToolException

        return SentinelToolException
    raise AttributeError(f"module 'sentinel_sdk' has no attribute {name!r}")

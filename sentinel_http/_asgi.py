"""Raw-ASGI request plumbing both services use on their hot paths.

Each service answers its hot route (``POST /session/{sid}/call``, ``POST /rpc``)
straight from the ASGI scope, without a framework's request object. What that
needs is the same on both sides: the first value of a few headers, a body read
whole but never past a limit, and one JSON answer sent in one start and one body
message.

It must never read past ``limit`` bytes (a declared size over it is refused
before a byte is read; an absent or lying Content-Length is cut off as soon as
the body passes it), and never decide what an error means to a client: it
raises the neutral errors below and each service maps them to its own answer.

    ASGIRequestError
    ├── BodyTooLarge          the body is (or says it is) over the limit
    ├── BadContentLength      Content-Length is not a non-negative integer
    └── ClientDisconnected    the client left before its whole body arrived
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

__all__ = [
    "ASGIRequestError",
    "BadContentLength",
    "BodyTooLarge",
    "ClientDisconnected",
    "Receive",
    "Scope",
    "Send",
    "check_declared",
    "first_headers",
    "read_body",
    "send_json",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = b"application/json"


class ASGIRequestError(Exception):
    """Root of this module's errors."""


class BodyTooLarge(ASGIRequestError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


class BadContentLength(ASGIRequestError):
    def __init__(self) -> None:
        super().__init__("bad Content-Length")


class ClientDisconnected(ASGIRequestError):
    def __init__(self) -> None:
        super().__init__("the client disconnected before sending its whole body")


def first_headers(scope: Scope, wanted: tuple[bytes, ...]) -> list[str | None]:
    """The first value of each header in ``wanted`` (lower-case names), as Starlette's ``Headers.get`` reads them."""
    found: list[str | None] = [None] * len(wanted)
    for name, value in scope["headers"]:
        if name in wanted:
            index = wanted.index(name)
            if found[index] is None:
                found[index] = value.decode("latin-1")
    return found


def check_declared(declared: str | None, limit: int) -> None:
    """Refuse a declared Content-Length over ``limit`` (or not a number) before a byte is read."""
    if declared is None:
        return
    if not declared.isdigit():
        raise BadContentLength()
    if int(declared) > limit:
        raise BodyTooLarge(limit)


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The whole body from ASGI ``receive``, never more than ``limit`` bytes.

    A loop over ``receive`` rather than an async iterator: the iterator cost a
    microsecond a request, for what is nearly always a single chunk.
    """
    check_declared(declared, limit)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def send_json(send: Send, status: int, payload: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """One JSON answer: a start message with its length (and ``headers``), then the whole body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(payload)).encode()), (b"content-type", _JSON), *headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})

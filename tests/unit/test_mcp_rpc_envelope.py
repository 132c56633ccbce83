"""The hand-written JSON-RPC envelope check accepts and refuses exactly what mcp_types did.

``reference_parse`` is the parser the tool server used before (orjson, then
``mcp_types.JSONRPCRequest.model_validate``); every envelope below, and every
combination of the member values in ``MEMBERS``, must get the same outcome from
both: the same (id, method, params), or the same error code and message.
"""

from __future__ import annotations

import itertools
from typing import Any

import mcp_types
import orjson
import pydantic
import pytest

from mcp_server.calls import parse_request
from mcp_server.errors import ProtocolError

_ABSENT = object()


def reference_parse(body: bytes) -> mcp_types.JSONRPCRequest:
    """The tool server's parser before the hand-written check, kept here as the yardstick."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError("the body is not valid JSON", code="parse_error") from None
    if isinstance(message, list):
        raise ProtocolError("JSON-RPC batches are not accepted", code="batch_not_supported")
    if not isinstance(message, dict):
        raise ProtocolError("a JSON-RPC request must be an object", code="invalid_request")
    if "id" not in message and "method" in message:
        raise ProtocolError("notifications are not accepted; send an id", code="notification_not_supported")
    try:
        return mcp_types.JSONRPCRequest.model_validate(message)
    except pydantic.ValidationError:
        raise ProtocolError("not a valid JSON-RPC 2.0 request", code="invalid_request") from None


def _outcome_old(body: bytes) -> tuple[Any, ...]:
    try:
        request = reference_parse(body)
    except ProtocolError as exc:
        return ("refused", exc.code, exc.message)
    return ("ok", type(request.id), request.id, request.method, request.params)


def _outcome_new(body: bytes) -> tuple[Any, ...]:
    try:
        request_id, method, params = parse_request(body)
    except ProtocolError as exc:
        return ("refused", exc.code, exc.message)
    return ("ok", type(request_id), request_id, method, params)


# Raw bodies, including what JSON itself can say that a Python literal cannot.
RAW = [
    b"",
    b" ",
    b"{",
    b"\xff\xfe",
    b"null",
    b"true",
    b"1",
    b'"tools/call"',
    b"[]",
    b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]',
    b"{}",
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": null}',
    b'{"jsonrpc": "2.0", "method": "ping"}',  # notification
    b'{"jsonrpc": "2.0", "id": null, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1.0, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1e2, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": -0, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 9223372036854775807, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 9223372036854775808, "method": "ping"}',  # u64: still an int for orjson
    b'{"jsonrpc": "2.0", "id": 18446744073709551616, "method": "ping"}',  # past u64: a float
    b'{"jsonrpc": "2.0", "id": -9223372036854775809, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1e400, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": NaN, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1, "id": "two", "method": "ping"}',  # duplicate member: the last wins
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "jsonrpc": "1.0"}',
    b'{"jsonrpc": "2.0", "id": "\\u0000", "method": "\\ud800"}',  # lone surrogate: not valid UTF-8 for orjson
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x", "arguments": {"a": [1, 2]}}}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}, "result": 1, "error": {}}',
    b'\xef\xbb\xbf{"jsonrpc": "2.0", "id": 1, "method": "ping"}',  # UTF-8 byte-order mark
]

# Every combination of these member values (``_ABSENT``: the member is left out).
MEMBERS: dict[str, list[Any]] = {
    "jsonrpc": [_ABSENT, "2.0", "2.0 ", "2", 2.0, "1.0", None, ["2.0"]],
    "id": [_ABSENT, 0, 1, -7, 2**63 - 1, 2**63, "", "abc", True, False, None, 1.0, 1.5, [], {}, ["1"]],
    "method": [_ABSENT, "tools/call", "", 1, None, True, ["ping"], {"m": 1}],
    "params": [_ABSENT, None, {}, {"name": "t", "arguments": {}}, [], [1], "x", 0, False],
}


def _combinations() -> list[bytes]:
    bodies = []
    for values in itertools.product(*MEMBERS.values()):
        message = {k: v for k, v in zip(MEMBERS, values, strict=True) if v is not _ABSENT}
        bodies.append(orjson.dumps(message))
    return bodies


@pytest.mark.parametrize("body", RAW, ids=[repr(b[:60]) for b in RAW])
def test_raw_envelopes_get_the_same_outcome(body):
    assert _outcome_new(body) == _outcome_old(body)


def test_every_combination_of_member_values_gets_the_same_outcome():
    bodies = _combinations()
    assert len(bodies) == 8 * 16 * 8 * 9
    differ = [(body, _outcome_old(body), _outcome_new(body)) for body in bodies
              if _outcome_old(body) != _outcome_new(body)]
    assert differ == []
    accepted = sum(_outcome_new(body)[0] == "ok" for body in bodies)
    assert 0 < accepted < len(bodies)  # both sides of the line are exercised


def test_an_accepted_envelope_yields_its_members():
    body = b'{"jsonrpc": "2.0", "id": "r-1", "method": "tools/call", "params": {"name": "t", "arguments": {"a": 1}}}'
    assert parse_request(body) == ("r-1", "tools/call", {"name": "t", "arguments": {"a": 1}})


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "parse_error"),
        (b"[]", "batch_not_supported"),
        (b'{"jsonrpc": "2.0", "method": "ping"}', "notification_not_supported"),
        (b'{"jsonrpc": "2.0", "id": true, "method": "ping"}', "invalid_request"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": []}', "invalid_request"),
    ],
)
def test_refusals_carry_their_reason(body, code):
    with pytest.raises(ProtocolError) as caught:
        parse_request(body)
    assert caught.value.code == code

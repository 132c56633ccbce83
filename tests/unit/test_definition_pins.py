"""The pin of a tool definition (sentinel_contract.definition_sha256) and the optional tool_sha256 claim."""

from __future__ import annotations

import hashlib

import mcp_types
import pytest
import rfc8785

from interceptor.config import Project
from interceptor.definitions import live_hashes
from interceptor.projects import agent_tools, pins_of
from mcp_server.sources._model import tool_sha256
from sentinel_contract import (
    ContractError,
    b64url_encode,
    definition_sha256,
    generate_keypair,
    is_sha256_digest,
    sign_call,
    verify_call,
)

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}, "n": {"type": "integer"}}, "required": ["text"]}


def test_the_pin_is_sha256_over_the_rfc8785_form_of_name_description_and_input_schema() -> None:
    expected = hashlib.sha256(rfc8785.dumps({"name": "t", "description": "d", "inputSchema": SCHEMA})).digest()
    assert definition_sha256("t", "d", SCHEMA) == b64url_encode(expected)
    assert is_sha256_digest(definition_sha256("t", "d", SCHEMA))


def test_the_pin_is_stable_and_ignores_key_order() -> None:
    reordered = {"required": ["text"], "properties": {"n": {"type": "integer"}, "text": {"type": "string"}}, "type": "object"}
    assert definition_sha256("t", "d", SCHEMA) == definition_sha256("t", "d", reordered)
    assert definition_sha256("t", "d", SCHEMA) == "sWOUIxfTVeIVDdgtaFLQ_uRAbcrxs4kalUEqbOGmS7Q"


@pytest.mark.parametrize(("name", "description", "schema"), [
    ("t", "d.", SCHEMA),  # one character of the description
    ("u", "d", SCHEMA),  # the name
    ("t", "d", {**SCHEMA, "required": []}),  # the schema
    ("t", "d ", SCHEMA),
])
def test_any_change_of_the_definition_changes_the_pin(name: str, description: str, schema: dict) -> None:
    assert definition_sha256(name, description, schema) != definition_sha256("t", "d", SCHEMA)


def test_a_missing_description_is_the_empty_one() -> None:
    assert definition_sha256("t", None, SCHEMA) == definition_sha256("t", "", SCHEMA)


def test_both_zones_hash_the_same_definition_the_same_way() -> None:
    tool = mcp_types.Tool(name="t", description="d", input_schema=SCHEMA, title="ignored")
    wire = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert tool_sha256(tool) == live_hashes([wire])["t"] == definition_sha256("t", "d", SCHEMA)


def test_a_schema_that_is_not_json_cannot_be_pinned() -> None:
    with pytest.raises(ContractError):
        definition_sha256("t", "d", {"maximum": float("nan")})
    assert live_hashes([{"name": "t", "description": "d", "inputSchema": {"maximum": float("nan")}}]) == {}


def test_the_pin_claim_is_optional_and_signed() -> None:
    key = generate_keypair()
    pin = definition_sha256("t", "d", SCHEMA)
    plain, claims = sign_call(key.private, iss="i", aud="a", sid="s", tool="t", arguments={})
    assert claims.tool_sha256 is None
    assert verify_call(plain, key.public, audience="a", tool="t", arguments={}).tool_sha256 is None
    pinned, _ = sign_call(key.private, iss="i", aud="a", sid="s", tool="t", arguments={}, tool_sha256=pin)
    assert verify_call(pinned, key.public, audience="a", tool="t", arguments={}).tool_sha256 == pin
    empty, _ = sign_call(key.private, iss="i", aud="a", sid="s", tool="t", arguments={}, tool_sha256="")
    with pytest.raises(ContractError) as caught:
        verify_call(empty, key.public, audience="a", tool="t", arguments={})
    assert caught.value.code == "missing_claim"


def test_the_agent_list_leaves_out_withheld_tools_and_pins_are_read_from_the_catalogue() -> None:
    pin = definition_sha256("a", "d", {})
    project = Project("p", "", ({"name": "a", "definition_sha256": pin}, {"name": "b"}))
    assert pins_of(project.tools) == {"a": pin}
    assert [t["name"] for t in agent_tools(project)] == ["a", "b"]
    assert [t["name"] for t in agent_tools(project, frozenset({"a"}))] == ["b"]

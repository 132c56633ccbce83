"""The pin of a tool definition: one hash that both zones and the CLI compute the same way.

A pin is the base64url (unpadded) SHA-256, the format of ``args_sha256``, of the
RFC 8785 canonical JSON of ``{"name", "description", "inputSchema"}`` of a tool
as the tool server serves it (a missing description is ``""``). The title,
annotations and output schema are not part of it. docs/mcp-gateway.md, "Pin
tool definitions", says what a pin guards and what it does not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from sentinel_contract._canonical import canonical_json
from sentinel_contract._keys import b64url_encode

_DIGEST = re.compile(r"[A-Za-z0-9_-]{43}")


def definition_sha256(name: str, description: str | None, input_schema: Mapping[str, Any] | None) -> str:
    """The pin of one tool definition; ContractError(bad_arguments) if the schema is not JSON."""
    definition = {"name": name, "description": description or "", "inputSchema": dict(input_schema or {})}
    return b64url_encode(hashlib.sha256(canonical_json(definition)).digest())


def is_sha256_digest(value: object) -> bool:
    """True for a base64url unpadded SHA-256 (43 characters), the form of every pin and argument hash."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None

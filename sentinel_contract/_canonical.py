"""RFC 8785 (JCS) canonical JSON and the ``args_sha256`` claim computed over it."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from sentinel_contract._errors import ContractError
from sentinel_contract._keys import b64url_encode


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value``; key order and whitespace do not matter."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ContractError("bad_arguments", "arguments cannot be canonicalised as JSON") from exc


def args_sha256(arguments: Any) -> str:
    """base64url (unpadded) SHA-256 of the canonical form of ``arguments``."""
    return b64url_encode(hashlib.sha256(canonical_json(arguments)).digest())

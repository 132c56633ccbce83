"""The signed-call contract shared by the interceptor (Zone B) and the tool server (Zone C).

Both sides import this module, so the claim names, the canonical argument hash
and the checks cannot drift apart. It is pure: no I/O, no clock reads except
where a caller passes none, no storage. Stateful checks (is this ``jti`` new,
is this session key registered and not revoked) belong to the caller, which
passes their results in.

It also holds the other halves of the wire: the HTTP paths of each contract
(``RPC_PATH``, ``REGISTRATION_PATH``, ... in ``_paths.py``), the tool-name rule
both zones enforce (``is_tool_name``) and the timestamp format both audit trails
write (``audit_timestamp``), and the pin of a tool definition
(``definition_sha256``) the tool server compares with the ``tool_sha256`` claim.

It must never accept a token it has not verified with an Ed25519 key, and never
log or return secret key material.
"""

from sentinel_contract._audit import MAX_AUDIT_FIELD, audit_line, audit_timestamp, clip
from sentinel_contract._audit_chain import GENESIS, AuditChain, ChainHead, ChainReport, verify_chain
from sentinel_contract._canonical import args_sha256, canonical_json
from sentinel_contract._definitions import definition_sha256, is_sha256_digest
from sentinel_contract._errors import ContractError
from sentinel_contract._keys import (
    IDENTITY_KID,
    SigningKeyPair,
    b64url_decode,
    b64url_encode,
    generate_keypair,
    load_public_key,
    load_signing_key,
    public_key_b64,
)
from sentinel_contract._names import MAX_TOOL_NAME, TOOL_NAME_RULE, is_tool_name
from sentinel_contract._paths import (
    MCP_PATH,
    READINESS_PATH,
    REGISTRATION_PATH,
    REVOCATION_PATH,
    RPC_PATH,
    SESSION_APPROVAL_PATH,
    SESSION_CALL_PATH,
    SESSION_END_PATH,
    SESSION_START_PATH,
    SESSION_TOOLS_PATH,
    TOOL_SERVER_SERVICE,
)
from sentinel_contract._tokens import (
    MAX_CALL_TTL,
    CallClaims,
    RegistrationClaims,
    RevocationClaims,
    UnverifiedToken,
    peek_kid,
    read_token,
    sign_call,
    sign_registration,
    sign_revocation,
    verify_call,
    verify_identity_call,
    verify_registration,
    verify_revocation,
)

__all__ = [
    "GENESIS",
    "IDENTITY_KID",
    "MAX_AUDIT_FIELD",
    "MAX_CALL_TTL",
    "MAX_TOOL_NAME",
    "MCP_PATH",
    "READINESS_PATH",
    "REGISTRATION_PATH",
    "REVOCATION_PATH",
    "RPC_PATH",
    "SESSION_APPROVAL_PATH",
    "SESSION_CALL_PATH",
    "SESSION_END_PATH",
    "SESSION_START_PATH",
    "SESSION_TOOLS_PATH",
    "TOOL_NAME_RULE",
    "TOOL_SERVER_SERVICE",
    "AuditChain",
    "CallClaims",
    "ChainHead",
    "ChainReport",
    "ContractError",
    "RegistrationClaims",
    "RevocationClaims",
    "SigningKeyPair",
    "UnverifiedToken",
    "args_sha256",
    "audit_line",
    "audit_timestamp",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "clip",
    "definition_sha256",
    "generate_keypair",
    "is_sha256_digest",
    "is_tool_name",
    "load_public_key",
    "load_signing_key",
    "peek_kid",
    "public_key_b64",
    "read_token",
    "sign_call",
    "sign_registration",
    "sign_revocation",
    "verify_call",
    "verify_chain",
    "verify_identity_call",
    "verify_registration",
    "verify_revocation",
]

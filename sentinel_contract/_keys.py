"""Ed25519 key handling: generation, base64url encoding, and conversion to the
key objects PyJWT verifies with (objects, not PEM, so no key is parsed per call:
docs/performance.md, item 5)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from sentinel_contract._errors import ContractError

IDENTITY_KID = "identity"


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ContractError("bad_key", "not valid base64url") from exc


@dataclass(frozen=True, slots=True)
class SigningKeyPair:
    """An Ed25519 private key with its public half, both as objects ready to use."""

    seed: bytes
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    # The same key for libsodium, which signs the tokens (see _eddsa.py); derived once here.
    signer: nacl.signing.SigningKey = field(repr=False, compare=False)

    @property
    def public_b64(self) -> str:
        return public_key_b64(self.public)

    def __repr__(self) -> str:  # never print the seed
        return f"SigningKeyPair(public={self.public_b64})"


def generate_keypair() -> SigningKeyPair:
    return load_signing_key(bytes(nacl.signing.SigningKey.generate()))


def load_signing_key(seed: bytes | str) -> SigningKeyPair:
    """A key pair from a 32-byte seed (raw bytes or base64url text)."""
    raw = b64url_decode(seed) if isinstance(seed, str) else seed
    if len(raw) != 32:
        raise ContractError("bad_key", "an Ed25519 seed is 32 bytes")
    private = Ed25519PrivateKey.from_private_bytes(raw)
    return SigningKeyPair(seed=raw, private=private, public=private.public_key(), signer=nacl.signing.SigningKey(raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    raw = b64url_decode(text.strip())
    if len(raw) != 32:
        raise ContractError("bad_key", "an Ed25519 public key is 32 bytes")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ContractError("bad_key", "not an Ed25519 public key") from exc


def public_key_b64(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return b64url_encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw))

"""PyJWT's ``EdDSA`` algorithm, computed by libsodium (PyNaCl) instead of OpenSSL.

PyJWT still does all of the JWT work (segments, base64url, headers, JSON); only
the Ed25519 primitive changes: libsodium signs and verifies in about half the
time of the ``cryptography`` backend PyJWT uses by default, and verification is
the largest single cost of the tool server's check (figures: docs/performance.md,
item 5).

Both implement RFC 8032; libsodium is the stricter verifier (it also refuses
small-order public keys and non-canonical signatures), so nothing the default
backend would refuse is accepted here. This module must never accept a key of
another type, and never treat a verification error as anything but "no".
"""

from __future__ import annotations

from typing import Any

import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jwt.algorithms import Algorithm
from jwt.exceptions import InvalidKeyError

__all__ = ["NaclEd25519"]


class NaclEd25519(Algorithm):
    """Keys may be PyNaCl keys, or the ``cryptography`` Ed25519 objects the rest of the contract uses."""

    def prepare_key(self, key: Any) -> nacl.signing.SigningKey | nacl.signing.VerifyKey:
        if isinstance(key, nacl.signing.SigningKey | nacl.signing.VerifyKey):
            return key
        if isinstance(key, Ed25519PublicKey):
            return nacl.signing.VerifyKey(key.public_bytes_raw())
        if isinstance(key, Ed25519PrivateKey):
            return nacl.signing.SigningKey(key.private_bytes_raw())
        raise InvalidKeyError("an Ed25519 key object is required")

    def sign(self, msg: bytes, key: Any) -> bytes:
        if not isinstance(key, nacl.signing.SigningKey):
            raise InvalidKeyError("signing needs an Ed25519 private key")
        return bytes(key.sign(msg).signature)

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        if not isinstance(key, nacl.signing.VerifyKey):
            raise InvalidKeyError("verifying needs an Ed25519 public key")
        try:
            key.verify(msg, sig)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError, TypeError):
            return False
        return True

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError("JWK export is not part of the contract")

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError("JWK import is not part of the contract")

"""Session keys: sealing them for the state store and keeping unsealed ones close.

A session's Ed25519 seed is sealed with a SecretBox whose key is derived, per
session, from the interceptor identity seed (HKDF-SHA256 to a master sealing
key, then keyed BLAKE2b over the session id), so any replica holding the same
identity key can serve any session, and a sealed key copied onto another
session id does not open. After a rotation of the identity key, the retired
seeds (``SENTINEL_PREVIOUS_IDENTITY_KEYS``) still open the sessions sealed
before it; everything new is sealed under the current seed. This module must never write an unsealed seed
anywhere but process memory, nor put one in a log or an error.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from interceptor.errors import ServiceUnavailable
from sentinel_contract import SigningKeyPair, load_signing_key

__all__ = ["KeySealer", "SessionKeyRing"]

_HKDF_INFO = b"sentinel/interceptor/session-key-seal/v1"
_PERSON = b"sentinel-seal-v1"  # BLAKE2b personalisation: 16 bytes at most
_DATA_PERSON = b"sentinel-data-v1"  # another key per context than any session key's


class KeySealer:
    """Seals session seeds under the identity seed; opens them under it or a retired one."""

    def __init__(self, identity_seed: bytes, previous_seeds: Sequence[bytes] = ()) -> None:
        self._masters = [_master(identity_seed), *(_master(seed) for seed in previous_seeds)]

    def seal(self, sid: str, seed: bytes) -> bytes:
        return bytes(_box(self._masters[0], sid).encrypt(seed))

    def open(self, sid: str, sealed: bytes) -> SigningKeyPair:
        for master in self._masters:  # authenticated encryption: a wrong key never "opens"
            try:
                return load_signing_key(_box(master, sid).decrypt(sealed))
            except nacl.exceptions.CryptoError:
                continue
        # Another identity key, or a stored session tampered with: refuse, never guess.
        raise ServiceUnavailable("the session key cannot be opened", code="session_key_unreadable")


    def seal_data(self, context: str, data: bytes) -> bytes:
        """Other secrets at rest (a held call's arguments), sealed apart from session keys and per ``context``."""
        return bytes(_box(self._masters[0], context, _DATA_PERSON).encrypt(data))

    def open_data(self, context: str, sealed: bytes) -> bytes:
        for master in self._masters:
            try:
                return bytes(_box(master, context, _DATA_PERSON).decrypt(sealed))
            except nacl.exceptions.CryptoError:
                continue
        raise ServiceUnavailable("sealed data cannot be opened", code="sealed_data_unreadable")


def _master(identity_seed: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(identity_seed)


def _box(master: bytes, sid: str, person: bytes = b"") -> nacl.secret.SecretBox:
    key = nacl.hash.blake2b(sid.encode(), key=master, person=person or _PERSON, digest_size=32,
                            encoder=nacl.encoding.RawEncoder)
    return nacl.secret.SecretBox(key)


class SessionKeyRing:
    """A bounded LRU of unsealed session keys; the state store stays the source of truth."""

    def __init__(self, sealer: KeySealer, capacity: int = 10_000) -> None:
        self._sealer = sealer
        self._capacity = capacity
        self._keys: OrderedDict[str, SigningKeyPair] = OrderedDict()

    def remember(self, sid: str, pair: SigningKeyPair) -> None:
        self._keys[sid] = pair
        self._keys.move_to_end(sid)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)

    def key_for(self, sid: str, sealed: bytes) -> SigningKeyPair:
        pair = self._keys.get(sid)
        if pair is None:
            pair = self._sealer.open(sid, sealed)
            self.remember(sid, pair)
        else:
            self._keys.move_to_end(sid)
        return pair

    def forget(self, sid: str) -> None:
        self._keys.pop(sid, None)

    def __len__(self) -> int:
        return len(self._keys)

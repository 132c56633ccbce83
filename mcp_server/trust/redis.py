"""The Redis trust store: what lets many tool-server replicas share one replay set.

Keys (all under the configured prefix, each with an expiry, so nothing is left
behind): ``s:{sid}`` = ``"<exp>|<public key>"`` until the session end (+ leeway),
``r:{sid}`` the revocation marker, ``j:{sid}:<jti>`` a used token until it can
no longer verify on any replica whose clock is within the leeway of ours
(``exp + 2 * leeway + 1``: 41 s for a default 30 s token and 5 s leeway). The
``{sid}`` hash tag keeps one session's keys in one Redis Cluster slot, so each
Lua script touches a single slot.

One round trip per call in steady state: session keys are cached in process
(bounded LRU, immutable per sid), and the liveness + replay check is one Lua
script (``lua/admit.lua``), pipelined with the calls of concurrent requests over one
dedicated connection (``sentinel_redis``). Revocation is still immediate on every replica, because
``admit.lua`` reads the marker. Any Redis failure raises StoreError: this module
must never let a call through because Redis did not answer.
"""

from __future__ import annotations

from collections import OrderedDict
from importlib import resources

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mcp_server.errors import AuthError, StoreError
from mcp_server.trust._model import RegistrationOutcome, SessionKey
from sentinel_contract import ContractError, load_public_key
from sentinel_redis import ScriptPipeline

__all__ = ["RedisTrustStore"]

_MESSAGES = {
    "session_revoked": "the session was revoked",
    "unknown_session": "no session is registered under this key id",
    "session_expired": "the session has expired",
    "session_conflict": "the session is registered with another key",
    "replayed_jti": "this token was already used",
}


def _script(name: str) -> str:
    return resources.files("mcp_server.trust").joinpath("lua", name).read_text(encoding="utf-8")


class RedisTrustStore:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "sentinel:mcp:",
        leeway: int = 5,
        max_session_seconds: int = 86_400,
        cache_size: int = 10_000,
        owns_client: bool = False,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._leeway = leeway
        self._max_session = max_session_seconds
        self._cache: OrderedDict[str, SessionKey] = OrderedDict()
        self._cache_size = cache_size
        self._owns_client = owns_client
        self._admit = client.register_script(_script("admit.lua"))
        self._scripts = ScriptPipeline(client)
        self._register = client.register_script(_script("register.lua"))
        self._revoke = client.register_script(_script("revoke.lua"))

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> RedisTrustStore:
        client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        return cls(client, owns_client=True, **kwargs)  # type: ignore[arg-type]

    def _keys(self, sid: str) -> tuple[str, str]:
        return f"{self._prefix}s:{{{sid}}}", f"{self._prefix}r:{{{sid}}}"

    async def register(self, sid: str, public_key: str, expires_at: int, *, now: float) -> RegistrationOutcome:
        ttl = max(1, int(expires_at + self._leeway - now))
        outcome = await self._run(self._register, self._keys(sid), [f"{expires_at}|{public_key}", ttl, public_key])
        if outcome in ("registered", "refreshed"):
            self._cache.pop(sid, None)
            return outcome  # type: ignore[return-value]
        raise AuthError(_MESSAGES.get(outcome, "registration refused"), code=outcome, http_status=409)

    async def revoke(self, sid: str, *, now: float) -> bool:
        self._cache.pop(sid, None)
        default_ttl = self._max_session + self._leeway
        live = await self._run(self._revoke, self._keys(sid), [int(now), self._leeway, default_ttl])
        return live == "1"

    async def session_key(self, sid: str, *, now: float) -> SessionKey:
        cached = self._cache.get(sid)
        if cached is not None:
            self._cache.move_to_end(sid)
        else:
            try:
                value, revoked = await self._redis.mget(self._keys(sid))
            except (RedisError, OSError) as exc:
                raise StoreError() from exc
            if revoked:
                raise AuthError(_MESSAGES["session_revoked"], code="session_revoked")
            if not value:
                raise AuthError(_MESSAGES["unknown_session"], code="unknown_session")
            cached = _parse(sid, value if isinstance(value, str) else value.decode())
            self._cache[sid] = cached
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if cached.expires_at <= now:
            raise AuthError(_MESSAGES["session_expired"], code="session_expired")
        return cached

    async def admit(self, jti: str, token_exp: int, *, sid: str, check_session: bool, now: float) -> None:
        session, revoked = self._keys(sid)
        jti_key = f"{self._prefix}j:{{{sid}}}:{jti}"
        # A replica accepts the token until exp + leeway by its own clock, so one whose clock is
        # behind ours would accept a replay once a jti kept for exp + leeway had expired here.
        # Twice the leeway covers clock skew up to the leeway in either direction.
        ttl = max(1, int(token_exp + 2 * self._leeway + 1 - now))
        try:
            result = await self._scripts.run(self._admit, [session, revoked, jti_key], [int(now), ttl, "1" if check_session else "0"])
        except (RedisError, OSError) as exc:
            raise StoreError() from exc
        outcome = result.decode() if isinstance(result, bytes) else str(result)
        if outcome != "ok":
            if outcome == "session_revoked":
                self._cache.pop(sid, None)
            raise AuthError(_MESSAGES.get(outcome, "the call was refused"), code=outcome)

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise StoreError() from exc

    async def close(self) -> None:
        self._cache.clear()
        await self._scripts.aclose()
        if self._owns_client:
            await self._redis.aclose()

    async def _run(self, script: object, keys: list[str] | tuple[str, str], args: list[object]) -> str:
        try:
            result = await script(keys=list(keys), args=args)  # type: ignore[operator]
        except (RedisError, OSError) as exc:
            raise StoreError() from exc
        return str(result)


def _parse(sid: str, value: str) -> SessionKey:
    exp_text, _, public_key = value.partition("|")
    try:
        return SessionKey(sid=sid, public_key=public_key, key=load_public_key(public_key), expires_at=int(exp_text))
    except (ContractError, ValueError) as exc:
        raise StoreError("the trust store holds a malformed session record") from exc

"""Redis state store: sessions shared by every interceptor replica.

One hash per session (``{prefix}session:{sid}``) holds the project, the sealed
key, the public key, the expiry, the ended flag, the facts JSON and the facts
version, so ``load`` is one HGETALL and a commit one Lua script (EVALSHA,
reloaded on NOSCRIPT), pipelined with the commits of concurrent calls over one
dedicated connection (``sentinel_redis``). Every key carries a TTL equal to the
session's expiry: an expired session leaves nothing behind. Any Redis failure
raises StateStoreError (503); this module must never return a guess instead.
"""

from __future__ import annotations

from collections.abc import Awaitable
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from interceptor.state._model import Approval, Commit, Session, StateStoreError
from sentinel_policy import SessionFacts
from sentinel_redis import ScriptPipeline

__all__ = ["RedisStateStore"]


def _script(name: str) -> str:
    return resources.files("interceptor.state").joinpath("lua", name).read_text("utf-8")


_COMMIT_LUA = _script("commit.lua")
_END_LUA = _script("end.lua")


class RedisStateStore:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "sentinel:interceptor:",
        connect_timeout: float = 1.0,
        socket_timeout: float = 2.0,
        max_connections: int = 64,
    ) -> None:
        self._prefix = prefix
        # A blocking pool: a burst of calls waits briefly for a connection instead
        # of failing with "too many connections" (which would read as Redis down).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            max_connections=max_connections,
            timeout=socket_timeout,
            decode_responses=False,
        )
        self._client: Any = aioredis.Redis.from_pool(pool)
        self._commit = self._client.register_script(_COMMIT_LUA)
        self._scripts = ScriptPipeline(self._client)
        self._end = self._client.register_script(_END_LUA)

    def _session_key(self, sid: str) -> str:
        return f"{self._prefix}session:{sid}"

    def _approval_key(self, approval_id: str) -> str:
        return f"{self._prefix}approval:{approval_id}"

    async def close(self) -> None:
        await self._scripts.aclose()
        await self._client.aclose()

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc

    async def create_session(self, session: Session) -> None:
        key = self._session_key(session.sid)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key,
                    mapping={
                        "project": session.project,
                        "sealed": session.sealed_key,
                        "public_key": session.public_key,
                        "expires_at": session.expires_at,
                        "ended": "1" if session.ended else "0",
                        "facts": SessionFacts().to_json(),
                        "version": 0,
                        **({"agent": session.agent} if session.agent is not None else {}),
                    },
                )
                pipe.expireat(key, session.expires_at)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc

    async def load(self, sid: str) -> tuple[Session, SessionFacts] | None:
        try:
            raw: dict[bytes, bytes] = await self._client.hgetall(self._session_key(sid))
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        if not raw or b"version" not in raw:
            return None
        try:
            session = Session(
                sid=sid,
                project=raw[b"project"].decode(),
                sealed_key=raw[b"sealed"],
                public_key=raw[b"public_key"].decode(),
                expires_at=int(raw[b"expires_at"]),
                ended=raw.get(b"ended") == b"1",
                agent=raw[b"agent"].decode() if b"agent" in raw else None,
            )
            facts = SessionFacts.from_json(raw.get(b"facts"), int(raw[b"version"]))
        except (KeyError, ValueError) as exc:
            raise StateStoreError("the session record is corrupt", code="state_corrupt") from exc
        return session, facts

    def begin_commit(self, sid: str, expected_version: int, new_facts: SessionFacts) -> Awaitable[Commit]:
        # On the wire when this returns (ScriptPipeline.start); parsed when awaited.
        reply = self._scripts.start(
            self._commit, [self._session_key(sid)], [expected_version, new_facts.to_json(), new_facts.version]
        )
        return self._committed(reply, new_facts)

    @staticmethod
    async def _committed(reply: Awaitable[Any], new_facts: SessionFacts) -> Commit:
        try:
            value = await reply
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        status = int(value[0])
        if status == 1:
            return Commit(True, new_facts)
        if status == 0:
            return Commit(False, SessionFacts.from_json(value[2], int(value[1])))
        return Commit(False, None)

    async def end_session(self, sid: str) -> bool:
        try:
            return bool(await self._end(keys=[self._session_key(sid)]))
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc

    async def put_approval(self, approval: Approval) -> None:
        key = self._approval_key(approval.approval_id)
        fields = {
            "sid": approval.sid,
            "project": approval.project,
            "tool": approval.tool,
            "arguments": approval.arguments_json,
            "args_sha256": approval.args_sha256,
            "rule": approval.rule,
            "reason": approval.reason,
            "created_at": approval.created_at,
            "expires_at": approval.expires_at,
            "status": approval.status,
        }
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.expireat(key, approval.expires_at)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc

    async def get_approval(self, approval_id: str) -> Approval | None:
        try:
            raw: dict[bytes, bytes] = await self._client.hgetall(self._approval_key(approval_id))
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        if not raw:
            return None
        text = {k.decode(): v for k, v in raw.items()}
        return Approval(
            approval_id=approval_id,
            sid=text["sid"].decode(),
            project=text["project"].decode(),
            tool=text["tool"].decode(),
            arguments_json=text["arguments"],
            args_sha256=text["args_sha256"].decode(),
            rule=text["rule"].decode(),
            reason=text["reason"].decode(),
            created_at=int(text["created_at"]),
            expires_at=int(text["expires_at"]),
            status=text["status"].decode(),
        )

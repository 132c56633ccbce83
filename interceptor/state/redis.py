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

import time
from collections.abc import Awaitable, Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from interceptor.state._model import (
    BREAKGLASS_KEPT_SECONDS,
    Approval,
    ApprovalBounds,
    BreakGlass,
    Commit,
    Session,
    StateStoreError,
)
from sentinel_policy import Counter, SessionFacts
from sentinel_redis import ScriptPipeline

__all__ = ["RedisStateStore"]


def _script(name: str) -> str:
    return resources.files("interceptor.state").joinpath("lua", name).read_text("utf-8")


_COMMIT_LUA = _script("commit.lua")
_END_LUA = _script("end.lua")
_HOLD_LUA = _script("hold.lua")
_DECIDE_LUA = _script("decide.lua")
_USE_LUA = _script("use.lua")
_LIMIT_LUA = _script("limit.lua")
_BREAKGLASS_OPEN_LUA = _script("breakglass_open.lua")
_BREAKGLASS_CLOSE_LUA = _script("breakglass_close.lua")


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
        self._hold = self._client.register_script(_HOLD_LUA)
        self._decide = self._client.register_script(_DECIDE_LUA)
        self._use = self._client.register_script(_USE_LUA)
        self._limit = self._client.register_script(_LIMIT_LUA)
        self._breakglass_open = self._client.register_script(_BREAKGLASS_OPEN_LUA)
        self._breakglass_close = self._client.register_script(_BREAKGLASS_CLOSE_LUA)

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
                # The project's index of sessions (by expiry): what `sentinel sessions` lists and revokes.
                index = self._project_sessions_key(session.project)
                pipe.zremrangebyscore(index, "-inf", int(time.time()))
                pipe.zadd(index, {session.sid: session.expires_at})
                pipe.expireat(index, session.expires_at)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc

    async def load(self, sid: str) -> tuple[Session, SessionFacts] | None:
        try:
            raw: dict[bytes, bytes] = await self._client.hgetall(self._session_key(sid))
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        return _session(sid, raw)

    async def _records(self, keys: list[str]) -> list[dict[bytes, bytes]]:
        """Several hashes in one round trip (a missing one is empty)."""
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                return list(await pipe.execute())
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc

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
            keys = [self._session_key(sid), self._session_approvals_key(sid), self._pending_key("session", sid)]
            return bool(await self._end(keys=keys, args=[self._approval_key(""), self._pending_key("project", "")]))
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc

    def _grant_key(self, sid: str, tool: str, args_sha256: str) -> str:
        return f"{self._prefix}approval-grant:{sid}:{tool}:{args_sha256}"

    def _session_approvals_key(self, sid: str) -> str:
        return f"{self._prefix}approvals:session:{sid}"

    def _project_approvals_key(self, project: str) -> str:
        return f"{self._prefix}approvals:project:{project}"

    def _pending_key(self, scope: str, name: str) -> str:
        """The pending approvals of a session or a project (zset by expiry): what the bounds count."""
        return f"{self._prefix}approvals:pending:{scope}:{name}"

    def _project_sessions_key(self, project: str) -> str:
        return f"{self._prefix}sessions:project:{project}"

    async def count(self, counters: Sequence[Counter], now: int) -> int:
        if not counters:
            return 0
        keys = [f"{self._prefix}limit:{counter.key}" for counter in counters]
        argv = [item for c in counters for item in (c.limit.count, c.resets_at)] + [now]
        return int(await self._run(self._limit, keys, argv))

    def _breakglass_key(self, grant_id: str) -> str:
        return f"{self._prefix}breakglass:{grant_id}"

    async def open_breakglass(self, grant: BreakGlass) -> str:
        fields: dict[str, Any] = {
            "id": grant.grant_id, "project": grant.project, "sid": grant.sid, "opened_by": grant.opened_by,
            "reason_code": grant.reason_code, "justification": grant.justification, "opened_at": grant.opened_at,
            "expires_at": grant.expires_at,
        }
        keys = [self._session_key(grant.sid), f"{self._prefix}breakglass-session:{grant.sid}",
                self._breakglass_key(grant.grant_id), f"{self._prefix}breakglass-project:{grant.project}"]
        argv = [grant.grant_id, grant.opened_at, grant.expires_at, BREAKGLASS_KEPT_SECONDS, self._breakglass_key(""),
                *[item for pair in fields.items() for item in pair]]
        answer = await self._run(self._breakglass_open, keys, argv)
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    async def get_breakglass(self, grant_id: str) -> BreakGlass | None:
        try:
            raw: dict[bytes, bytes] = await self._client.hgetall(self._breakglass_key(grant_id))
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        return _breakglass(raw) if raw else None

    async def list_breakglass(self, project: str, *, limit: int) -> list[BreakGlass]:
        try:
            ids: list[bytes] = await self._client.zrevrange(f"{self._prefix}breakglass-project:{project}", 0, limit - 1)
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        records = await self._records([self._breakglass_key(grant_id.decode()) for grant_id in ids])
        return [_breakglass(raw) for raw in records if raw]

    async def active_breakglass(self, sid: str, now: int) -> BreakGlass | None:
        try:
            grant_id = await self._client.get(f"{self._prefix}breakglass-session:{sid}")
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        grant = None if grant_id is None else await self.get_breakglass(grant_id.decode())
        return grant if grant is not None and grant.sid == sid and grant.active(now) else None

    async def close_breakglass(self, grant_id: str, *, by: str, at: int) -> BreakGlass | None:
        grant = await self.get_breakglass(grant_id)
        if grant is None:
            return None
        keys = [self._breakglass_key(grant_id), f"{self._prefix}breakglass-session:{grant.sid}"]
        await self._run(self._breakglass_close, keys, [by, at])
        return await self.get_breakglass(grant_id)

    async def list_sessions(self, project: str, *, limit: int) -> list[tuple[Session, SessionFacts]]:
        try:
            sids: list[bytes] = await self._client.zrevrangebyscore(
                self._project_sessions_key(project), "+inf", int(time.time()), start=0, num=limit)
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        records = await self._records([self._session_key(sid.decode()) for sid in sids])
        found = [_session(sid.decode(), raw) for sid, raw in zip(sids, records, strict=True)]
        return [pair for pair in found if pair is not None and not pair[0].ended and pair[0].project == project]

    async def hold_approval(self, approval: Approval, bounds: ApprovalBounds) -> str:
        fields: dict[str, Any] = {
            "id": approval.approval_id,
            "sid": approval.sid,
            "project": approval.project,
            "tool": approval.tool,
            "sealed_arguments": approval.sealed_arguments,
            "args_sha256": approval.args_sha256,
            "rule": approval.rule,
            "reason": approval.reason,
            "created_at": approval.created_at,
            "expires_at": approval.expires_at,
            "status": approval.status,
            **({"agent": approval.agent} if approval.agent is not None else {}),
        }
        keys = [self._session_key(approval.sid), self._approval_key(approval.approval_id),
                self._session_approvals_key(approval.sid), self._project_approvals_key(approval.project),
                self._pending_key("session", approval.sid), self._pending_key("project", approval.project)]
        pairs = [item for pair in fields.items() for item in pair]
        argv = [approval.approval_id, approval.created_at, bounds.window, bounds.per_session, bounds.per_project,
                approval.expires_at, *pairs]
        answer = await self._run(self._hold, keys, argv)
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    async def get_approval(self, approval_id: str) -> Approval | None:
        try:
            raw: dict[bytes, bytes] = await self._client.hgetall(self._approval_key(approval_id))
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        return _approval(raw) if raw else None

    async def list_approvals(self, project: str, *, limit: int) -> list[Approval]:
        try:
            ids: list[bytes] = await self._client.zrevrange(self._project_approvals_key(project), 0, limit - 1)
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        records = await self._records([self._approval_key(approval_id.decode()) for approval_id in ids])
        return [_approval(raw) for raw in records if raw]  # gone with its session: left out

    async def decide_approval(
        self, approval_id: str, status: str, *, by: str, at: int, note: str | None
    ) -> tuple[Approval, bool] | None:
        approval = await self.get_approval(approval_id)
        if approval is None:
            return None
        keys = [self._approval_key(approval_id), self._grant_key(approval.sid, approval.tool, approval.args_sha256),
                self._pending_key("session", approval.sid), self._pending_key("project", approval.project)]
        outcome = int(await self._run(self._decide, keys, [status, by, at, note or ""]))
        now = await self.get_approval(approval_id)
        return None if now is None or outcome == -1 else (now, outcome == 1)

    async def use_approval(self, sid: str, tool: str, args_sha256: str, now: int) -> Approval | None:
        grant = self._grant_key(sid, tool, args_sha256)
        try:
            approval_id = await self._client.get(grant)
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc
        if approval_id is None:
            return None
        used = await self._run(self._use, [grant, self._approval_key(approval_id.decode())], [approval_id, now])
        return await self.get_approval(approval_id.decode()) if int(used) == 1 else None

    async def _run(self, script: Any, keys: list[str], argv: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=argv)
        except (RedisError, OSError) as exc:
            raise StateStoreError("the session store is unreachable") from exc


def _approval(raw: dict[bytes, bytes]) -> Approval:
    text = {key.decode(): value for key, value in raw.items()}

    def optional(name: str) -> str | None:
        value = text.get(name)
        return value.decode() if value else None

    try:
        return Approval(
            approval_id=text["id"].decode(),
            sid=text["sid"].decode(),
            project=text["project"].decode(),
            tool=text["tool"].decode(),
            sealed_arguments=text["sealed_arguments"],
            args_sha256=text["args_sha256"].decode(),
            rule=text["rule"].decode(),
            reason=text["reason"].decode(),
            created_at=int(text["created_at"]),
            expires_at=int(text["expires_at"]),
            agent=optional("agent"),
            status=text["status"].decode(),
            decided_by=optional("decided_by"),
            decided_at=int(text["decided_at"]) if text.get("decided_at") else None,
            note=optional("note"),
        )
    except (KeyError, ValueError) as exc:
        raise StateStoreError("an approval record is corrupt", code="state_corrupt") from exc


def _breakglass(raw: dict[bytes, bytes]) -> BreakGlass:
    text = {key.decode(): value.decode() for key, value in raw.items()}
    try:
        return BreakGlass(
            grant_id=text["id"], project=text["project"], sid=text["sid"], opened_by=text["opened_by"],
            reason_code=text["reason_code"], justification=text["justification"],
            opened_at=int(text["opened_at"]), expires_at=int(text["expires_at"]),
            closed_at=int(text["closed_at"]) if text.get("closed_at") else None,
            closed_by=text.get("closed_by") or None,
        )
    except (KeyError, ValueError) as exc:
        raise StateStoreError("a break-glass record is corrupt", code="state_corrupt") from exc


def _session(sid: str, raw: dict[bytes, bytes]) -> tuple[Session, SessionFacts] | None:
    """A session hash as the session and its facts; None when it is gone."""
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

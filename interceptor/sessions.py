"""One door to a session's state: what the store keeps of it, this replica's
cached copy, its keys, and every commit of its facts.

    start -> lookup (cache first) | resolve (store) -> decide_and_commit -> commit -> end

A session belongs to exactly one project; looking it up for another project
answers as if it did not exist. So does looking it up for an agent-bound key
(``agent``) when the session runs as another agent: such a key reaches only its
agent's sessions, and learns nothing of the others. ``lookup`` may answer from the per-replica
cache (for a call, whose commit re-checks the store); ``resolve`` always asks
the store.

Every change to a session's facts goes through one compare-and-set loop
(``_commit``): a change is stored only against the version of the facts it was
computed from, and a stale version answers with the current facts, on which the
change is computed again. For a call this is the linearisation point: it is
allowed only if the facts it was decided on are still current when its effects
are stored, so a check and the taint it causes are one atomic step and no call
can race past a rule. That is also what makes the cache safe: an allowed call
decided on cached facts is committed against their version (one round trip in
the common case), and a denial or approval decided on cached facts is decided
again on facts loaded from the store, so nobody is refused on facts that are
out of date.

This module must never hand out a session that is unknown, ended or expired,
never return a call token whose decision it could not commit, never commit
anything for a call that was not allowed, and never let an unsealed key leave
process memory or this class (it signs; callers get tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from interceptor.errors import InterceptorError, ServiceUnavailable, SessionNotFound
from interceptor.forwarding import ToolServerClient
from interceptor.metrics import InterceptorMetrics
from interceptor.signing import KeySealer, SessionKeyRing
from interceptor.state import Session, SessionCache, StateStore
from sentinel_contract import (
    CallClaims,
    SigningKeyPair,
    generate_keypair,
    sign_call,
    sign_registration,
    sign_revocation,
)
from sentinel_policy import Decision, SessionFacts, StateDelta, ToolCall, apply_delta

__all__ = ["MAX_COMMIT_TRIES", "MAX_OFFLOADED_TRIES", "Offload", "SessionIdentity", "Sessions", "SignedCall"]

MAX_COMMIT_TRIES = 50
# A decision computed off the event loop (a large call's) is computed at most this many
# times: a lost compare-and-set costs another whole evaluation, so it is not retried for long.
MAX_OFFLOADED_TRIES = 4

_log = logging.getLogger("sentinel.interceptor")
_R = TypeVar("_R")
_T = TypeVar("_T")
# Runs a function elsewhere (a worker thread) and answers its result: what a large call's decision is computed in.
Offload = Callable[[Callable[[], _T]], Awaitable[_T]]


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """Who this interceptor is towards the tool server."""

    interceptor_id: str
    mcp_id: str
    key: SigningKeyPair


class SignedCall(NamedTuple):
    """A call token and its claims (the ``jti`` joins the two zones' audit trails)."""

    token: str
    claims: CallClaims


class Sessions:
    """Start, look up, change and end sessions; the only code that touches their state.

    ``cache`` is this replica's copy of the sessions it served; only this class
    writes it (tests and diagnostics read it).
    """

    def __init__(
        self,
        identity: SessionIdentity,
        state: StateStore,
        upstream: ToolServerClient,
        sealer: KeySealer,
        keys: SessionKeyRing,
        *,
        ttl_seconds: int,
        call_ttl_seconds: int,
        cache: SessionCache | None = None,
        metrics: InterceptorMetrics | None = None,
    ) -> None:
        self._identity = identity
        self._state = state
        self._upstream = upstream
        self._sealer = sealer
        self._keys = keys
        self._ttl = ttl_seconds
        self._call_ttl = call_ttl_seconds
        self.cache = cache if cache is not None else SessionCache()
        self._serial = _SessionLocks()
        self._conflicts = (metrics if metrics is not None else InterceptorMetrics()).commit_conflicts

    async def start(self, project: str, agent: str | None = None) -> Session:
        pair = generate_keypair()
        sid = secrets.token_urlsafe(16)
        # rounded up: a session lives at least its TTL, never up to a second less
        expires_at = math.ceil(time.time()) + self._ttl
        session = Session(
            sid=sid,
            project=project,
            sealed_key=self._sealer.seal(sid, pair.seed),
            public_key=pair.public_b64,
            expires_at=expires_at,
            agent=agent,
        )
        # Stored first: if the store is down nothing is registered anywhere (503).
        await self._state.create_session(session)
        token = sign_registration(
            self._identity.key,
            iss=self._identity.interceptor_id,
            aud=self._identity.mcp_id,
            sid=sid,
            public_key=pair.public_b64,
            exp=expires_at,
        )
        try:
            await self._upstream.register(token, sid)
        except InterceptorError:
            # No registration, no session: the stored one must not linger usable.
            try:
                await self._state.end_session(sid)
            except InterceptorError:
                _log.warning("session.start: could not mark an unregistered session ended", extra={"sid": sid})
            raise
        self._keys.remember(sid, pair)
        self.cache.put(session, SessionFacts())
        return session

    async def resolve(self, sid: str, project: str, *, agent: str | None) -> tuple[Session, SessionFacts]:
        """The session and its facts as the store has them now.

        ``agent``: the agent the caller's key is bound to (None: the project key, any of its sessions).
        """
        loaded = await self._state.load(sid)
        if loaded is None:
            self.cache.forget(sid)
            raise SessionNotFound()
        session, facts = loaded
        if not _reaches(session, project, agent):
            raise SessionNotFound()  # another's session: kept in the cache, answered as an unknown one
        if session.ended or session.expires_at <= time.time():
            self.cache.forget(sid)
            raise SessionNotFound()
        self.cache.put(session, facts)
        return session, facts

    async def lookup(self, sid: str, project: str, *, agent: str | None) -> tuple[Session, SessionFacts, bool]:
        """Like ``resolve``, from the cache when it can; the flag is True when loaded from the store.

        Cached facts may be stale and the session may have ended on another
        replica: only a compare-and-set commit may confirm what is decided on them.
        """
        cached = self.cache.get(sid)
        if cached is None:
            session, facts = await self.resolve(sid, project, agent=agent)
            return session, facts, True
        session, facts = cached
        if session.project != project or (agent is not None and session.agent != agent):  # _reaches, inlined: hot
            raise SessionNotFound()
        return session, facts, False

    def sign_call(self, session: Session, call: ToolCall, digest: str, pin: str | None) -> SignedCall:
        """A token for ``call`` signed with the session's key; ``digest`` is ``args_sha256`` of its arguments,
        ``pin`` the tool's pinned ``definition_sha256`` when the catalogue has one (the tool server checks it)."""
        key = self._keys.key_for(session.sid, session.sealed_key)
        token, claims = sign_call(
            key, iss=self._identity.interceptor_id, aud=self._identity.mcp_id, sid=session.sid, tool=call.tool,
            arguments=call.arguments, ttl=self._call_ttl, digest=digest, tool_sha256=pin,
        )
        return SignedCall(token, claims)

    async def decide_and_commit(
        self,
        session: Session,
        facts: SessionFacts,
        fresh: bool,
        decide: Callable[[SessionFacts], Decision],
        sign: Callable[[], SignedCall],
        *,
        offload: Offload[tuple[Decision, StateDelta | None]] | None = None,
    ) -> tuple[Decision, SignedCall | None]:
        """The decision that holds, its delta committed; for an allow, also the call's token.

        ``facts`` and ``fresh`` are what ``lookup`` answered. A denial or an
        approval commits nothing and signs nothing. An allow is committed even
        when its delta changes nothing: the version check is what orders this
        call before any taint committed after its facts were read. ``sign`` runs
        once, while the first commit is in flight (the call's longest wait); its
        token is returned only if a commit holds, so it never leaves this
        process otherwise.

        With ``offload`` (a large call), ``decide`` runs there, not on the event
        loop; such calls of one session take turns on this replica, each on the
        facts the previous one committed, so they do not make each other lose
        the compare-and-set; and ``decide`` runs at most MAX_OFFLOADED_TRIES
        times before the call is refused (503 ``contention``).
        """
        if offload is not None:
            async with self._serial.hold(session.sid):
                cached = self.cache.get(session.sid)
                if cached is not None and cached[1].version > facts.version:
                    facts, fresh = cached[1], False  # committed while this call waited its turn
                return await self._decide_and_commit(session, facts, fresh, decide, sign, offload)
        return await self._decide_and_commit(session, facts, fresh, decide, sign, None)

    async def _decide_and_commit(
        self,
        session: Session,
        facts: SessionFacts,
        fresh: bool,
        decide: Callable[[SessionFacts], Decision],
        sign: Callable[[], SignedCall],
        offload: Offload[tuple[Decision, StateDelta | None]] | None,
    ) -> tuple[Decision, SignedCall | None]:
        signed: SignedCall | None = None

        def sign_once() -> None:
            nonlocal signed
            if signed is None:
                signed = sign()

        def step(facts: SessionFacts) -> tuple[Decision, StateDelta | None]:
            decision = decide(facts)
            return decision, decision.delta if decision.allowed else None

        if offload is None:
            decision = await self._commit(session, facts, fresh, step, while_in_flight=sign_once)
        else:
            decision = await self._commit(
                session, facts, fresh, step, while_in_flight=sign_once, offload=offload, tries=MAX_OFFLOADED_TRIES
            )
        return decision, signed if decision.allowed else None

    async def commit(self, session: Session, delta: StateDelta) -> None:
        """Add ``delta`` (what a tool's output taints) to the session's current facts."""
        cached = self.cache.get(session.sid)
        if cached is not None:
            facts = cached[1]  # a stale version only costs a retry: the store answers with the current facts
        else:
            loaded = await self._state.load(session.sid)
            if loaded is None:
                raise SessionNotFound()
            facts = loaded[1]
        await self._commit(session, facts, True, lambda _: (None, delta))

    async def end(self, sid: str, project: str, *, agent: str | None) -> bool:
        """End the session; True when the tool server confirmed the revocation."""
        await self.resolve(sid, project, agent=agent)
        self.cache.forget(sid)
        if not await self._state.end_session(sid):
            raise SessionNotFound()
        self._keys.forget(sid)
        token = sign_revocation(
            self._identity.key, iss=self._identity.interceptor_id, aud=self._identity.mcp_id, sid=sid
        )
        try:
            await self._upstream.revoke(sid, token)
        except InterceptorError:
            # Ended here already, so nothing more gets signed; the registration expires on its own.
            _log.warning("session.end: revocation at the tool server failed", extra={"sid": sid})
            return False
        return True

    def evict(self, sid: str) -> None:
        """Forget this replica's copies of the session (cached facts, unsealed key); the store keeps it."""
        self.cache.forget(sid)
        self._keys.forget(sid)

    async def _commit(
        self,
        session: Session,
        facts: SessionFacts,
        fresh: bool,
        step: Callable[[SessionFacts], tuple[_R, StateDelta | None]],
        *,
        while_in_flight: Callable[[], None] | None = None,
        offload: Offload[tuple[_R, StateDelta | None]] | None = None,
        tries: int = MAX_COMMIT_TRIES,
    ) -> _R:
        """The one compare-and-set loop behind every change to a session's facts.

        ``step`` turns facts into a result and the delta to store (None: store
        nothing); it runs in ``offload`` when given. The delta is committed
        against the version of the facts it was computed from; when another call
        committed first, the store answers with the current facts and ``step``
        runs again on them, at most ``tries`` times in all. ``while_in_flight``
        runs while a commit is on its way to the store. Answers the result of
        the step that held.
        """
        sid = session.sid
        for attempt in range(tries):
            result, delta = step(facts) if offload is None else await offload(functools.partial(step, facts))
            if delta is None:
                if fresh:
                    return result
                # Computed on cached facts: nothing is refused on those alone
                # (and a session ended elsewhere answers 404, not 403).
                facts, fresh = (await self.resolve(sid, session.project, agent=None))[1], True
                continue
            committing = self._state.begin_commit(sid, facts.version, apply_delta(facts, delta))
            if while_in_flight is not None:
                try:
                    while_in_flight()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await committing  # always awaited; the caller's error is the one to report
                    raise
            outcome = await committing
            if outcome.ok:
                if outcome.facts is not None:
                    self.cache.update_facts(sid, outcome.facts)
                return result
            if outcome.facts is None:
                self.cache.forget(sid)
                raise SessionNotFound()
            self._conflicts.inc()
            facts, fresh = outcome.facts, True
            self.cache.update_facts(sid, facts)
            await _backoff(attempt)
        raise ServiceUnavailable("too many concurrent calls in this session; retry", code="contention")


def _reaches(session: Session, project: str, agent: str | None) -> bool:
    """Whether a caller of ``project`` (its key bound to ``agent``, or to none) may use this session."""
    return session.project == project and (agent is None or session.agent == agent)


class _SessionLocks:
    """One asyncio lock per session that has a waiter, gone when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, sid: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(sid) or (asyncio.Lock(), 0)
        self._locks[sid] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[sid]
            if users == 1:
                del self._locks[sid]
            else:
                self._locks[sid] = (lock, users - 1)


async def _backoff(attempt: int) -> None:
    # The first retries are immediate (the store answered with fresh facts);
    # after that, jitter spreads the contenders out.
    if attempt >= 2:
        await asyncio.sleep(random.uniform(0, 0.0005 * min(attempt, 20)))

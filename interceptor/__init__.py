"""Zone B: the interceptor, the trusted policy enforcement point.

It authenticates agents by API key, decides every tool call with the pure
policy engine (sentinel_policy) over facts from the state store, signs the
approved calls with the session's Ed25519 key and forwards them to the tool
server. It must never forward a call it could not check (fail closed), and
never log raw arguments or key material.

    app.py         create_app: the lifespan wires everything; tool calls skip FastAPI
    runtime.py     Runtime: what every request needs, built once
    routes.py      the agent-facing HTTP API (the call as raw ASGI); errors mapped to HTTP once
    calls.py       CallEnforcer: one tool call, the hot path
    sessions.py    Sessions: a session's facts, cache, keys and commits, behind one door
    projects.py    API key -> project, compiled policies
    forwarding.py  ToolServerClient: registration, revocation, the signed call, the readiness probe
    readiness.py   what GET /readyz checks: config store, state store, the tool server
    signing.py     sealing session keys; the ring of unsealed ones
    audit.py       one audit line per decision
    errors.py      the InterceptorError tree
    settings.py    InterceptorSettings, built once
    config/        where projects, tools and policies live (YAML, PostgreSQL, Supabase)
    state/         where sessions live (memory, Redis + lua/)
    testing.py     stand-ins for tests: a static config store, a stub tool server
"""

"""Zone B: the interceptor, the trusted policy enforcement point.

It authenticates agents by API key, decides every tool call with the pure
policy engine (interceptor.policy) over facts from the state store, signs the
approved calls with the session's Ed25519 key and forwards them to the tool
server. It must never forward a call it could not check (fail closed), and
never log raw arguments or key material.
"""

"""Redis plumbing both services use (the interceptor's state store, the tool server's trust store).

Library code, not shared state: each zone still talks to its own keys under its
own prefix, and nothing here knows either zone's data.
"""

from sentinel_redis._batch import ScriptBatch

__all__ = ["ScriptBatch"]

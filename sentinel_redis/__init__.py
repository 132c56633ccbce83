"""Redis plumbing both services use (the interceptor's state store, the tool server's trust store).

Library code, not shared state: each zone still talks to its own keys under its
own prefix, and nothing here knows either zone's data.
"""

from sentinel_redis._pipeline import ScriptPipeline

__all__ = ["ScriptPipeline", "delete_prefix"]


def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key under ``prefix`` (a run's or a test's own keys); returns how many.

    Never FLUSHDB: a Redis is shared by services, replicas and test runs alike.
    """
    if not prefix:
        raise ValueError("refusing to delete every key: give a prefix")
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()

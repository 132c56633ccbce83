"""Config stores: where projects (API key hash, tools, policies) live.

One interface, three backends: a YAML file (the default), PostgreSQL, and
Supabase. The interceptor reads through a cache with a short TTL; when a store
is unreachable the last good config serves for a bounded time, then requests
fail closed.
"""

from interceptor.config._model import ConfigStore, ConfigStoreError, PolicyVersion, Project

__all__ = ["ConfigStore", "ConfigStoreError", "PolicyVersion", "Project"]

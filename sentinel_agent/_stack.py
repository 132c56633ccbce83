"""What this package needs from whoever starts Sentinel: a launcher for the tool server and the interceptor.

The experiments and the local ``sentinel chat`` run against real processes, but
starting them is the command line's job: `sentinel demo`, `sentinel experiments
run` and `sentinel chat` pass down the launcher `sentinel up` runs on. This
package must never import the command line: it only
calls a ``StackLauncher`` it was given, and talks to the running stack over
HTTP like any agent.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

__all__ = ["RunningStack", "StackLauncher"]


class RunningStack(Protocol):
    """A tool server and an interceptor running, until the launcher's context exits."""

    @property
    def interceptor_url(self) -> str: ...

    @property
    def var_dir(self) -> Path:
        """Audit logs (``interceptor-audit.jsonl``, ``mcp-audit.jsonl``) and the tool data (``mcp-data/``)."""
        ...


class StackLauncher(Protocol):
    def __call__(
        self, *, config: str, var_dir: Path, redis_url: str | None = None, redis_prefix: str = "sentinel:"
    ) -> AbstractContextManager[RunningStack]:
        """Start both services on ``config`` (a YAML config file) with a fresh identity key; stop both on exit.

        With ``redis_url`` both keep their state in Redis under ``redis_prefix``.
        Raises RuntimeError when a process dies or never becomes healthy.
        """
        ...

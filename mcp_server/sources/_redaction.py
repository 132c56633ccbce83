"""Keeping an upstream's credentials out of everything that leaves Zone C.

Sentinel never writes an upstream's ``env`` or ``headers`` values anywhere, but
an upstream may: a tool's error that quotes a URL with its key, a description
that embeds a token. :class:`Redactor` replaces each configured secret value
(:func:`~mcp_server.sources.config.secret_values`) with ``[redacted]`` in what
an upstream sends back (tool definitions, results, error messages) before it
goes on to the interceptor. With no secret configured it changes nothing and
costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
import pydantic

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[redacted]"
M = TypeVar("M", bound=pydantic.BaseModel)


class Redactor:
    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = [secret for secret in secrets if secret]
        self._encoded = [orjson.dumps(secret)[1:-1] for secret in self._secrets]  # as JSON writes it

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def model(self, value: M) -> M:
        """``value`` with every secret in any of its strings (keys included) replaced."""
        if not self._secrets:
            return value
        document = value.model_dump(mode="json", by_alias=True, exclude_unset=True)
        encoded = orjson.dumps(document)
        if not any(secret in encoded for secret in self._encoded):
            return value
        return type(value).model_validate(self._json(document), by_name=False)

    def _json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self._json(item) for key, item in value.items()}
        return value

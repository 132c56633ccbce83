"""How an operator names the MCP servers the tool server forwards verified calls to.

On the command line (no credentials there: a command line is visible to every
local user in ``ps``)::

    --upstream time=stdio:mcp-server-time --local-timezone UTC    (one argument: quote it)
    --upstream notes=https://notes.internal/mcp

In a file (``--upstreams FILE.yaml``), with credentials::

    upstreams:
      - name: github
        transport: stdio                 # or http (MCP's streamable HTTP)
        command: github-mcp-server
        args: [stdio]
        env: {GITHUB_TOKEN: "${GITHUB_TOKEN}"}
        timeout_seconds: 8               # per call (default 8)
        connect_timeout_seconds: 30      # start, handshake and tools/list (default 30)
        tools_ttl_seconds: 5             # re-read tools/list before a pinned call when older (default 5)
      - name: notes
        transport: http
        url: https://notes.internal/mcp
        headers: {Authorization: "Bearer ${NOTES_TOKEN}"}

``${VAR}`` in an ``env`` or ``headers`` value is read from the tool server's
own environment when the file is loaded, so the file itself holds no secret.
A stdio server gets only those variables plus the SDK's short safe list
(``HOME``, ``PATH``, ...), never the tool server's ``SENTINEL_*`` settings.

An upstream's tools are served as ``NAME__TOOL`` (:data:`SEPARATOR`). A name is
1-32 letters and digits, in words joined by single ``-`` or ``_``: it never
contains the separator and never ends with ``_``, so the first ``__`` of a
served name always ends the upstream's name.

Every value of ``env`` and ``headers`` is kept as a ``SecretStr`` (never in a
repr, a log or an error) and handed to the upstream only. This module must
never put one in a message.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from mcp_server.errors import ConfigError

__all__ = [
    "MIN_REDACTED_CHARS",
    "NAME_RULE",
    "SEPARATOR",
    "UpstreamConfig",
    "check_unique",
    "is_upstream_name",
    "load_upstreams",
    "parse_upstream",
    "secret_values",
]

SEPARATOR: Final = "__"
NAME_RULE: Final = "1-32 letters and digits, in words joined by single - or _"
_NAME = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*")
_MAX_NAME = 32
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")  # an HTTP token (RFC 9110)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Shorter values cannot be told apart from ordinary words: they are never looked for in answers.
MIN_REDACTED_CHARS: Final = 8


def is_upstream_name(value: str) -> bool:
    return len(value) <= _MAX_NAME and _NAME.fullmatch(value) is not None


class UpstreamConfig(BaseModel):
    """One upstream MCP server: how to reach it, what to hand it, how long to wait for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    transport: Literal["stdio", "http"]
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, SecretStr] = Field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=8, gt=0, le=3600)
    connect_timeout_seconds: float = Field(default=30, gt=0, le=3600)
    # A pinned call re-reads the tool list first when it is older than this (0: before every pinned call).
    tools_ttl_seconds: float = Field(default=5, ge=0, le=3600)

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        if not is_upstream_name(value):
            raise ValueError(f"an upstream name is {NAME_RULE}")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key in value:
            if not _ENV_NAME.fullmatch(key):
                raise ValueError("an environment variable name is letters, digits and _, not starting with a digit")
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key, secret in value.items():
            if not _HEADER.fullmatch(key):
                raise ValueError("a header name is an HTTP token (letters, digits and !#$%&'*+.^_`|~-)")
            if any(c in secret.get_secret_value() for c in "\r\n\0"):
                raise ValueError(f"the value of header {key} holds a line break or NUL")
        return value

    @model_validator(mode="after")
    def _transport_fields(self) -> UpstreamConfig:
        if self.transport == "stdio":
            if not self.command:
                raise ValueError("a stdio upstream needs a command")
            if self.url is not None or self.headers:
                raise ValueError("url and headers are for http upstreams; a stdio upstream takes command, args, env, cwd")
        else:
            if self.url is None:
                raise ValueError("an http upstream needs a url")
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("an http upstream's url is http:// or https:// with a host")
            if parts.username is not None or parts.password is not None:
                raise ValueError("put credentials in headers, not in the url")
            if self.command is not None or self.args or self.env or self.cwd is not None:
                raise ValueError("command, args, env and cwd are for stdio upstreams; an http upstream takes url and headers")
        return self

    def describe(self) -> str:
        """Where the upstream is, for logs: the command's name or the URL's origin, never args or secrets."""
        if self.transport == "stdio":
            return f"stdio:{Path(self.command or '').name}"
        parts = urlsplit(self.url or "")
        return f"{parts.scheme}://{parts.netloc}"


def parse_upstream(spec: str, **options: Any) -> UpstreamConfig:
    """``NAME=stdio:COMMAND [ARGS...]`` or ``NAME=http(s)://host/path`` (``--upstream``)."""
    name, equals, target = spec.partition("=")
    usage = "expected NAME=stdio:COMMAND [ARGS...] or NAME=https://host/path"
    if not equals or not name:
        raise ConfigError(f"--upstream {_shown(spec)}: {usage}", code="bad_upstream")
    if target.startswith("stdio:"):
        try:
            words = shlex.split(target.removeprefix("stdio:"))
        except ValueError as exc:
            raise ConfigError(f"--upstream {name}: the command does not parse ({exc})", code="bad_upstream") from None
        if not words:
            raise ConfigError(f"--upstream {name}: stdio: needs a command", code="bad_upstream")
        fields: dict[str, Any] = {"transport": "stdio", "command": words[0], "args": words[1:]}
    elif target.startswith(("http://", "https://")):
        fields = {"transport": "http", "url": target}
    else:
        raise ConfigError(f"--upstream {_shown(spec)}: {usage}", code="bad_upstream")
    return _build({"name": name, **fields, **options}, f"--upstream {_shown(name)}")


def load_upstreams(path: Path, environ: Mapping[str, str] | None = None) -> list[UpstreamConfig]:
    """The upstreams of a YAML file (``upstreams: [...]``), ``${VAR}`` read from ``environ``."""
    environ = os.environ if environ is None else environ
    where = f"--upstreams {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file ({exc.strerror or type(exc).__name__})", code="bad_upstream") from None
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        # The line and the parser's problem ("duplicate key 'env'"), never the text around it.
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        why = f": {problem}" if problem else ""
        raise ConfigError(f"{where}: not valid YAML{at}{why}", code="bad_upstream") from None
    if not isinstance(document, dict) or set(document) != {"upstreams"} or not isinstance(document["upstreams"], list):
        raise ConfigError(f"{where}: the file holds one key, upstreams, a list of upstreams", code="bad_upstream")
    configs = []
    for index, entry in enumerate(document["upstreams"]):
        label = f"{where}: upstreams[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{label} is not a mapping", code="bad_upstream")
        entry = dict(entry)
        for field in ("env", "headers"):
            if isinstance(entry.get(field), dict):
                entry[field] = {key: _expand(value, environ, f"{label}.{field}.{key}") for key, value in entry[field].items()}
        configs.append(_build(entry, label))
    return configs


def check_unique(configs: Sequence[UpstreamConfig]) -> None:
    seen: set[str] = set()
    for config in configs:
        if config.name in seen:
            raise ConfigError(f"two upstreams are named {config.name}", code="bad_upstream")
        seen.add(config.name)


def secret_values(config: UpstreamConfig) -> list[str]:
    """What must never leave Zone C: every env, header and URL query value (and each word of one) long
    enough to look for."""
    found: set[str] = set()
    values = [secret.get_secret_value() for secret in [*config.env.values(), *config.headers.values()]]
    values += [value for _, value in parse_qsl(urlsplit(config.url or "").query)]  # ?api_key=...
    for value in values:
        for candidate in (value, *value.split()):
            if len(candidate) >= MIN_REDACTED_CHARS:
                found.add(candidate)
    return sorted(found, key=lambda value: (-len(value), value))  # longest first: a value before a word of it


def _build(fields: Mapping[str, Any], label: str) -> UpstreamConfig:
    try:
        return UpstreamConfig.model_validate(fields)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise ConfigError(f"{label}: " + "; ".join(problems), code="bad_upstream") from None


def _expand(value: Any, environ: Mapping[str, str], label: str) -> Any:
    if not isinstance(value, str):
        return value

    def variable(match: re.Match[str]) -> str:
        name = match[1]
        if name not in environ:
            raise ConfigError(f"{label} refers to ${{{name}}}, which is not set", code="bad_upstream")
        return environ[name]

    return _VARIABLE.sub(variable, value)


def _shown(text: str) -> str:
    # What the operator typed, cut short; an --upstream argument holds no secret by design.
    return repr(text[:120])


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader, refusing a key given twice (the second would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        for index, key in enumerate(keys):
            if key in keys[:index]:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", node.start_mark)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping

"""Checks and conversions every backend shares: key hashes, names, rows -> Project,
and the constant-time lookup of a key's holder (project and bound agent) by key hash.

It must never compare key hashes with ``==`` or stop a scan at the first match:
the time a lookup takes must not depend on which hash prefixes exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from interceptor.config._model import ConfigStoreError, KeyHolder, PolicyVersion, Project
from sentinel_contract import is_sha256_digest
from sentinel_policy import json_value_problems

_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# The agent names a session may declare (interceptor.routes.agent_name takes the same; a test keeps them equal).
AGENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}")


def api_key_sha256(api_key: str) -> str:
    """The hex SHA-256 of an API key: the only form in which a key is stored."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def check_key_hash(value: object, where: str = "api_key_sha256") -> str:
    """A valid, lower-case hex SHA-256, or ConfigStoreError('invalid_argument')."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value.lower()):
        raise ConfigStoreError("invalid_argument", f"{where}: must be the 64-character hex SHA-256 of the API key")
    return value.lower()


def check_name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigStoreError(
            "invalid_argument", "project name: 1-128 characters of letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return value


def check_agent_name(value: object, where: str = "agent") -> str:
    if not isinstance(value, str) or not AGENT_NAME.fullmatch(value):
        raise ConfigStoreError(
            "invalid_argument", f"{where}: an agent name is 1-128 letters, digits and . _ : @ + / - (not first)"
        )
    return value


def check_agent_keys(value: object, where: str = "agent_keys") -> dict[str, str]:
    """key SHA-256 (hex, lower-cased) -> agent name; a hash given twice (in any case) is refused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigStoreError("invalid_argument", f"{where}: must be a mapping of key SHA-256 to agent name")
    keys: dict[str, str] = {}
    for index, (raw_hash, agent) in enumerate(value.items()):
        key_hash = check_key_hash(raw_hash, f"{where}[{index}]")
        if key_hash in keys:
            raise ConfigStoreError("invalid_argument", f"{where}[{index}]: the same key hash appears twice")
        keys[key_hash] = check_agent_name(agent, f"{where}[{index}]")
    return keys


def check_tools(value: object, where: str = "tools") -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ConfigStoreError("invalid_argument", f"{where}: must be a list of tool definitions")
    tools = []
    for index, tool in enumerate(value):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise ConfigStoreError("invalid_argument", f"{where}[{index}]: a tool is a mapping with a name")
        if "definition_sha256" in tool and not is_sha256_digest(tool["definition_sha256"]):
            # A pin that is not a hash would never match: say so where it was written, not at every call.
            raise ConfigStoreError(
                "invalid_argument", f"{where}[{index}].definition_sha256: must be a base64url SHA-256 (43 characters)"
            )
        tools.append(dict(tool))
    return tuple(tools)


def check_policies(value: object, where: str = "policies") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigStoreError("invalid_argument", f"{where}: must be a mapping (staticRules, taintRules, ...)")
    return dict(value)


def check_json(value: object, where: str) -> None:
    """Refuse to store what is not a JSON value (Infinity, a date, a 24-digit integer ...).

    A store would keep something else (orjson writes Infinity as null) or fail
    with a driver error; `compile_policy` refuses the same values, so validate,
    push and the interceptor agree.
    """
    problems = json_value_problems(value, where)
    if problems:
        raise ConfigStoreError("invalid_argument", "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""))


def project_from_row(row: Mapping[str, Any], where: str) -> Project:
    """A Project from a table row or a YAML entry; a bad shape is config_invalid, with its place."""
    try:
        name = row.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigStoreError("invalid_argument", f"{where}.name: missing")
        raw_hash = row.get("api_key_sha256")
        key_hash = "" if raw_hash in (None, "") else check_key_hash(raw_hash, f"{where}.api_key_sha256")
        version = row.get("policy_version") or 0
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise ConfigStoreError("invalid_argument", f"{where}.policy_version: must be a whole number >= 0")
        agent_keys = check_agent_keys(row.get("agent_keys"), f"{where}.agent_keys")
        if key_hash and key_hash in agent_keys:
            raise ConfigStoreError("invalid_argument", f"{where}.agent_keys: the project key is also an agent's key")
        return Project(
            name=name,
            api_key_sha256=key_hash,
            tools=check_tools(row.get("tools"), f"{where}.tools"),
            policies=check_policies(row.get("policies"), f"{where}.policies"),
            policy_version=version,
            agent_keys=agent_keys,
        )
    except ConfigStoreError as exc:
        raise ConfigStoreError("config_invalid", exc.message) from None


def version_from_row(row: Mapping[str, Any], where: str) -> PolicyVersion:
    try:
        version = row.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ConfigStoreError("invalid_argument", f"{where}.version: must be a whole number >= 1")
        return PolicyVersion(
            version=version,
            policies=check_policies(row.get("policies"), f"{where}.policies"),
            author=str(row.get("author") or ""),
            created_at=parse_time(row.get("created_at"), f"{where}.created_at"),
            note=str(row.get("note") or ""),
        )
    except ConfigStoreError as exc:
        raise ConfigStoreError("config_invalid", exc.message) from None


def parse_time(value: object, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigStoreError("invalid_argument", f"{where}: not an ISO 8601 time") from None
    else:
        raise ConfigStoreError("invalid_argument", f"{where}: missing")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


class KeyIndex:
    """Every key hash of every project (project keys and agent-bound keys) as raw bytes,
    ready to scan in constant time.

    Build it once per snapshot; ``find`` compares the wanted hash with every
    entry whatever matches (no early exit, no dict lookup), so its work does
    not depend on which hashes exist. Cost grows with the number of keys, about
    70 ns each on this machine kind (docs/config-stores.md has the figures).
    A hash held twice (two projects, or a project key that is also an agent's:
    only a store that skipped its checks can hold that) opens nothing: who it
    belongs to is not known.
    """

    __slots__ = ("_entries",)

    def __init__(self, projects: Iterable[Project]) -> None:
        entries: list[tuple[bytes, KeyHolder | None]] = []
        seen: dict[bytes, int] = {}  # built once per snapshot: not on the lookup path
        for project in projects:
            held = [(project.api_key_sha256, None), *project.agent_keys.items()]
            for key_hash, agent in held:
                if not key_hash:
                    entries.append((_NO_MATCH, None))  # a keyless project still costs one comparison
                    continue
                stored = bytes.fromhex(key_hash)
                if stored in seen:
                    entries[seen[stored]] = (_NO_MATCH, None)
                    entries.append((_NO_MATCH, None))
                    continue
                seen[stored] = len(entries)
                entries.append((stored, KeyHolder(project, agent, key_hash.lower())))
        self._entries = tuple(entries)

    def find(self, api_key_sha256: str) -> KeyHolder | None:
        wanted = _digest_or_impossible(api_key_sha256)
        found: KeyHolder | None = None
        compare = hmac.compare_digest
        for stored, holder in self._entries:
            if compare(stored, wanted):
                found = holder
        return found

    def project_of(self, api_key_sha256: str) -> Project | None:
        """The project whose project key has this hash; an agent-bound key finds nothing."""
        holder = self.find(api_key_sha256)
        return holder.project if holder is not None and holder.agent is None else None


# 33 bytes: never equal to a 32-byte digest, so a keyless project or a
# malformed probe still costs one full comparison and never matches.
_NO_MATCH = b"\x00" * 33
_IMPOSSIBLE = b"\xff" * 33


def _digest_or_impossible(value: str) -> bytes:
    if len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    return _IMPOSSIBLE


def find_key(projects: Iterable[Project], api_key_sha256: str) -> KeyHolder | None:
    """Who holds this key hash, scanning every key of every project whatever matches."""
    return KeyIndex(projects).find(api_key_sha256)


def find_by_key_hash(projects: Iterable[Project], api_key_sha256: str) -> Project | None:
    """The project whose project key has this hash, scanning every key whatever matches."""
    return KeyIndex(projects).project_of(api_key_sha256)

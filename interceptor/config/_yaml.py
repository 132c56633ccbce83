"""The YAML file config store: the default, so one machine runs with nothing else.

The file's shape is a fixed contract (docs/architecture.md, "Config store shape"): ``projects:`` entries with
name, api_key_sha256, tools and policies, and ``agent_keys`` (key hash -> agent) when a project has
agent-bound keys; this store adds ``policy_version`` and ``policy_history`` beside them. Reads re-parse the file only when its
mtime, size or inode change. Writes rewrite it atomically (temp file +
os.replace) under a lock, keeping comments and order where ruamel.yaml is
installed.

It must never write an API key in clear, never leave a half-written file, and
never block the event loop on file I/O.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from interceptor.config._model import ConfigStoreError, KeyHolder, PolicyVersion, Project
from interceptor.config._records import (
    KeyIndex,
    check_agent_name,
    check_json,
    check_key_hash,
    check_name,
    check_policies,
    check_tools,
    now_utc,
    project_from_row,
    version_from_row,
)
from interceptor.config._yaml_file import directory_lock, edit, load_yaml, plain, replace, yaml_problem

if TYPE_CHECKING:
    from interceptor.settings import ConfigStoreSettings


@dataclass(frozen=True, slots=True)
class _Parsed:
    projects: tuple[Project, ...]
    by_name: Mapping[str, Project]
    history: Mapping[str, tuple[PolicyVersion, ...]]
    keys: KeyIndex


def _parse(text: str, path: Path) -> _Parsed:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigStoreError("config_invalid", f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping) or not isinstance(data.get("projects", []) or [], list):
        raise ConfigStoreError("config_invalid", f"{path}: expected a mapping with a 'projects' list")
    projects: list[Project] = []
    by_name: dict[str, Project] = {}
    history: dict[str, tuple[PolicyVersion, ...]] = {}
    key_hashes: set[str] = set()
    for index, entry in enumerate(data.get("projects") or []):
        where = f"{path}: projects[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigStoreError("config_invalid", f"{where}: must be a mapping")
        project = project_from_row(entry, where)
        if project.name in by_name:
            raise ConfigStoreError("config_invalid", f"{where}.name: {project.name!r} appears twice")
        if project.api_key_sha256 and project.api_key_sha256 in key_hashes:
            raise ConfigStoreError("config_invalid", f"{where}.api_key_sha256: another project has the same key")
        key_hashes.add(project.api_key_sha256)
        if not key_hashes.isdisjoint(project.agent_keys):
            raise ConfigStoreError("config_invalid", f"{where}.agent_keys: a key hash another project also holds")
        key_hashes.update(project.agent_keys)
        raw_history = entry.get("policy_history") or []
        if not isinstance(raw_history, list):
            raise ConfigStoreError("config_invalid", f"{where}.policy_history: must be a list")
        versions = []
        for i, item in enumerate(raw_history):
            if not isinstance(item, Mapping):
                raise ConfigStoreError("config_invalid", f"{where}.policy_history[{i}]: must be a mapping")
            versions.append(version_from_row(item, f"{where}.policy_history[{i}]"))
        projects.append(project)
        by_name[project.name] = project
        history[project.name] = tuple(sorted(versions, key=lambda v: v.version))
    return _Parsed(tuple(projects), by_name, history, KeyIndex(projects))


def open_store(settings: ConfigStoreSettings) -> YamlConfigStore:
    """The file ``config_path`` names (``interceptor.config.STORES``); it is read on first use."""
    return YamlConfigStore(settings.config_path)


class YamlConfigStore:
    """Projects in one YAML file (``examples/sentinel.yaml`` shows the shape)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._parsed: _Parsed | None = None
        self._write_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"YamlConfigStore({str(self.path)!r})"

    async def open(self) -> None:
        await self._read()

    async def close(self) -> None:
        return None

    # -- reads -----------------------------------------------------------------------------

    async def _read(self) -> _Parsed:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise ConfigStoreError("config_unavailable", f"{self.path}: no such config file") from None
        except OSError as exc:
            raise ConfigStoreError("config_unavailable", f"{self.path}: {exc.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._parsed is not None and stamp == self._stamp:
            return self._parsed
        parsed = await asyncio.to_thread(self._load_file)
        self._parsed, self._stamp = parsed, stamp
        return parsed

    def _load_file(self) -> _Parsed:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigStoreError("config_unavailable", f"{self.path}: {exc.strerror}") from None
        return _parse(text, self.path)

    async def find_key(self, api_key_sha256: str) -> KeyHolder | None:
        return (await self._read()).keys.find(api_key_sha256)

    async def find_by_key_hash(self, api_key_sha256: str) -> Project | None:
        return (await self._read()).keys.project_of(api_key_sha256)

    async def get_project(self, name: str) -> Project | None:
        return (await self._read()).by_name.get(name)

    async def list_projects(self) -> list[Project]:
        return list((await self._read()).projects)

    async def policy_history(self, name: str) -> list[PolicyVersion]:
        parsed = await self._read()
        if name not in parsed.by_name:
            raise ConfigStoreError("project_not_found", f"no project named {name!r}")
        return list(parsed.history[name])

    # -- writes ----------------------------------------------------------------------------

    async def create_project(self, name: str, api_key_sha256: str) -> Project:
        check_name(name)
        key_hash = check_key_hash(api_key_sha256)

        def change(doc: dict[str, Any]) -> None:
            if _find(doc, name) is not None:
                raise ConfigStoreError("project_exists", f"a project named {name!r} exists")
            doc.setdefault("projects", [])
            if doc["projects"] is None:
                doc["projects"] = []
            doc["projects"].append({"name": name, "api_key_sha256": key_hash, "tools": [], "policies": {}})

        await self._write(change, create=True)
        return Project(name=name, api_key_sha256=key_hash)

    async def set_api_key(self, name: str, api_key_sha256: str, *, expected_sha256: str | None = None) -> None:
        key_hash = check_key_hash(api_key_sha256)

        def change(doc: dict[str, Any]) -> None:
            entry = _need(doc, name)
            if expected_sha256 is not None and str(entry.get("api_key_sha256") or "").lower() != expected_sha256.lower():
                raise ConfigStoreError("conflict", f"the key of project {name!r} changed since it was read; nothing was written")
            _set(entry, "api_key_sha256", key_hash)

        await self._write(change)

    async def add_agent_key(self, name: str, agent: str, api_key_sha256: str, *, replace: bool = False) -> None:
        check_agent_name(agent)
        key_hash = check_key_hash(api_key_sha256)

        def change(doc: dict[str, Any]) -> None:
            entry = _need(doc, name)
            if key_hash in _held_hashes(doc):
                raise ConfigStoreError("project_exists", "that key is in use; nothing was written")
            keys = entry.get("agent_keys")
            if keys is None:
                keys = entry["agent_keys"] = {}
            if replace:
                for old in [h for h, a in keys.items() if a == agent]:
                    del keys[old]
            keys[key_hash] = agent

        def expect(before: _Parsed, after: _Parsed) -> None:
            _reads_back(after.by_name[name].agent_keys.get(key_hash), agent, "agent")

        await self._write(change, expect=expect)

    async def revoke_agent_keys(self, name: str, agent: str) -> int:
        removed: list[str] = []

        def change(doc: dict[str, Any]) -> None:
            entry = _need(doc, name)
            keys = entry.get("agent_keys") or {}
            removed.extend(h for h, a in keys.items() if a == agent)
            for old in removed:
                del keys[old]
            if "agent_keys" in entry and not keys:
                del entry["agent_keys"]

        await self._write(change)
        return len(removed)

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None:
        clean = [dict(t) for t in check_tools(tools)]
        check_json(clean, "tools")

        def expect(before: _Parsed, after: _Parsed) -> None:
            _reads_back(list(after.by_name[name].tools), clean, "tools")

        await self._write(lambda doc: _set(_need(doc, name), "tools", clean), expect=expect)

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str, note: str = "") -> int:
        clean = check_policies(policies)
        check_json(clean, "policies")
        pushed: list[int] = []

        def change(doc: dict[str, Any]) -> None:
            pushed.append(_push(_need(doc, name), clean, author, note))

        def expect(before: _Parsed, after: _Parsed) -> None:
            _reads_back(after.by_name[name].policies, clean, "policies")

        await self._write(change, expect=expect)
        return pushed[0]

    async def rollback(self, name: str, version: int, author: str) -> int:
        pushed: list[int] = []

        def change(doc: dict[str, Any]) -> None:
            entry = _need(doc, name)
            for item in entry.get("policy_history") or []:
                if isinstance(item, Mapping) and item.get("version") == version:
                    policies = plain(item.get("policies") or {})
                    pushed.append(_push(entry, policies, author, f"rollback to version {version}"))
                    return
            raise ConfigStoreError("version_not_found", f"project {name!r} has no policy version {version}")

        def expect(before: _Parsed, after: _Parsed) -> None:
            # The version comes back as the interceptor read it then, not as ruamel reads it.
            old = [dict(v.policies) for v in before.history.get(name, ()) if v.version == version]
            wanted = old[-1] if old else {}
            check_json(wanted, "policies")
            _reads_back(after.by_name[name].policies, wanted, "policies")

        await self._write(change, expect=expect)
        return pushed[0]

    async def _write(
        self,
        change: Callable[[dict[str, Any]], None],
        *,
        create: bool = False,
        expect: Callable[[_Parsed, _Parsed], None] | None = None,
    ) -> None:
        async with self._write_lock:
            await asyncio.to_thread(self._rewrite, change, create, expect)
        self._stamp = None  # the next read parses what was written

    def _rewrite(
        self, change: Callable[[dict[str, Any]], None], create: bool, expect: Callable[[_Parsed, _Parsed], None] | None
    ) -> None:
        directory = self.path.parent if str(self.path.parent) else Path(".")
        try:
            with directory_lock(directory):
                try:
                    text = self.path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    if not create:
                        raise ConfigStoreError("config_unavailable", f"{self.path}: no such config file") from None
                    text = ""
                before = _parse(text, self.path)  # never rewrite a file that is not valid to begin with
                out = edit(text, change)
                after = _parse(out, self.path)  # and never write one that is not
                if expect is not None:
                    expect(before, after)  # nor one that reads back as something else than was asked
                replace(self.path, out)
        except OSError as exc:
            raise ConfigStoreError("config_unavailable", f"{self.path}: cannot write ({exc.strerror or type(exc).__name__})") from None


def _find(doc: Mapping[str, Any], name: str) -> Any:
    for entry in doc.get("projects") or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return None


def _need(doc: Mapping[str, Any], name: str) -> Any:
    entry = _find(doc, name)
    if entry is None:
        raise ConfigStoreError("project_not_found", f"no project named {name!r}")
    return entry


def _held_hashes(doc: Mapping[str, Any]) -> set[str]:
    """Every key hash the file holds, project keys and agent keys, lower-cased."""
    held: set[str] = set()
    for entry in doc.get("projects") or []:
        if isinstance(entry, Mapping):
            held.add(str(entry.get("api_key_sha256") or "").lower())
            keys = entry.get("agent_keys")
            if isinstance(keys, Mapping):
                held.update(str(h).lower() for h in keys)
    return held


def _set(entry: Any, key: str, value: Any) -> None:
    entry[key] = value


def _push(entry: Any, policies: dict[str, Any], author: str, note: str) -> int:
    history = entry.get("policy_history")
    if history is None:
        history = []
        entry["policy_history"] = history
    versions = [item.get("version", 0) for item in history if isinstance(item, Mapping)]
    version = max([int(entry.get("policy_version") or 0), *[v for v in versions if isinstance(v, int)]]) + 1
    entry["policies"] = policies
    entry["policy_version"] = version
    record: dict[str, Any] = {"version": version, "author": author, "created_at": now_utc().isoformat()}
    if note:
        record["note"] = note
    record["policies"] = plain(policies)
    history.append(record)
    return version


def _reads_back(got: Any, wanted: Any, where: str) -> None:
    difference = _difference(got, wanted, where)
    if difference is not None:
        raise ConfigStoreError(
            "invalid_argument", f"{difference}: would read back from YAML as something else; nothing was written"
        )


def _difference(got: Any, wanted: Any, where: str) -> str | None:
    """The first place where ``got`` is not ``wanted`` (types compared too: True is not 1, 1 is not 1.0)."""
    if isinstance(wanted, Mapping):
        if not isinstance(got, Mapping) or set(got) != set(wanted):
            return where
        for key in wanted:
            found = _difference(got[key], wanted[key], f"{where}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(wanted, list | tuple):
        if not isinstance(got, list | tuple) or len(got) != len(wanted):
            return where
        for index, (a, b) in enumerate(zip(got, wanted, strict=True)):
            found = _difference(a, b, f"{where}[{index}]")
            if found is not None:
                return found
        return None
    same_type = type(got) is type(wanted) or (isinstance(got, str) and isinstance(wanted, str))
    return None if same_type and got == wanted else where

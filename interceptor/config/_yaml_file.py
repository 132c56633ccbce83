"""Reading and rewriting a YAML config file: one strict reader, and writes that mean what was written.

The interceptor reads the file with PyYAML (YAML 1.1: ``off``, ``yes`` and
``no`` are booleans, ``1:20`` is 80); writes go through ruamel.yaml, which
keeps comments but resolves plain scalars by YAML 1.2. So the writer is
taught the reader's rules: a string PyYAML would read as anything but that
string is quoted, a float is written in a form PyYAML reads as a float, and a
plain scalar already in the file stays exactly as it was (so its meaning to
the reader does not change). ``load_yaml`` refuses a mapping that names a key
twice, which PyYAML would otherwise resolve silently, last one winning.

It must never leave a half-written file where readers look, never widen the
file's permissions, never create a file others can read, and never write a
value that reads back as something else.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock still serialises this process
    fcntl = None  # type: ignore[assignment]

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_RESOLVER = yaml.resolver.Resolver()


class DuplicateKeyError(yaml.constructor.ConstructorError):  # type: ignore[misc]
    """A mapping names the same key twice (PyYAML alone would keep the last silently)."""


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys in every mapping of the document."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:  # `<<: *base`; explicit keys may override merged ones
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    continue  # the base class reports it
                first = seen.get(key)
                if first is not None:
                    raise DuplicateKeyError(
                        None, None,
                        f"duplicate key {_shown(key_node)} (first at {_at(first.start_mark)})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _shown(node: yaml.Node) -> str:
    text = node.value if isinstance(node, yaml.ScalarNode) else node.id
    return repr(text if len(text) <= 60 else text[:57] + "...")


def load_yaml(text: str) -> Any:
    """The document as the interceptor reads it (PyYAML, safe), refusing duplicate keys."""
    return yaml.load(text, Loader=_Loader)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """``line N, column M: what is wrong`` for a YAML error, without quoting the document."""
    mark = getattr(exc, "problem_mark", None)
    place = _at(mark) if mark is not None else ""
    problem = getattr(exc, "problem", None) or ""
    return ": ".join(part for part in (place, problem) if part) or "not valid YAML"


def reads_as_text(value: str) -> bool:
    """Whether PyYAML reads ``value``, written as a plain scalar, back as that same string."""
    return bool(_RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR)


def plain(value: Any) -> Any:
    """A deep copy in plain dicts and lists, so history entries share no nodes (no YAML anchors).

    Keys and scalars are kept as they are: a key or value read from the file
    keeps the form (and so the meaning) it had there.
    """
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@functools.cache
def _round_trip_types() -> tuple[type[Any], type[Any]]:
    """ruamel.yaml's round-trip constructor and representer, taught PyYAML's reading rules."""
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.representer import RoundTripRepresenter
    from ruamel.yaml.scalarstring import PlainScalarString

    class Constructor(RoundTripConstructor):
        def construct_yaml_str(self, node: Any) -> Any:
            value = super().construct_yaml_str(node)
            # A plain `off` in the file is text to ruamel but False to the reader:
            # mark it so it is written back plain, as it was, meaning what it meant.
            if type(value) is str and node.style is None and not reads_as_text(value):
                return PlainScalarString(value, anchor=node.anchor)
            return value

    class Representer(RoundTripRepresenter):
        def represent_text(self, data: str) -> Any:
            if not reads_as_text(data):  # "off", "1:20", "012", "~" ...: quoted, or the reader sees no string
                return self.represent_scalar(_STR, data, style="'")
            return self.represent_str(data)

        def represent_number(self, data: float) -> Any:
            if data != data or data in (float("inf"), float("-inf")):
                return super().represent_float(data)
            text = repr(data).lower()
            if "." not in text and "e" in text:  # 1e+20: YAML 1.1 floats need a dot
                text = text.replace("e", ".0e", 1)
            return self.represent_scalar("tag:yaml.org,2002:float", text)

    Constructor.add_constructor(_STR, Constructor.construct_yaml_str)
    Representer.add_representer(str, Representer.represent_text)
    Representer.add_representer(float, Representer.represent_number)
    return Constructor, Representer


def _round_trip() -> Any:
    """A ruamel.yaml round-trip instance that writes for PyYAML's reader."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.Constructor, rt.Representer = _round_trip_types()
    rt.width = 4096
    rt.preserve_quotes = True
    return rt


def edit(text: str, change: Callable[[dict[str, Any]], None]) -> str:
    try:
        from ruamel.yaml.util import load_yaml_guess_indent
    except ImportError:  # only PyYAML: same content, comments are lost
        doc = load_yaml(text) or {}
        change(doc)
        return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=4096))
    rt = _round_trip()
    if text.strip():
        doc, indent, offset = load_yaml_guess_indent(text, yaml=rt)
        # No block sequence to learn from: the style of the config examples in docs/ (the shape is
        # docs/architecture.md, "Config store shape").
        if offset is None:
            indent, offset = 4, 2
        rt.indent(mapping=2, sequence=indent, offset=offset)
    else:
        doc = None
        rt.indent(mapping=2, sequence=4, offset=2)
    if doc is None:  # empty or comments only: keep the comments above a new list
        doc = rt.load((text.rstrip() + "\n" if text.strip() else "") + "projects: []\n")
    change(doc)
    buffer = io.StringIO()
    rt.dump(doc, buffer)
    return buffer.getvalue()


def replace(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600  # a new file holds key hashes: readable by its owner only
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    # Lock the directory, not the file: os.replace swaps the file's inode, so a
    # lock on the file would not stop a second writer that opened the new one.
    if fcntl is None:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

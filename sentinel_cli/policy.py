"""`sentinel policy`: validate, lint, explain, diff and simulate policies; push, pull, history, rollback.

The file commands never touch a server: they read YAML/JSON files and run the
same pure engine (sentinel_policy) as the live interceptor. The store
commands go through the config store (interceptor.config). A recorded call is
``{tool, arguments, output}`` everywhere (``args`` is the same field, the name
benchmark traces use; both with different values is an error), and a key
that is neither these nor a documented ground-truth label is an error, never
silently ignored. This module must never evaluate a policy any other way than
through the engine, and never let `simulate` read a trace's ground-truth fields.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast


class PolicyFileError(Exception):
    """A policy, tools or trace file that cannot be read. ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("policy", help="validate, lint, explain, diff, simulate and version policies")
    sub = group.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)

    def with_policy(p: argparse.ArgumentParser, tools: bool = True) -> None:
        p.add_argument("--project", help="the project to take from a config file with several projects")
        if tools:
            p.add_argument("--tools", help="tool list (JSON/YAML); default: the project's tools in a config file")

    validate = sub.add_parser("validate", help="check a policy file, and the tools it names against the catalogue; "
                                                "print every problem with its place")
    validate.add_argument("file")
    with_policy(validate)
    validate.set_defaults(handler=_validate)

    lint = sub.add_parser("lint", help="warn about shadowed or dead rules, undefined tools, missing classes")
    lint.add_argument("file")
    with_policy(lint)
    lint.set_defaults(handler=_lint)

    explain = sub.add_parser("explain", help="which rule decides a call, and why")
    explain.add_argument("--policy", required=True)
    explain.add_argument("--call", required=True, help='JSON: {"tool": ..., "arguments": {...}}')
    explain.add_argument("--history", help="JSON list (or @file) of earlier calls {tool, arguments, output}")
    explain.add_argument("--agent")
    explain.add_argument("--now", help="ISO time of the call (default: now)")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    with_policy(explain)
    explain.set_defaults(handler=_explain)

    diff = sub.add_parser("diff", help="what changed between two policy files")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--project")
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.set_defaults(handler=_diff)

    simulate = sub.add_parser("simulate", help="replay traces through the policy, one fresh session per trace")
    simulate.add_argument("--policy", required=True)
    simulate.add_argument("--trace", required=True,
                          help="JSON Lines, one trace {id, calls: [{tool, arguments (or args), output}]} a line "
                               "(read through gzip if the name ends in .gz)")
    simulate.add_argument("--format", choices=("json",), default="json")
    simulate.add_argument("--agent")
    simulate.add_argument("--now", help="ISO time used for every call (default: now)")
    simulate.add_argument("--output", help="write here instead of stdout")
    with_policy(simulate)
    simulate.set_defaults(handler=_simulate)

    for name, text in (("push", "store a policy file as the project's new current version"),
                       ("pull", "print the project's current policy"),
                       ("history", "list the project's policy versions"),
                       ("rollback", "make an earlier version current again (as a new version)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("project_name", metavar="PROJECT")
        if name == "push":
            p.add_argument("file")
            p.add_argument("--author", default=os.environ.get("USER", "unknown"))
            p.add_argument("--project", dest="file_project", metavar="NAME",
                           help="the project to take from a config file with several projects (default: PROJECT)")
        if name == "rollback":
            p.add_argument("version", type=int)
            p.add_argument("--author", default=os.environ.get("USER", "unknown"))
        if name == "pull":
            p.add_argument("--format", choices=("yaml", "json"), default="yaml")
        p.add_argument("--config", metavar="FILE",
                       help="a YAML config file; default: the interceptor's store from the environment "
                            "(SENTINEL_DATABASE_URL, then Supabase, then SENTINEL_CONFIG)")
        p.set_defaults(handler=_STORE_HANDLERS[name])


# --------------------------------------------------------------------------- files


def read_document(path: str) -> Any:
    """The file as the interceptor would read it: JSON, or YAML by PyYAML's rules; a key named twice is an error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError("unreadable", f"{path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # not UTF-8
        raise PolicyFileError("unreadable", f"{path}: not UTF-8 text ({exc})") from exc
    if path.endswith(".json"):
        try:
            return json.loads(text, object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError) as exc:
            raise PolicyFileError("malformed", f"{path}: not valid JSON: {exc}") from exc
    import yaml

    from interceptor.config import load_yaml, yaml_problem

    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise PolicyFileError("malformed", f"{path}: not valid YAML: {yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise PolicyFileError("malformed", f"{path}: not valid YAML: nested too deep") from exc


def open_jsonl(path: str | os.PathLike[str]) -> IO[str]:
    """A JSON Lines file opened as UTF-8 text; read through gzip when its name ends in ``.gz``."""
    if os.fspath(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl(path: str | os.PathLike[str]) -> list[Any]:
    """Every non-blank line of a JSON Lines file (plain or ``.gz``), parsed."""
    with open_jsonl(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _pick_project(doc: Mapping[str, Any], project: str | None, path: str) -> Mapping[str, Any]:
    projects = doc.get("projects")
    if not isinstance(projects, list) or not all(isinstance(p, Mapping) for p in projects):
        raise PolicyFileError("malformed", f"{path}: projects must be a list of projects")
    if project is not None:
        found = [p for p in projects if p.get("name") == project]
        if not found:
            names = ", ".join(str(p.get("name")) for p in projects) or "none"
            raise PolicyFileError("no_project", f"{path}: no project named {project!r} (the file has: {names}; choose one with --project)")
        return cast(Mapping[str, Any], found[0])
    if len(projects) != 1:
        names = ", ".join(str(p.get("name")) for p in projects)
        raise PolicyFileError("ambiguous_project", f"{path}: {len(projects)} projects ({names}); choose one with --project")
    return cast(Mapping[str, Any], projects[0])


def load_policy(path: str, project: str | None = None) -> tuple[Mapping[str, Any], list[Any] | None]:
    """(policies, tools or None) from a policy file, a {policies, tools} file or a whole config file."""
    doc = read_document(path)
    if not isinstance(doc, Mapping):
        raise PolicyFileError("malformed", f"{path}: must be a mapping with `policies` (or a config with `projects`)")
    if "projects" in doc:
        doc = _pick_project(doc, project, path)
    policies = doc.get("policies", doc if {"staticRules", "taintRules", "rules", "default"} & set(doc) else None)
    if not isinstance(policies, Mapping):
        raise PolicyFileError("malformed", f"{path}: no `policies` mapping found")
    tools = doc.get("tools")
    return policies, tools if isinstance(tools, list) else None


def load_tools(path: str | None, fallback: list[Any] | None) -> list[Any] | None:
    if path is None:
        return fallback
    doc = read_document(path)
    if isinstance(doc, Mapping) and isinstance(doc.get("tools"), list):
        doc = doc["tools"]
    if not isinstance(doc, list):
        raise PolicyFileError("malformed", f"{path}: must be a list of tools")
    return [_normalise_tool(t) for t in doc]


def _normalise_tool(tool: Any) -> Any:
    # The eval's tools carry `parameters`, the config's `input_schema`; the engine reads neither.
    return tool


def _compile(args: argparse.Namespace, policy_path: str) -> Any:
    from sentinel_policy import compile_policy

    policies, tools = load_policy(policy_path, args.project)
    return compile_policy(policies, load_tools(getattr(args, "tools", None), tools))


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PolicyFileError("malformed", f"--now: {text!r} is not an ISO 8601 time (e.g. 2026-01-07T12:00:00+00:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# A recorded call: what a gateway observes of it. `args` and `arguments` are one field under two names.
CALL_KEYS = frozenset({"tool", "arguments", "args", "output"})
# The ground-truth labels benchmark traces carry on each call (benchmarks/agentdojo/README.md): allowed, never read.
LABEL_KEYS = frozenset({"origin", "reads_untrusted", "vectors", "placeholder_args", "synthesized", "error"})


def call_arguments(call: Mapping[str, Any], where: str, allowed: frozenset[str]) -> Any:
    """The call's arguments, under either name; PolicyFileError for a key outside ``allowed`` or two different values."""
    unknown = sorted(str(key) for key in call if key not in allowed)
    if unknown:
        hint = " (the agent is given with --agent)" if "agent" in unknown else ""
        raise PolicyFileError("malformed", f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; a call is "
                                           f"{{tool, arguments, output}} (`args` is the same as `arguments`){hint}")
    if "args" in call and "arguments" in call and call["args"] != call["arguments"]:
        raise PolicyFileError("malformed", f"{where}: both `args` and `arguments`, with different values; "
                                           "they are the same field: give one")
    return call["arguments"] if call.get("arguments") is not None else call.get("args")


def _check_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    """``calls`` as {tool, args, output} objects (the engine's shape), or PolicyFileError naming the first bad one."""
    if not isinstance(calls, list):
        raise PolicyFileError("malformed", f"{where}: must be a list of calls, not {_json_type(calls)}")
    checked: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        if not isinstance(call, Mapping):
            raise PolicyFileError("malformed", f"{where}[{index}]: a call is an object {{tool, arguments, output}}, not {_json_type(call)}")
        if not isinstance(call.get("tool"), str) or not call["tool"]:
            raise PolicyFileError("malformed", f"{where}[{index}].tool: must be the tool's name")
        for name in ("args", "arguments"):
            if call.get(name) is not None and not isinstance(call[name], Mapping):
                raise PolicyFileError("malformed", f"{where}[{index}].{name}: must be an object, not {_json_type(call[name])}")
        arguments = call_arguments(call, f"{where}[{index}]", CALL_KEYS | LABEL_KEYS)
        checked.append({"tool": call["tool"], "args": arguments or {}, "output": call.get("output")})
    return checked


def catalogue_problems(policies: Mapping[str, Any], tools: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every place where ``policies`` names a tool the catalogue ``tools`` does not have.

    The engine accepts such a rule (it never matches, or a static rule defines the
    tool without a schema or class); it is what a catalogue push that dropped or
    renamed a tool, or a typo, leaves behind. A glob (``delete_*``) is a pattern,
    not a name: one rule may serve several catalogues, so a glob that matches
    nothing here is not a problem (`policy lint` reports a rule that can never match).
    """
    names = {str(t.get("name")) for t in tools if isinstance(t, Mapping)}
    problems: list[str] = []

    def exact(place: str, name: Any) -> None:
        if isinstance(name, str) and name not in names:
            problems.append(f"{place}: tool {name!r} is not in the catalogue")

    def globs(place: str, value: Any) -> None:
        for pattern in value if isinstance(value, list) else [value]:
            if isinstance(pattern, str) and not any(c in pattern for c in "*?["):
                exact(place, pattern)

    static = policies.get("staticRules")
    for name in static if isinstance(static, Mapping) else ():
        exact(f"policies.staticRules.{name}", name)
    taint = policies.get("taintRules")
    for index, rule in enumerate(taint if isinstance(taint, list) else ()):
        for key in ("tool", "first", "second"):
            if isinstance(rule, Mapping) and key in rule:
                exact(f"policies.taintRules[{index}].{key}", rule[key])
    rules = policies.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else ()):
        if not isinstance(rule, Mapping):
            continue
        place = f"policies.rules[{index}]" + (f" ({rule['name']})" if isinstance(rule.get("name"), str) else "")
        for part in ("when", "unless"):
            section = rule.get(part)
            if not isinstance(section, Mapping):
                continue
            if part == "when" and "tool" in section:
                globs(f"{place}.when.tool", section["tool"])
            history = section.get("history")
            if isinstance(history, Mapping):
                for key in ("any", "none", "last"):
                    if key in history:
                        globs(f"{place}.{part}.history.{key}", history[key])
                count = history.get("count")
                if isinstance(count, Mapping) and "tool" in count:
                    globs(f"{place}.{part}.history.count.tool", count["tool"])
            elif history is not None:
                globs(f"{place}.{part}.history", history)
    return problems


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _fail(exc: Exception, path: str | None = None) -> int:
    from sentinel_policy import PolicyError

    if isinstance(exc, PolicyError):
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {locate(path, problem) if path else problem}", file=sys.stderr)
        return 1
    print(f"error: {exc}", file=sys.stderr)
    return 2


def locate(path: str, problem: str) -> str:
    """``problem`` prefixed with FILE:LINE where its place (policies.rules[2].when...) can be found in a YAML file."""
    import re

    import yaml

    place = problem.split(": ", 1)[0]
    steps = list(re.findall(r"\[(\d+)\]|([^.\[\]]+)", re.sub(r" \([^)]*\)", "", place)))
    try:
        node: Any = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return problem
    line = None
    if isinstance(node, yaml.MappingNode) and steps and steps[0][1] == "policies":
        keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        if "policies" not in keys and "projects" in keys:
            return problem  # config files: the place inside the project is enough
        if "policies" not in keys:
            steps = steps[1:]  # a bare policies object
    for index, key in steps:
        if isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
        elif isinstance(node, yaml.MappingNode) and key:
            found = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key]
            if not found:
                break
            line = next(k for k, v in node.value if v is found[0]).start_mark.line + 1
            node = found[0]
            continue
        else:
            break
        line = node.start_mark.line + 1
    return f"{path}:{line}: {problem}" if line else problem


# --------------------------------------------------------------------------- file commands


def _validate(args: argparse.Namespace) -> int:
    from sentinel_policy import PolicyError, compile_policy

    try:
        policies, tools = load_policy(args.file, args.project)
        tools = load_tools(args.tools, tools)
        try:
            policy = compile_policy(policies, tools)
            problems: list[str] = []
        except PolicyError as exc:
            policy, problems = None, list(exc.problems)
        if tools is not None:  # a rule for a tool the catalogue lacks compiles, and never sees its tool
            problems += catalogue_problems(policies, tools)
        if problems or policy is None:
            raise PolicyError(problems)
    except (PolicyError, PolicyFileError) as exc:
        return _fail(exc, args.file)
    checked = ("every tool it names is in the catalogue" if tools is not None
               else "tool names not checked: no catalogue (give --tools, or a config file's project)")
    print(f"{args.file}: valid ({len(policy.rules)} named rules, {len(policy.tools)} tools, "
          f"default {policy.default.effect.value}); {checked}")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from sentinel_policy import PolicyError, lint_policy

    try:
        policies, tools = load_policy(args.file, args.project)
        tools = load_tools(args.tools, tools)
        warnings = lint_policy(policies, tools)
    except (PolicyError, PolicyFileError) as exc:
        return _fail(exc, args.file)
    for warning in warnings:
        print(f"{args.file}: {warning}")
    print(f"{len(warnings)} warning(s)")
    return 1 if warnings else 0


def _history_arg(text: str | None) -> list[Any]:
    if not text:
        return []
    where = f"--history {text}" if text.startswith("@") else "--history"
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    except (OSError, ValueError) as exc:
        raise PolicyFileError("unreadable", f"{where}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise PolicyFileError("malformed", f"{where}: not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise PolicyFileError("malformed", f"{where}: must be a JSON list of calls")
    return _check_calls(data, where)


def _explain(args: argparse.Namespace) -> int:
    from sentinel_policy import PolicyError, ToolCall, explain, replay

    try:
        policy = _compile(args, args.policy)
        try:
            call_raw = json.loads(args.call)
        except (ValueError, RecursionError) as exc:
            raise PolicyFileError("malformed", f"--call: not valid JSON: {exc}") from None
        if not isinstance(call_raw, Mapping) or not isinstance(call_raw.get("tool"), str):
            raise PolicyFileError("malformed", '--call must be {"tool": ..., "arguments": {...}}')
        for name in ("arguments", "args"):
            if call_raw.get(name) is not None and not isinstance(call_raw[name], Mapping):
                raise PolicyFileError("malformed", f"--call: {name} must be an object, not {_json_type(call_raw[name])}")
        arguments = call_arguments(call_raw, "--call", frozenset({"tool", "arguments", "args"}))
        now = _now(args.now)
        project = args.project or ""
        earlier, facts = replay(policy, _history_arg(args.history), now, project=project, agent=args.agent)
        call = ToolCall(call_raw["tool"], arguments or {}, project, args.agent)
        result = explain(policy, call, facts, now)
    except (PolicyError, PolicyFileError, ValueError) as exc:
        return _fail(exc, args.policy)
    if args.format == "json":
        print(json.dumps(result.as_dict(), indent=2))
    else:
        for index, decision in enumerate(earlier):
            print(f"history[{index}]: {decision.effect.value} by {decision.rule}")
        print(result.as_text())
    return 0


def _diff(args: argparse.Namespace) -> int:
    from sentinel_policy import diff_policies

    try:
        a, _ = load_policy(args.a, args.project)
        b, _ = load_policy(args.b, args.project)
    except PolicyFileError as exc:
        return _fail(exc)
    changes = diff_policies(a, b)
    if args.format == "json":
        print(json.dumps(changes, indent=2))
    else:
        for change in changes:
            print(change["text"])
        if not changes:
            print("no changes")
    return 1 if changes else 0


def _simulate(args: argparse.Namespace) -> int:
    from sentinel_policy import PolicyError, simulate_trace

    try:
        policy = _compile(args, args.policy)
        now = _now(args.now)
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        try:
            with open_jsonl(args.trace) as traces:
                for number, line in enumerate(traces, 1):
                    if not line.strip():
                        continue
                    try:
                        trace = json.loads(line)
                    except (ValueError, RecursionError) as exc:
                        raise PolicyFileError("malformed", f"{args.trace}:{number}: not JSON: {exc}") from exc
                    calls = _check_trace(trace, f"{args.trace}:{number}")
                    result = simulate_trace(policy, {"id": trace.get("id"), "calls": calls}, now,
                                            project=args.project or "", agent=args.agent)
                    out.write(json.dumps(result) + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
    except (PolicyError, PolicyFileError) as exc:
        return _fail(exc, args.policy)
    except OSError as exc:  # gzip.BadGzipFile too
        return _fail(PolicyFileError("unreadable", f"{exc.filename or args.trace}: {exc.strerror or exc}"))
    except (EOFError, zlib.error) as exc:  # a truncated or corrupt .gz
        return _fail(PolicyFileError("unreadable", f"{args.trace}: not a complete gzip file: {exc}"))
    return 0


def _check_trace(trace: Any, where: str) -> list[dict[str, Any]]:
    # A trace the simulator would read as empty must not pass as "no decisions".
    if not isinstance(trace, Mapping):
        raise PolicyFileError("malformed", f"{where}: a trace is an object {{id, calls: [...]}}, not {_json_type(trace)}")
    if "calls" not in trace:
        raise PolicyFileError("malformed", f"{where}: the trace has no `calls` list")
    return _check_calls(trace["calls"], f"{where}: calls")


# --------------------------------------------------------------------------- store commands


def _store_run(args: argparse.Namespace, action: Any) -> int:
    import asyncio

    try:
        from interceptor.config import (
            ConfigStoreError,
            missing_config,
            open_config_store,
            settings_from_env,
        )
    except ImportError as exc:  # an SDK-only install: say what is missing
        print(f"error: this installation has no config store ({exc.name} is not installed)", file=sys.stderr)
        return 2

    async def run() -> int:
        store = await open_config_store(settings)
        try:
            return int(await action(store))
        finally:
            await store.close()

    try:
        settings = settings_from_env(config_path=args.config)  # once, at the command's start
        missing = missing_config(settings)
        if missing is not None:
            print(f"error: {missing}", file=sys.stderr)
            return 2
        return asyncio.run(run())
    except (ConfigStoreError, PolicyFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _push(args: argparse.Namespace) -> int:
    from sentinel_policy import PolicyError, compile_policy

    async def action(store: Any) -> int:
        # A config file's project is chosen by name (--project, else PROJECT): never another project's policy.
        policies, _ = load_policy(args.file, args.file_project or args.project_name)
        project = await store.get_project(args.project_name)
        if project is None:
            raise PolicyFileError("no_project", f"no project named {args.project_name!r} in the store")
        try:
            compile_policy(policies, project.tools)
        except PolicyError as exc:
            return _fail(exc, args.file)
        version = await store.push_policy(args.project_name, dict(policies), args.author)
        print(f"{args.project_name}: policy version {version} is current (author {args.author})")
        return 0

    return _store_run(args, action)


def _pull(args: argparse.Namespace) -> int:
    async def action(store: Any) -> int:
        project = await store.get_project(args.project_name)
        if project is None:
            raise PolicyFileError("no_project", f"no project named {args.project_name!r} in the store")
        doc = {"policies": _plain(project.policies)}
        if args.format == "json":
            print(json.dumps(doc, indent=2))
        else:
            import yaml

            print(f"# {args.project_name}, policy version {project.policy_version}")
            print(yaml.safe_dump(doc, sort_keys=False), end="")
        return 0

    return _store_run(args, action)


def _history(args: argparse.Namespace) -> int:
    async def action(store: Any) -> int:
        versions = await store.policy_history(args.project_name)
        for v in versions:
            print(f"{v.version}\t{v.created_at.isoformat()}\t{v.author}")
        return 0

    return _store_run(args, action)


def _rollback(args: argparse.Namespace) -> int:
    async def action(store: Any) -> int:
        version = await store.rollback(args.project_name, args.version, args.author)
        print(f"{args.project_name}: version {args.version} is current again as version {version}")
        return 0

    return _store_run(args, action)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


_STORE_HANDLERS = {"push": _push, "pull": _pull, "history": _history, "rollback": _rollback}

"""`sentinel up` and the stack launcher: the tool server and the interceptor as two processes.

``run_stack`` starts the tool server, then the interceptor (the zones stay
separate even on a laptop), with a fresh identity key, a YAML config and
in-process state or Redis, and stops both on exit. It is the launcher the CLI
passes down to ``sentinel_agent`` (a ``StackLauncher``) for `sentinel demo`,
`sentinel experiments run` and `sentinel chat`; nothing below the CLI starts
processes itself. `up` runs the stack until interrupted.

A service counts as started only when the process this launcher started is
alive and is the one listening on its port: a port another program holds (even
one that answers ``/healthz``) is an error, never somebody else's stack taken
for ours.

This module must never weaken a default to make something start: a config it
cannot read is reported before anything starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEMO_API_KEY = "sk-sentinel-demo"
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "sentinel.yaml"


def register(subparsers: Any) -> None:
    up = subparsers.add_parser("up", help="run the interceptor and the tool server together until interrupted")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000, help="interceptor port (agents connect here)")
    up.add_argument("--mcp-port", type=int, default=9000, help="tool server port")
    up.add_argument("--config", default=None,
                    help="YAML config file (default: SENTINEL_CONFIG, else the file `sentinel init` writes)")
    up.add_argument("--var-dir", default="var", help="audit logs and the tool server's data folder")
    up.set_defaults(handler=_up)


# --------------------------------------------------------------------------- stack


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Stack:
    interceptor_url: str
    mcp_url: str
    var_dir: Path
    identity_seed: str  # base64url; lets a test start another interceptor replica
    processes: tuple[subprocess.Popen[bytes], ...] = ()  # the tool server's, then the interceptor's


class StackError(RuntimeError):
    """A service of the stack did not start (its port is taken, it exited, it never became healthy)."""


_ZONES = {"mcp": "tool server", "interceptor": "interceptor"}


def port_in_use(host: str, port: int) -> bool:
    """True when another socket already listens on ``host:port`` (bound as uvicorn binds, SO_REUSEADDR)."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError:
        return False  # an address that does not resolve: the server says so itself
    with socket.socket(family, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def listens_on(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds a socket listening on TCP ``port``; None where /proc cannot tell (not Linux)."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        readable = True
        for row in rows:
            fields = row.split()  # sl local_address rem_address st ... inode
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not readable:
        return None
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in descriptors:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in {f"socket:[{inode}]" for inode in inodes}:
                return True
    return False


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0, name: str = "service") -> None:
    """Until ``url`` answers /healthz 200 from ``proc`` itself: alive, and (where /proc tells) holding the port."""
    import httpx

    port = urlsplit(url).port
    deadline = time.monotonic() + timeout
    foreign = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"the {name} ({url}) exited with code {proc.returncode} before it was ready{foreign}")
        with contextlib.suppress(httpx.HTTPError):
            status = httpx.get(f"{url}/healthz", timeout=1.0).status_code
            if status == 200:
                if proc.poll() is None and (port is None or listens_on(proc.pid, port) is not False):
                    return
                foreign = "; another process answers on that port, not the one started"
            else:
                foreign = f"; /healthz answered {status}"
        time.sleep(0.1)
    raise StackError(f"the {name} ({url}) was not healthy after {timeout:.0f} s{foreign}")


def shown_url(url: str) -> str:
    """``url`` with its password replaced by ``***``: fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + netloc).geturl()


def redis_problem(url: str, timeout: float = 2.0) -> str | None:
    """Why the Redis at ``url`` cannot be used now, in one line (no password), or None when it answers PING.

    Asked once, without retries, within ``timeout`` seconds: before any service
    starts, so an unreachable Redis is a quick error, not a stack that never
    becomes healthy.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        return f"{shown_url(url)} is not a Redis URL: {exc}"
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"cannot reach Redis at {shown_url(url)}: {exc}"
    except OSError as exc:
        return f"cannot reach Redis at {shown_url(url)}: {exc.strerror or exc}"
    finally:
        client.close()
    return None


def stop_processes(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _check_port(zone: str, host: str, port: int | None) -> None:
    if port and port_in_use(host, port):
        raise StackError(f"the {_ZONES[zone]} cannot listen on {host}:{port}: another process already listens there")


# What the tool server process inherits from the shell that starts it, besides its own settings.
_TOOL_SERVER_PASSTHROUGH = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR"})


def _start(zone: str, env: dict[str, str], host: str, port: int | None, quiet: bool) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `sentinel serve ZONE` with only the given SENTINEL_* variables; wait until healthy."""
    _check_port(zone, host, port)
    port = port or free_port(host)
    if zone == "mcp":
        # Zone C gets an allowlist: no secret of this shell (an identity seed, a database
        # password, a model key) reaches the tool server, also one added to the shell later.
        base = {k: v for k, v in os.environ.items() if k in _TOOL_SERVER_PASSTHROUGH}
    else:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("SENTINEL_", "SUPABASE_")) and k != "MCP_UPSTREAM_URL"}
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel_cli", "serve", zone, "--host", host, "--port", str(port)],
        env=base | env, stdout=out, stderr=out,
    )
    url = f"http://{host}:{port}"
    try:
        wait_healthy(url, proc, name=_ZONES[zone])
    except BaseException:
        stop_processes([proc])
        raise
    return url, proc


def start_mcp(
    *, identity_public: str, var_dir: Path, host: str = "127.0.0.1", port: int | None = None,
    redis_url: str | None = None, redis_prefix: str = "sentinel:", quiet: bool = True,
) -> tuple[str, subprocess.Popen[bytes]]:
    env = {
        "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity_public,
        "SENTINEL_MCP_AUDIT_LOG": str(var_dir / "mcp-audit.jsonl"),
        "SENTINEL_MCP_DATA_DIR": str(var_dir / "mcp-data"),
    }
    if redis_url:
        env |= {"SENTINEL_REDIS_URL": redis_url, "SENTINEL_REDIS_PREFIX": f"{redis_prefix}mcp:"}
    return _start("mcp", env, host, port, quiet)


def start_interceptor(
    *, identity_seed: str, mcp_url: str, config: str, var_dir: Path, host: str = "127.0.0.1",
    port: int | None = None, redis_url: str | None = None, redis_prefix: str = "sentinel:", quiet: bool = True,
    audit_log: Path | None = None, extra_env: Mapping[str, str] | None = None,
) -> tuple[str, subprocess.Popen[bytes]]:
    env = {
        **(extra_env or {}),
        "SENTINEL_IDENTITY_KEY": identity_seed,
        "MCP_UPSTREAM_URL": mcp_url,
        "SENTINEL_CONFIG": config,
        "SENTINEL_AUDIT_LOG": str(audit_log or var_dir / "interceptor-audit.jsonl"),
        "SENTINEL_UPSTREAM_TIMEOUT_SECONDS": "5",
    }
    if redis_url:
        env |= {"SENTINEL_REDIS_URL": redis_url, "SENTINEL_REDIS_PREFIX": f"{redis_prefix}interceptor:"}
    return _start("interceptor", env, host, port, quiet)


@contextlib.contextmanager
def run_stack(
    *,
    config: str,
    var_dir: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    mcp_port: int | None = None,
    quiet: bool = True,
    redis_url: str | None = None,
    redis_prefix: str = "sentinel:",
    interceptor_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """Start the tool server, then the interceptor, with a fresh identity key; stop both on exit.

    With ``redis_url`` both services keep their state in that Redis, under
    ``redis_prefix`` (the interceptor's keys and the tool server's apart).
    ``interceptor_env``: more of the interceptor's settings (``SENTINEL_ADMIN_KEYS``, ...).
    """
    from sentinel_contract import b64url_encode, generate_keypair

    _check_port("mcp", host, mcp_port)  # both before either starts
    _check_port("interceptor", host, port)
    identity = generate_keypair()
    seed = b64url_encode(identity.seed)
    var_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        mcp_url, proc = start_mcp(identity_public=identity.public_b64, var_dir=var_dir, host=host, port=mcp_port,
                                  redis_url=redis_url, redis_prefix=redis_prefix, quiet=quiet)
        procs.append(proc)
        url, proc = start_interceptor(identity_seed=seed, mcp_url=mcp_url, config=config, var_dir=var_dir, host=host,
                                      port=port, redis_url=redis_url, redis_prefix=redis_prefix, quiet=quiet,
                                      extra_env=interceptor_env)
        procs.append(proc)
        yield Stack(interceptor_url=url, mcp_url=mcp_url, var_dir=var_dir, identity_seed=seed, processes=tuple(procs))
    finally:
        stop_processes(list(reversed(procs)))


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)  # unwinds run_stack, which stops both services


def config_problem(config: str) -> str | None:
    """Why the interceptor could not read this YAML config file, or None if it can.

    The interceptor refuses to start without its file (``missing_config``) but
    fails closed per request on one that turns invalid (it may be fixed while it
    runs); on a laptop an invalid file is a mistake to report before anything starts.
    """
    from interceptor.config import ConfigStoreError, YamlConfigStore

    try:
        asyncio.run(YamlConfigStore(config).list_projects())
    except ConfigStoreError as exc:
        return exc.message
    return None


def _yaml_settings(args: argparse.Namespace) -> Any:
    """The store settings `up` runs with: always the YAML file (--config, else SENTINEL_CONFIG, else the default)."""
    from interceptor.config import settings_from_env

    settings = settings_from_env(config_path=args.config)
    # `up` runs the YAML store only; a database in the environment is not its business.
    return settings.model_copy(update={"database_url": None, "supabase_project_url": None, "supabase_service_role_key": None})


def _access(config: str) -> str:
    """How an agent gets in: the demo key when this config accepts it, else the projects and where their keys came from."""
    from interceptor.config import YamlConfigStore, api_key_sha256

    projects = asyncio.run(YamlConfigStore(config).list_projects())
    if any(p.api_key_sha256.lower() == api_key_sha256(DEMO_API_KEY) for p in projects):
        return f"demo API key: {DEMO_API_KEY}"
    names = ", ".join(p.name for p in projects) or "none yet"
    return f"projects: {names} (API keys: what `sentinel init` or `sentinel keys create` printed)"


def _up(args: argparse.Namespace) -> int:
    from interceptor.config import ConfigStoreError, missing_config

    try:
        settings = _yaml_settings(args)
    except ConfigStoreError as exc:
        print(f"sentinel up: not starting: {exc.message}", file=sys.stderr)
        return 2
    config = str(Path(settings.config_path).resolve())
    problem = missing_config(settings) or config_problem(config)
    if problem is not None:
        print(f"sentinel up: not starting: {problem}", file=sys.stderr)
        return 2
    var_dir = Path(args.var_dir).resolve()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with run_stack(config=config, var_dir=var_dir, host=args.host, port=args.port, mcp_port=args.mcp_port,
                       quiet=False) as stack:
            print(f"Sentinel is up.\n  interceptor (agents connect here): {stack.interceptor_url}\n"
                  f"  tool server (reachable by the interceptor only in production): {stack.mcp_url}\n"
                  f"  config: {config}\n  audit logs and tool data: {var_dir}\n"
                  f"  {_access(config)}\nPress Ctrl-C to stop.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                return _watch(stack)
    except StackError as exc:
        print(f"sentinel up: not started: {exc}", file=sys.stderr)
        return 1
    return 0


def _watch(stack: Stack) -> int:
    """Until interrupted; 1 as soon as either service exits by itself (the other is stopped on the way out)."""
    while True:
        for proc, name in zip(stack.processes, ("tool server", "interceptor"), strict=False):
            if proc.poll() is not None:
                print(f"sentinel up: the {name} exited with code {proc.returncode}; stopping", file=sys.stderr)
                return 1
        time.sleep(0.5)

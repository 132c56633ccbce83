"""`sentinel up` and the stack launcher: the tool server and the interceptor as two processes.

``run_stack`` starts the tool server, then the interceptor (the zones stay
separate even on a laptop), with a fresh identity key, a YAML config and
in-process state or Redis, and stops both on exit. It is the launcher the CLI
passes down to ``sentinel_agent`` (a ``StackLauncher``) for `sentinel demo`,
`sentinel experiments run` and `sentinel chat`; nothing below the CLI starts
processes itself. `up` runs the stack until interrupted.

This module must never weaken a default to make something start: a config it
cannot read is reported before anything starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_API_KEY = "sk-sentinel-demo"
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "sentinel.yaml"


def register(subparsers: Any) -> None:
    up = subparsers.add_parser("up", help="run the interceptor and the tool server together until interrupted")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000, help="interceptor port (agents connect here)")
    up.add_argument("--mcp-port", type=int, default=9000, help="tool server port")
    up.add_argument("--config", default=None, help="YAML config file (default: SENTINEL_CONFIG, else the demo config)")
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


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {proc.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url}: not healthy after {timeout:.0f} s")


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


def _start(zone: str, env: dict[str, str], host: str, port: int | None, quiet: bool) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `sentinel serve ZONE` with only the given SENTINEL_* variables; wait until healthy."""
    port = port or free_port(host)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_")) and k != "MCP_UPSTREAM_URL"}
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel_cli", "serve", zone, "--host", host, "--port", str(port)],
        env=base | env, stdout=out, stderr=out,
    )
    url = f"http://{host}:{port}"
    try:
        wait_healthy(url, proc)
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
    audit_log: Path | None = None,
) -> tuple[str, subprocess.Popen[bytes]]:
    env = {
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
) -> Iterator[Stack]:
    """Start the tool server, then the interceptor, with a fresh identity key; stop both on exit.

    With ``redis_url`` both services keep their state in that Redis, under
    ``redis_prefix`` (the interceptor's keys and the tool server's apart).
    """
    from sentinel_contract import b64url_encode, generate_keypair

    identity = generate_keypair()
    seed = b64url_encode(identity.seed)
    var_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        mcp_url, proc = start_mcp(identity_public=identity.public_b64, var_dir=var_dir, host=host, port=mcp_port,
                                  redis_url=redis_url, redis_prefix=redis_prefix, quiet=quiet)
        procs.append(proc)
        url, proc = start_interceptor(identity_seed=seed, mcp_url=mcp_url, config=config, var_dir=var_dir, host=host,
                                      port=port, redis_url=redis_url, redis_prefix=redis_prefix, quiet=quiet)
        procs.append(proc)
        yield Stack(interceptor_url=url, mcp_url=mcp_url, var_dir=var_dir, identity_seed=seed)
    finally:
        stop_processes(list(reversed(procs)))


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)  # unwinds run_stack, which stops both services


def config_problem(config: str) -> str | None:
    """Why the interceptor could not read this YAML config file, or None if it can.

    The interceptor itself starts without a readable store and fails closed per
    request (a database may come back); a file that is missing or invalid on a
    laptop is a mistake to report before anything starts.
    """
    from interceptor.config import ConfigStoreError, YamlConfigStore

    try:
        asyncio.run(YamlConfigStore(config).list_projects())
    except ConfigStoreError as exc:
        return exc.message
    return None


def _config_file(args: argparse.Namespace) -> str:
    """--config, else SENTINEL_CONFIG (read through the store settings, as the interceptor reads it), else the demo config."""
    if args.config:
        return str(args.config)
    from interceptor.config import settings_from_env

    settings = settings_from_env()
    return str(settings.config_path) if "config_path" in settings.model_fields_set else str(DEMO_CONFIG)


def _up(args: argparse.Namespace) -> int:
    from interceptor.config import ConfigStoreError

    try:
        config = _config_file(args)
    except ConfigStoreError as exc:
        print(f"sentinel up: not starting: {exc.message}", file=sys.stderr)
        return 2
    problem = config_problem(config)
    if problem is not None:
        print(f"sentinel up: not starting: {problem}", file=sys.stderr)
        return 2
    var_dir = Path(args.var_dir).resolve()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with run_stack(config=config, var_dir=var_dir, host=args.host, port=args.port, mcp_port=args.mcp_port, quiet=False) as stack:
        print(f"Sentinel is up.\n  interceptor (agents connect here): {stack.interceptor_url}\n"
              f"  tool server (reachable by the interceptor only in production): {stack.mcp_url}\n"
              f"  audit logs and tool data: {var_dir}\n"
              f"  demo API key: {DEMO_API_KEY}\nPress Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0

"""What ``sentinel approvals`` and ``sentinel sessions`` share: one request to the interceptor's admin API.

The admin key comes from ``SENTINEL_ADMIN_KEY`` (never a flag: flags show in
``ps``), the interceptor from ``--url`` or ``SENTINEL_URL``. A refusal is one
line on stderr (exit status 1); what was never sent, 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"


def add_connection_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--url", default=os.environ.get("SENTINEL_URL", DEFAULT_URL),
                         help="the interceptor (default: $SENTINEL_URL or %(default)s)")
    command.add_argument("--json", action="store_true", help="print the API's JSON answer")


def admin_request(
    prog: str, url: str, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
) -> tuple[int, Any]:
    """(0, the answer), or (exit status, None) once the problem is printed."""
    import httpx

    key = os.environ.get("SENTINEL_ADMIN_KEY", "").strip()
    if not key:
        print(f"{prog}: set SENTINEL_ADMIN_KEY to your admin key (`sentinel keys admin --name NAME`)", file=sys.stderr)
        return 2, None
    try:
        with httpx.Client(base_url=url, timeout=15) as client:
            response = client.request(method, path, params=params, json=body,
                                      headers={"Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        print(f"{prog}: cannot reach the interceptor at {url} ({type(exc).__name__})", file=sys.stderr)
        return 2, None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code not in (200, 201):
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        print(f"{prog}: {error.get('message', f'HTTP {response.status_code}')} "
              f"({error.get('code', response.status_code)})", file=sys.stderr)
        return 1, None
    return 0, answer


def print_json(answer: Any) -> None:
    print(json.dumps(answer, indent=2, ensure_ascii=False))


def printable(text: str) -> str:
    """Caller-chosen text on one printable line."""
    return text.encode("ascii", "backslashreplace").decode()

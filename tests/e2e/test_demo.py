"""`sentinel demo` and `sentinel up`, run as a newcomer would run them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel_cli.run import DEMO_API_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_the_table_and_blocks_every_injected_write():
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Sentinel demo" in out
    assert "Honest steps allowed: 5/5" in out
    assert "every injected write: blocked" in out
    # each injected write appears as a denied row with the rule that stopped it
    for tool in ("send_email", "transfer_funds", "delete_file"):
        assert re.search(rf"{tool}\s+│ deny", out), f"{tool} not shown as denied"
    # the same policy through a stock MCP client at /mcp: the injected mail's write is refused there too
    mcp_part = out[out.index("from a stock MCP client"):]
    assert re.search(r"injection\s+│ send_email\s+│ deny\s+│ CHECK_TAINT:send_email", mcp_part), mcp_part
    assert re.search(r"user\s+│ read_inbox\s+│ allow", mcp_part), mcp_part


def test_demo_is_the_workday_scenario_of_the_experiments():
    from sentinel_agent.experiments import scenario_ids
    from sentinel_cli.demo import SCENARIO

    assert SCENARIO in scenario_ids()


def test_demo_exits_non_zero_when_an_injected_write_gets_through(tmp_path):
    from sentinel_agent.experiments import resolve_policy

    unprotected = resolve_policy("baseline").write_config(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel_cli", "demo", "--config", str(unprotected)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "every injected write: NOT blocked" in proc.stdout
    assert "the injected send_email was allowed" in proc.stderr and "compromised" in proc.stderr
    assert "Audit trails:" in proc.stdout  # kept, to look at what happened


def test_up_serves_until_stopped_and_takes_both_services_down(tmp_path):
    import signal

    import httpx

    from sentinel_cli.run import free_port

    port, mcp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel_cli", "up", "--port", str(port), "--mcp-port", str(mcp_port), "--var-dir", str(tmp_path),
         "--config", "examples/sentinel.yaml"],  # no default config any more: the demo's, named (see test_init.py)
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        seen = []
        for line in proc.stdout:  # `up` announces itself once both services are healthy
            seen.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        assert any("Sentinel is up" in line for line in seen), "".join(seen)
        assert any(f"demo API key: {DEMO_API_KEY}" in line for line in seen), "".join(seen)
        answer = httpx.post(f"http://127.0.0.1:{port}/session/start", headers={"X-Sentinel-Key": DEMO_API_KEY}, timeout=5)
        assert answer.status_code == 200 and answer.json()["session_id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    for used in (port, mcp_port):  # both services are gone: nothing listens any more
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{used}/healthz", timeout=1)

"""Every command of docs/mcp-gateway.md runs, in order, in one scratch folder; every upstreams file in it loads.

One-shot blocks run as they are (``export`` carries over from block to block,
as in one terminal). A block that serves (``sentinel serve mcp`` without
``--list-tools``) runs on a free port until the test has registered a session
with the identity key the guide made and had a signed call answered by the
upstream behind it; then it is stopped.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port

from mcp_server.sources import load_upstreams
from sentinel_contract import load_signing_key, sign_call, sign_registration

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "mcp-gateway.md"
# Each block starts from the variables the blocks before it exported, and saves its own.
STATE = 'if [ -f .exports ]; then . ./.exports; fi\n{block}\nexport -p > .exports\n'


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def _serves(block: str) -> bool:
    return block.lstrip().startswith("sentinel serve mcp") and "--list-tools" not in block


def test_the_guide_has_commands_and_serves_once():
    blocks = _blocks("bash")
    assert len(blocks) >= 5 and sum(_serves(block) for block in blocks) == 1


def test_every_upstreams_file_in_the_guide_loads(tmp_path):
    for index, text in enumerate(_blocks("yaml")):
        path = tmp_path / f"upstreams-{index}.yaml"
        path.write_text(text)
        names = set(re.findall(r"\$\{([A-Z_]+)\}", text))
        assert load_upstreams(path, dict.fromkeys(names, "x" * 12)), text


def test_every_command_of_the_guide_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for block in _blocks("bash"):
        if _serves(block):
            _serve_and_call(block, tmp_path, env)
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", STATE.format(block=block)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, f"block failed:\n{block}\n{proc.stdout}\n{proc.stderr}"
        if "|| echo" in block:  # the failure it shows is the one the guide describes
            assert "exit status 2" in proc.stdout and "expected package.module:attribute" in proc.stderr
        if "--tools mytools:registry" in block:
            assert '"name": "order_status"' in proc.stdout and '"name": "time__get_current_time"' in proc.stdout
    assert (tmp_path / "classified.json").exists()
    assert (tmp_path / "pins.yaml").read_text().count("definition_sha256:") == 2  # "Pin tool definitions"


def _serve_and_call(block: str, root: Path, env: dict[str, str]) -> None:
    port = free_port()
    command = STATE.format(block="exec " + block.strip().replace("--port 9000", f"--port {port}"))
    log = root / "serve.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(["bash", "-eu", "-c", command], cwd=root, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the served block did not start:\n{block}\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        identity_line = next(line for line in (root / "identity.env").read_text().splitlines()
                             if line.startswith("SENTINEL_IDENTITY_KEY="))
        identity, session = load_signing_key(identity_line.partition("=")[2]), load_signing_key(os.urandom(32))
        registration = sign_registration(identity.private, iss="sentinel-interceptor", aud="sentinel-mcp", sid="s-doc",
                                         public_key=session.public_b64, exp=int(time.time()) + 300)
        arguments = {"timezone": "Europe/Paris"}
        token, _ = sign_call(session.private, iss="sentinel-interceptor", aud="sentinel-mcp", sid="s-doc",
                             tool="time__get_current_time", arguments=arguments)
        with httpx.Client(base_url=base, timeout=15) as client:
            assert client.post("/sessions", json={"token": registration}).status_code == 201
            answer = client.post("/rpc", headers={"authorization": f"Bearer {token}"}, json={
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "time__get_current_time", "arguments": arguments}}).json()
        assert answer["result"]["structuredContent"]["timezone"] == "Europe/Paris", answer
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)

"""docs/breakglass.md on the real processes with Redis: its policy, commands and review."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sentinel_cli.breakglass import REASON_CODES
from sentinel_cli.run import run_stack
from sentinel_policy import REASON_CODES as POLICY_REASON_CODES
from tests.conftest import REDIS_URL, delete_keys
from tests.e2e.test_approvals_guide import shell

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "breakglass.md").read_text()
AGENT = {"X-Sentinel-Key": "sk-sentinel-demo"}
MAIL = {"tool": "send_email", "arguments": {"to": "ops@corp.example", "subject": "outage", "body": "report"}}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    made = shell("sentinel keys admin --name oncall-1 > oncall.key", tmp_path)
    entry = made.stderr.strip().rpartition(" ")[2]
    config = yaml.safe_load((ROOT / "examples" / "sentinel.yaml").read_text())
    config["projects"][0]["policies"] = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", GUIDE, flags=re.S)[0])[
        "policies"]
    (tmp_path / "sentinel.yaml").write_text(yaml.safe_dump(config))
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        with run_stack(config=str(tmp_path / "sentinel.yaml"), var_dir=tmp_path / "var", redis_url=REDIS_URL,
                       redis_prefix=prefix, interceptor_env={"SENTINEL_ADMIN_KEYS": entry}) as running:
            yield running, tmp_path
    finally:
        delete_keys(prefix)


def test_the_guides_break_glass_lets_the_mail_through_until_closed(stack: tuple[Any, Path]) -> None:
    running, root = stack
    url = running.interceptor_url
    sid = httpx.post(f"{url}/session/start", headers=AGENT).json()["session_id"]
    httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json={"tool": "read_inbox", "arguments": {}})
    assert httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json=MAIL).status_code == 403
    opening, review = re.findall(r"```bash\n(.*?)```", GUIDE, flags=re.S)
    opened = shell(opening, root, SENTINEL_URL=url, SESSION_ID=sid)
    assert opened.returncode == 0, opened.stderr
    grant = opened.stdout.split()[0]
    through = httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json=MAIL)
    assert through.status_code == 200 and through.json()["decision"]["rule"] == f"breakglass:{grant}"
    reviewed = shell(review, root, SENTINEL_URL=url, BREAKGLASS_ID=grant,
                     SENTINEL_ADMIN_KEY=(root / "oncall.key").read_text().strip())
    assert reviewed.returncode == 0, reviewed.stderr
    listed, closed = reviewed.stdout.splitlines()
    assert listed.startswith(f"{grant}  open") and "INC-4711" in listed and closed.startswith(f"{grant}  closed")
    assert httpx.post(f"{url}/session/{sid}/call", headers=AGENT, json=MAIL).status_code == 403
    outbox = (running.var_dir / "mcp-data" / "outbox.jsonl").read_text().splitlines()
    assert len(outbox) == 1
    env = {"SENTINEL_URL": url, "SENTINEL_ADMIN_KEY": (root / "oncall.key").read_text().strip()}
    refused = shell(f'sentinel breakglass open --project demo --session "{sid}" --reason-code incident '
                    '--justification "" --minutes 5', root, **env)
    assert refused.returncode == 1 and "justification_required" in refused.stderr
    shown = shell(f"sentinel audit show --session {sid} --decisions var/interceptor-audit.jsonl", root)
    assert f"breakglass:{grant}" in shown.stdout


def test_the_cli_offers_the_policys_reason_codes() -> None:
    assert REASON_CODES == POLICY_REASON_CODES

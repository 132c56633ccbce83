"""docs/limits.md: its policy compiles and does what the page says (in-process, memory store)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from interceptor.config import Project
from interceptor.testing import StaticConfigStore, api_key_hash, running_interceptor

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text()
KEY = "sk-limits-0123456789"
TOOLS = [{"name": "send_email", "class": "CONSEQUENTIAL_WRITE"}, {"name": "read_inbox", "class": "UNTRUSTED_READ"}]


async def test_the_guides_policy_limits_mail_per_session(tmp_path: Path) -> None:
    policies = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", GUIDE, flags=re.S)[0])["policies"]
    store = StaticConfigStore([Project("demo", api_key_hash(KEY), TOOLS, policies, 1)])
    async with running_interceptor(store, audit_log=tmp_path / "audit.jsonl") as harness:
        sid = await harness.start(KEY)
        mail = [(await harness.call(KEY, sid, "send_email", {"to": "a@b.c"})).status_code for _ in range(6)]
        assert mail == [200] * 5 + [429]
        assert (await harness.call(KEY, sid, "read_inbox")).status_code == 200
        fresh = await harness.start(KEY)  # per session: a new session has its own budget
        assert (await harness.call(KEY, fresh, "send_email", {"to": "a@b.c"})).status_code == 200

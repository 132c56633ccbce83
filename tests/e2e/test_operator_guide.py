"""Every `bash` block of docs/operator-guide.md runs, in order, in one scratch folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operator-guide.md"


def test_operator_guide_commands_work(tmp_path):
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) >= 4
    shutil.copy(ROOT / "examples" / "sentinel.yaml", tmp_path / "sentinel.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SENTINEL_CONFIG"] = str(tmp_path / "sentinel.yaml")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # never the machine's own ~/.config
    for block in blocks:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"block failed:\n{block}\n{proc.stdout}\n{proc.stderr}"
        if "policy explain" in block:  # it exits 0 for a deny too: check what it says
            assert "send_email: deny by CHECK_TAINT:send_email" in proc.stdout, proc.stdout
    # the rotation really replaced the key: only the newest one is in acme.key, and it is not in the file
    key = (tmp_path / "acme.key").read_text().strip()
    assert key and key not in (tmp_path / "sentinel.yaml").read_text()
    # the mistyped rotation created nothing, and the refused push left the demo's tools in place
    import yaml

    projects = yaml.safe_load((tmp_path / "sentinel.yaml").read_text())["projects"]
    assert [p["name"] for p in projects] == ["demo", "acme"]
    assert len(projects[0]["tools"]) == 8
    assert (tmp_path / "my-sentinel.yaml").is_file() and not (tmp_path / "xdg").exists()
    # agent-bound keys: the rotated triage key is acme's only agent key; the release bot's was revoked
    import hashlib

    triage = (tmp_path / "triage.key").read_text().strip()
    assert projects[1]["agent_keys"] == {hashlib.sha256(triage.encode()).hexdigest(): "triage-bot"}

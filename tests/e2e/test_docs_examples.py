"""Every Python example in the README and the docs runs, as a script, against a live stack.

The examples talk to the interceptor at http://localhost:8000 or
http://127.0.0.1:8000 with the demo key; the test points them at a stack it
started on a free port (embedded defaults: YAML config, in-process state).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel_cli.run import run_stack

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "docs" / "sdk.md", ROOT / "docs" / "config-stores.md"]
EXAMPLES = [
    (doc, index, code)
    for doc in DOCS
    for index, code in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S))
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path_factory.mktemp("stack")) as running:
        yield running


def test_the_docs_have_examples():
    assert {doc.name for doc, _, _ in EXAMPLES} == {doc.name for doc in DOCS}


@pytest.mark.parametrize(("doc", "index", "code"), EXAMPLES, ids=[f"{d.name}-{i}" for d, i, _ in EXAMPLES])
def test_example_runs(stack, doc, index, code, tmp_path):
    for written in ("http://localhost:8000", "http://127.0.0.1:8000"):
        code = code.replace(written, stack.interceptor_url)
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_"))}
    env |= {"SENTINEL_CONFIG": str(ROOT / "examples" / "sentinel.yaml"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 0, f"{doc.name} example {index}:\n{code}\n{proc.stderr}"
    if "PolicyDenied" in code or 'on_denied="message"' in code:
        # the examples that show a blocked call really show one
        assert "blocked" in proc.stdout.lower() or "CHECK_TAINT" in proc.stdout or "no-exfil" in proc.stdout, proc.stdout

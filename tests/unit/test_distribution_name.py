"""The name users install is ours: every install command in the docs names this project.

The docs once said ``pip install 'sentinel-gateway[sdk]'``, a name that on the
public index belongs to an unrelated project (another author, its own
``sentinel`` command): following them installed someone else's code.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
# pip install <target>: a quoted or bare target, up to the extras or the end.
INSTALL = re.compile(r"pip install\s+(?:-[-\w=]+\s+)*['\"]?([^\s'\"\[]+)")
# What the docs may install besides this project: a path to a clone, or third-party tools by their own names.
THIRD_PARTY = {"uv", "torch"}


def _doc_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.md"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).exists() and "benchmarks/" not in name]


def test_the_distribution_name_is_not_the_unrelated_projects() -> None:
    assert NAME == "sentinel-tool-gateway"


def test_every_documented_install_names_this_project_or_a_local_path() -> None:
    wrong = []
    for path in _doc_files():
        for target in INSTALL.findall(path.read_text("utf-8")):
            if target.startswith((".", "/", "-")) or target in THIRD_PARTY or target == NAME:
                continue
            wrong.append(f"{path.relative_to(ROOT)}: pip install {target}")
    assert wrong == []


def test_the_sdk_install_is_documented() -> None:
    sdk = (ROOT / "docs" / "sdk.md").read_text("utf-8")
    assert "[sdk]'" in sdk and NAME in sdk

"""docs/threat-model.md names, for every defence, the tests that hold it: they must exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "threat-model.md").read_text()
SECTION = DOC.split("## Attacks and the defence against each", 1)[1].split("\n## ", 1)[0]
ROWS = [line for line in SECTION.splitlines() if line.startswith("| ") and not line.startswith(("| attack", "|---"))]


def _where(row: str) -> str:
    return row.rstrip(" |").rsplit(" | ", 1)[1]


def test_every_defence_names_where_it_is_tested() -> None:
    assert len(ROWS) >= 15
    for row in ROWS:
        assert re.search(r"`[a-z0-9]+/test_[\w*]+(\.py)?`", _where(row)), row


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.split(" | ")[0][2:50])
def test_the_named_test_files_and_tests_exist(row: str) -> None:
    where = _where(row)
    files: list[Path] = []
    for pattern in re.findall(r"`([a-z0-9]+/test_[\w*]+(?:\.py)?)`", where):
        found = sorted((ROOT / "tests").glob(pattern if pattern.endswith(".py") else pattern + ".py"))
        assert found, f"no test file matches {pattern}"
        files += found
    source = "\n".join(path.read_text() for path in files)
    for name in re.findall(r"`(test_[\w*]+)`", where):
        definition = "def " + name.replace("*", r"\w*") + r"\("
        assert re.search(definition, source), f"{name} is not in {where}"

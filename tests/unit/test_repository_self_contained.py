"""A clone of the repository is all the tests, benches and docs need: no path leads out of it to a sibling data folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sentinel_cli.policy import read_jsonl
from tests.conftest import AGENTDOJO

ROOT = Path(__file__).resolve().parents[2]
# At least the product packages, tests, bench, docs, Makefile, .ci and scripts; in fact every tracked file.
SCANNED = (".",)
# Built from parts so that this file does not name what it looks for.
SIBLING = "shared"
NEEDLES = ("../" + SIBLING, SIBLING + "/eval", f'"{SIBLING}" / "eval"', f"'{SIBLING}' / 'eval'")
SUITES = ("workspace", "slack")
PHRASINGS = ("direct", "ignore_previous", "system_message", "goal_plain")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z", "--", *SCANNED], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in filter(None, names.decode().split("\0")):
        path = ROOT / name
        if not path.is_file():  # deleted in the working tree
            continue
        data = path.read_bytes()
        if b"\0" not in data[:8192]:
            files.append(path)
    return files


def test_no_tracked_file_points_outside_the_repository_for_its_data() -> None:
    files = tracked_text_files()
    assert len(files) > 100  # git answered, and the scan saw the tree
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if any(needle in line for needle in NEEDLES)
    ]
    assert offenders == []


def test_the_benchmark_files_are_all_there() -> None:
    expected = {"README.md", "score.py"}
    for suite in SUITES:
        expected |= {f"{suite}.jsonl.gz", f"tools_{suite}.json", f"labels_{suite}.json"}
        expected |= {f"variants/{suite}__{phrasing}.jsonl.gz" for phrasing in PHRASINGS}
    assert expected <= {p.relative_to(AGENTDOJO).as_posix() for p in AGENTDOJO.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", [f"{s}.jsonl.gz" for s in SUITES] + [f"variants/{s}__{p}.jsonl.gz" for s in SUITES for p in PHRASINGS])
def test_every_trace_file_parses_and_each_trace_has_id_request_and_calls(name: str) -> None:
    traces = read_jsonl(AGENTDOJO / name)
    assert traces
    for trace in traces:
        assert isinstance(trace["id"], str) and trace["id"]
        assert isinstance(trace["request"], str) and trace["request"]
        assert isinstance(trace["calls"], list) and trace["calls"]
        assert all(isinstance(c["tool"], str) and isinstance(c["args"], dict) and "output" in c for c in trace["calls"])


@pytest.mark.parametrize("suite", SUITES)
def test_tools_and_labels_parse_and_name_the_same_tools(suite: str) -> None:
    tools = json.loads((AGENTDOJO / f"tools_{suite}.json").read_text())
    labels = json.loads((AGENTDOJO / f"labels_{suite}.json").read_text())
    assert {t["name"] for t in tools} == set(labels)
    assert all(label["class"] for label in labels.values())

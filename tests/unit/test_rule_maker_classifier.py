"""The offline classifier and the ``classify`` command, as a user sees them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rule_maker import CatalogueError, OfflineClassifier, SecurityClass
from rule_maker._catalogue import annotate, parse_tools
from rule_maker._cli import main
from tests.conftest import AGENTDOJO as EVAL

ROOT = Path(__file__).resolve().parents[2]


def _suite(name: str) -> tuple[list[dict], dict]:
    return json.loads((EVAL / f"tools_{name}.json").read_text()), json.loads((EVAL / f"labels_{name}.json").read_text())


@pytest.mark.parametrize("suite", ["slack", "workspace"])
def test_offline_accuracy_on_shared_labels_is_at_least_95_percent(suite: str) -> None:
    tools, labels = _suite(suite)
    classifier = OfflineClassifier()
    right = sum(classifier.classify(t).security_class.value == labels[t["name"]]["class"] for t in tools)
    assert right / len(tools) >= 0.95


def test_same_input_gives_same_answer() -> None:
    tools, _ = _suite("workspace")
    first = [OfflineClassifier().classify(t) for t in tools]
    second = [OfflineClassifier().classify(t) for t in tools]
    assert first == second


def test_original_single_tool_form_prints_one_classified_tool(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["classify", "send_email", "Sends email to recipient"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "send_email"
    assert out["class"] == "CONSEQUENTIAL_WRITE"
    assert 0 < out["confidence"] <= 1 and out["rationale"]


def test_catalogue_keeps_every_input_field_and_adds_the_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tools, _ = _suite("slack")
    out = tmp_path / "classified.json"
    assert main(["classify", "--tools", str(EVAL / "tools_slack.json"), "--offline", "--out", str(out)]) == 0
    classified = json.loads(out.read_text())
    assert [t["name"] for t in classified] == [t["name"] for t in tools]
    for before, after in zip(tools, classified, strict=True):
        assert {k: after[k] for k in before} == before
        assert after["class"] in {c.value for c in SecurityClass}
        assert isinstance(after["needs_review"], bool) and after["rationale"]
    assert "needs review" in capsys.readouterr().err


def test_tool_with_no_known_words_is_flagged_for_review() -> None:
    result = OfflineClassifier().classify({"name": "zorblax", "description": "Frobnicates the quux."})
    assert result.needs_review


def test_mcp_input_schema_shape_is_read() -> None:
    tool = {"name": "notify", "description": "Deliver a notice.", "inputSchema": {"type": "object", "properties": {"recipients": {"type": "array"}}}}
    assert OfflineClassifier().classify(tool).security_class is SecurityClass.CONSEQUENTIAL_WRITE


def test_malformed_catalogue_lists_every_problem() -> None:
    with pytest.raises(CatalogueError) as err:
        parse_tools([{"name": "a"}, {"description": "no name"}, "text", {"name": "a"}])
    assert err.value.code == "catalogue_invalid"
    assert "[1]" in str(err.value) and "[2]" in str(err.value) and "duplicate" in str(err.value)


def test_bad_catalogue_file_exits_2_with_the_error_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "tools.json"
    bad.write_text("{not json")
    assert main(["classify", "--tools", str(bad), "--offline"]) == 2
    assert "catalogue_invalid" in capsys.readouterr().err


def test_annotate_adds_fields_in_input_order() -> None:
    tools = [{"name": "get_current_time", "description": "Returns the time."}, {"name": "delete_note", "description": "Deletes a note."}]
    results = [OfflineClassifier().classify(t) for t in reversed(tools)]
    assert [t["class"] for t in annotate(tools, results)] == ["SAFE_READ", "CONSEQUENTIAL_WRITE"]


def test_python_dash_m_rule_maker_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rule_maker", "classify", "get_webpage", "Returns the content of a web page", "--offline"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["class"] == "UNTRUSTED_READ"


def test_importing_rule_maker_does_not_load_the_llm_client_or_yaml() -> None:
    code = "import sys, rule_maker; print('httpx' in sys.modules, 'yaml' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_sentinel_cli_has_the_tools_push_command() -> None:
    from sentinel_cli import build_parser

    args = build_parser().parse_args(["tools", "push", "--project", "p", "--tools", "t.json"])
    assert args.project == "p" and callable(args.handler)

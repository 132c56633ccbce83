"""The LLM classifier against a local stub of the OpenAI chat completions API.

No external endpoint is reachable here, so the stub plays the model: good answers,
malformed ones, HTTP failures, and an unreachable port.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import free_port

from rule_maker import SecurityClass
from rule_maker._llm import LLMClassifier, LLMSettings

ROOT = Path(__file__).resolve().parents[2]
SEND = {"name": "send_email", "description": "Sends an email.", "parameters": {"type": "object", "properties": {"recipients": {"type": "array"}}}}
TIME = {"name": "get_current_time", "description": "Returns the current time."}


def completion(content: str) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}


def answer(cls: str, confidence: float = 0.9, rationale: str = "because") -> dict[str, Any]:
    return completion(json.dumps({"class": cls, "confidence": confidence, "rationale": rationale}))


class StubModel:
    """A tiny ASGI app speaking POST /chat/completions; answers from a script, then repeats the last."""

    def __init__(self, *script: tuple[int, Any]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        if scope["path"] != "/v1/chat/completions":
            status, payload = 404, {"error": "not found"}
        else:
            self.requests.append(json.loads(body))
            status, payload = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})


SETTINGS = LLMSettings(base_url="http://stub/v1", model="stub-model", api_key="sk-test-secret-123")


def classifier(stub: StubModel, **kw: Any) -> LLMClassifier:
    return LLMClassifier(SETTINGS, transport=httpx.ASGITransport(app=stub), backoff=0, **kw)


async def test_valid_answer_is_used_and_request_is_structured() -> None:
    stub = StubModel((200, answer("CONSEQUENTIAL_WRITE", 0.95, "sends mail to anyone")))
    [result] = await classifier(stub).classify_many([SEND])
    assert result.security_class is SecurityClass.CONSEQUENTIAL_WRITE
    assert result.source == "llm" and result.confidence == 0.95 and not result.needs_review
    request = stub.requests[0]
    assert request["model"] == "stub-model"
    schema = request["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]["class"]["enum"]) == {c.value for c in SecurityClass}
    assert "send_email" in request["messages"][-1]["content"]
    assert stub.headers[0]["authorization"] == "Bearer sk-test-secret-123"


@pytest.mark.parametrize(
    "bad",
    [
        completion("I think it is a write."),
        completion(json.dumps({"class": "DANGEROUS", "confidence": 0.9, "rationale": "x"})),
        completion(json.dumps({"class": "SAFE_READ", "confidence": 7, "rationale": "x"})),
        completion(json.dumps({"class": "SAFE_READ", "confidence": 0.9})),
        {"choices": []},
        b"<html>gateway error</html>",
    ],
    ids=["prose", "unknown-class", "confidence-out-of-range", "no-rationale", "no-choices", "not-json"],
)
async def test_malformed_answer_is_retried_then_the_good_one_used(bad: Any) -> None:
    stub = StubModel((200, bad), (200, answer("SAFE_READ")))
    [result] = await classifier(stub, retries=2).classify_many([TIME])
    assert result.source == "llm" and result.security_class is SecurityClass.SAFE_READ
    assert len(stub.requests) == 2


async def test_answer_in_a_markdown_fence_is_accepted() -> None:
    fenced = completion('```json\n{"class": "SAFE_READ", "confidence": 0.8, "rationale": "clock"}\n```')
    [result] = await classifier(StubModel((200, fenced))).classify_many([TIME])
    assert result.source == "llm" and result.security_class is SecurityClass.SAFE_READ


async def test_endpoint_failing_every_time_falls_back_to_offline() -> None:
    stub = StubModel((500, {"error": "overloaded"}))
    [result] = await classifier(stub, retries=2).classify_many([SEND])
    assert len(stub.requests) == 3  # one try and two retries
    assert result.source == "offline-fallback"
    assert result.security_class is SecurityClass.CONSEQUENTIAL_WRITE
    assert "HTTP 500" in result.rationale and "sk-test" not in result.rationale


async def test_rate_limited_then_recovers() -> None:
    stub = StubModel((429, {"error": "slow down"}), (200, answer("CONSEQUENTIAL_WRITE")))
    [result] = await classifier(stub).classify_many([SEND])
    assert result.source == "llm"


async def test_unreachable_endpoint_falls_back_to_offline() -> None:
    settings = LLMSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", api_key="k")
    [result] = await LLMClassifier(settings, retries=1, backoff=0, timeout=2).classify_many([TIME])
    assert result.source == "offline-fallback" and result.security_class is SecurityClass.SAFE_READ
    assert "llm_unavailable" in result.rationale


async def test_disagreement_with_the_offline_classifier_needs_review() -> None:
    stub = StubModel((200, answer("INTERNAL_WRITE", 0.99)))
    [result] = await classifier(stub).classify_many([SEND])
    assert result.security_class is SecurityClass.INTERNAL_WRITE
    assert result.needs_review and "CONSEQUENTIAL_WRITE" in result.rationale


def test_settings_from_environment() -> None:
    assert LLMSettings.from_env({}) is None
    router = LLMSettings.from_env({"OPENROUTER_API_KEY": "k", "OPENROUTER_MODEL": "a/b"})
    assert router is not None and router.base_url == "https://openrouter.ai/api/v1" and router.model == "a/b"
    openai = LLMSettings.from_env({"OPENAI_BASE_URL": "http://h/v1", "OPENAI_API_KEY": "k2"})
    assert openai is not None and openai.base_url == "http://h/v1"
    assert "k2" not in repr(openai)


@pytest.fixture
def stub_server() -> Iterator[tuple[str, StubModel]]:
    stub = StubModel((200, answer("CONSEQUENTIAL_WRITE", 0.9, "it sends")))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(stub, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1", stub
    server.should_exit = True
    thread.join(5)


def test_cli_uses_the_configured_endpoint_over_real_http(stub_server: tuple[str, StubModel], tmp_path: Path) -> None:
    url, stub = stub_server
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([SEND]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "OPENAI_"))}
    env.update(OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-cli-secret", OPENAI_MODEL="stub")
    done = subprocess.run([sys.executable, "-m", "rule_maker", "classify", "--tools", str(tools)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [tool] = json.loads(done.stdout)
    assert tool["classified_by"] == "llm" and tool["class"] == "CONSEQUENTIAL_WRITE"
    assert "sk-cli-secret" not in done.stdout + done.stderr
    # --offline never calls the endpoint
    before = len(stub.requests)
    done = subprocess.run([sys.executable, "-m", "rule_maker", "classify", "--tools", str(tools), "--offline"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)[0]["classified_by"] == "offline"
    assert len(stub.requests) == before


def test_classify_many_runs_calls_concurrently() -> None:
    stub = StubModel((200, answer("SAFE_READ")))
    tools = [{"name": f"get_time_{i}", "description": "Returns the time."} for i in range(8)]
    results = asyncio.run(classifier(stub, concurrency=4).classify_many(tools))
    assert [r.tool for r in results] == [t["name"] for t in tools]


async def test_endpoint_without_structured_output_is_asked_again_without_it() -> None:
    stub = StubModel((400, {"error": "response_format json_schema is not supported"}), (200, answer("SAFE_READ")))
    [result] = await classifier(stub).classify_many([TIME])
    assert result.source == "llm"
    assert "response_format" in stub.requests[0] and "response_format" not in stub.requests[1]

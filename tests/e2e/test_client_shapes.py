"""Requests shaped as the clients' own code builds them, through a real gateway process to the emulator.

Sources, pinned:
- Qoder CLI, npm `@qoder-ai/qodercli` 1.1.52, `bundle/qodercli.js` (minified; functions named as in that build):
  `d4i` builds the Responses URL `{baseUrl}/responses` (nothing added to a base ending in `/v1`); `Vmn` builds
  the body `{model, input, stream: true, store: false, include: ["reasoning.encrypted_content"], tools,
  max_output_tokens, reasoning: {effort, summary: "auto"}, prompt_cache_key: <session id>}` with the system
  prompt as a message item in `input`; `Qjc`/`Gmn` build the chat URL `{baseUrl}/chat/completions` and body
  `{model, messages, stream: true, stream_options: {include_usage: true}, tools, max_tokens}` (`maxTokensField`
  defaults to `max_tokens`); `B2e` sends `authType: "api-key"` as `x-api-key: <key>`, otherwise
  `Authorization: Bearer <key>`; `u4i` replays reasoning items with `id` and `encrypted_content`. The default
  output maximum is 32000 (`AK=32e3`).
- Roo-Code v3.52.1 (snapshot cb836567): `src/api/providers/openai-native.ts` (Responses body with
  `max_output_tokens: 128000`; with a base URL ending in `/` its fetch fallback posts `{base}/v1/responses`,
  i.e. `//v1/responses`); `src/api/providers/openai.ts` with "Use Azure" (openai-node `AzureOpenAI`:
  `POST {base}/deployments/{model}/chat/completions?api-version=...` with an `api-key` header).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from aigateway.launcher import GatewayProcess
from tests.helpers import TEAM_A_KEY, Emulator, request_lines

pytestmark = pytest.mark.e2e

CODEX = "gpt-5.3-codex"
EMBED = "text-embedding-3-small"
QODER_SESSION = "6f1c2f0e-2b1e-4d7a-9a57-1b2f3c4d5e6f"
AUTH = {"bearer": {"authorization": f"Bearer {TEAM_A_KEY}"}, "x-api-key": {"x-api-key": TEAM_A_KEY}}


def sse_data(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ") and line != "data: [DONE]"]


def upstream_requests(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"].startswith("/openai/")]


def qoder_headers(auth: str) -> dict[str, str]:
    return {
        **AUTH[auth],
        "accept": "text/event-stream",
        "content-type": "application/json",
        "session-id": QODER_SESSION,
    }


def qoder_responses_body(input_items: list[dict[str, Any]]) -> dict[str, Any]:
    """`Vmn` in qodercli 1.1.52, provider protocol `openai-responses`, effort `medium`."""
    return {
        "model": CODEX,
        "input": [
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "You are Qoder."}]},
            *input_items,
        ],
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "tools": [
            {
                "type": "function",
                "name": "read_file",
                "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
            }
        ],
        "max_output_tokens": 32000,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "prompt_cache_key": QODER_SESSION,
    }


def qoder_chat_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """`Gmn` in qodercli 1.1.52, provider protocol `openai`: system content as text parts."""
    return {
        "model": CODEX,
        "messages": [{"role": "system", "content": [{"type": "text", "text": "You are Qoder."}]}, *messages],
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "read_file",
                    "description": "Read a file",
                    "parameters": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}},
                        "required": ["path"],
                    },
                },
            }
        ],
        "max_tokens": 32000,
    }


def completed(response: httpx.Response) -> dict[str, Any]:
    """The `response.completed` event's response, after checking the stream ends with it."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response.text)
    assert events[-1]["type"] == "response.completed", [e["type"] for e in events][-3:]
    usage = events[-1]["response"]["usage"]
    assert isinstance(usage["input_tokens"], int) and isinstance(usage["output_tokens"], int)
    assert isinstance(usage["total_tokens"], int)
    return dict(events[-1]["response"])


@pytest.mark.parametrize("auth", ["bearer", "x-api-key"])
def test_qoder_responses_tool_round_trip(gateway: GatewayProcess, emulator: Emulator, auth: str) -> None:
    """Before x-api-key was a credential header, the x-api-key case was a 401."""
    base_url = gateway.url + "/v1"  # Qoder's baseUrl ends in /v1; it appends only /responses
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Read [[call:read_file]]"}]}
    first = completed(
        httpx.post(base_url + "/responses", headers=qoder_headers(auth), json=qoder_responses_body([user]), timeout=60)
    )
    reasoning = next(item for item in first["output"] if item["type"] == "reasoning")
    call = next(item for item in first["output"] if item["type"] == "function_call")
    assert reasoning["encrypted_content"] and call["name"] == "read_file"

    replay = [
        user,
        {
            "type": "reasoning",
            "id": reasoning["id"],
            "summary": [],
            "encrypted_content": reasoning["encrypted_content"],
        },
        {"type": "function_call", "call_id": call["call_id"], "name": call["name"], "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "print('hi')"},
    ]
    second = completed(
        httpx.post(base_url + "/responses", headers=qoder_headers(auth), json=qoder_responses_body(replay), timeout=60)
    )
    assert any(item["type"] == "message" for item in second["output"])

    sent = upstream_requests(emulator)[-1]["body"]
    assert sent["store"] is False and sent["prompt_cache_key"] == QODER_SESSION
    assert sent["input"][2]["encrypted_content"] == reasoning["encrypted_content"]
    assert sent["input"][4] == replay[3]
    assert sent["max_output_tokens"] == 32000  # at the default ceiling: unchanged


@pytest.mark.parametrize("auth", ["bearer", "x-api-key"])
def test_qoder_chat_tool_round_trip(gateway: GatewayProcess, emulator: Emulator, auth: str) -> None:
    base_url = gateway.url + "/v1"
    ask = {"role": "user", "content": "Read [[call:read_file]]"}
    response = httpx.post(
        base_url + "/chat/completions", headers=qoder_headers(auth), json=qoder_chat_body([ask]), timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.text.rstrip().endswith("data: [DONE]")
    chunks = sse_data(response.text)
    calls = [tc for c in chunks for choice in c["choices"] for tc in choice["delta"].get("tool_calls") or []]
    assert calls and all(isinstance(tc["index"], int) for tc in calls)  # Qoder needs numeric indexes
    assert all(isinstance(choice["index"], int) for c in chunks for choice in c["choices"])
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert usage and isinstance(usage[-1]["prompt_tokens"], int) and isinstance(usage[-1]["completion_tokens"], int)
    call_id = next(tc["id"] for tc in calls if tc.get("id"))
    arguments = "".join(tc["function"].get("arguments") or "" for tc in calls)

    turn_two = [
        ask,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "read_file", "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "print('hi')"},
    ]
    second = httpx.post(
        base_url + "/chat/completions", headers=qoder_headers(auth), json=qoder_chat_body(turn_two), timeout=60
    )
    assert second.status_code == 200, second.text
    assert second.text.rstrip().endswith("data: [DONE]")
    assert [c["usage"] for c in sse_data(second.text) if c.get("usage")]
    sent = upstream_requests(emulator)[-1]["body"]
    assert any(item.get("type") == "function_call_output" for item in sent["input"])


def roo_native_body() -> dict[str, Any]:
    """`openai-native.ts` in Roo-Code v3.52.1, model gpt-5.3-codex, effort medium."""
    return {
        "model": CODEX,
        "stream": True,
        "store": False,
        "instructions": "You are Roo.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}],
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 128000,
    }


@pytest.mark.parametrize("path", ["//v1/responses", "/v1//responses"])
def test_repeated_slashes_collapse(gateway: GatewayProcess, emulator: Emulator, path: str) -> None:
    """Roo with base URL `https://<gateway>/` posts `//v1/responses` on its fallback: a 404 before."""
    response = httpx.post(gateway.url + path, headers=AUTH["bearer"], json=roo_native_body(), timeout=60)
    completed(response)
    assert upstream_requests(emulator)[-1]["path"] == "/openai/v1/responses"


def test_roo_max_output_tokens_is_clamped_to_the_ceiling(gateway: GatewayProcess, emulator: Emulator) -> None:
    """128000 reached Azure before: four such requests reserve a 300k TPM deployment for a minute."""
    completed(httpx.post(gateway.url + "/v1/responses", headers=AUTH["bearer"], json=roo_native_body(), timeout=60))
    assert upstream_requests(emulator)[-1]["body"]["max_output_tokens"] == 32000


def test_azure_dialect_chat_with_api_key(gateway: GatewayProcess, emulator: Emulator) -> None:
    """Roo "OpenAI Compatible" + "Use Azure": the deployment names the alias, the body may omit the model,
    the client's api-version stays at the gateway. A 404 before."""
    body = {
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
    }
    response = httpx.post(
        gateway.url + f"/openai/deployments/{CODEX}/chat/completions?api-version=2024-10-21",
        headers={"api-key": TEAM_A_KEY, "content-type": "application/json"},
        json=body,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.text.rstrip().endswith("data: [DONE]")
    assert [c["usage"] for c in sse_data(response.text) if c.get("usage")]
    sent = upstream_requests(emulator)[-1]
    assert sent["body"]["model"] == CODEX
    assert sent["query"].get("api-version") != "2024-10-21"
    line = _telemetry_line(gateway, "/v1/chat/completions")
    assert (line["project"], line["model"], line["status"]) == ("team-a", CODEX, 200)


def test_azure_dialect_embeddings_and_responses(gateway: GatewayProcess, emulator: Emulator) -> None:
    headers = {"api-key": TEAM_A_KEY}
    embedded = httpx.post(
        gateway.url + f"/openai/deployments/{EMBED}/embeddings?api-version=2024-10-21",
        headers=headers,
        json={"input": ["test"]},
        timeout=60,
    )
    assert embedded.status_code == 200, embedded.text
    assert embedded.json()["data"] and embedded.json()["usage"]["prompt_tokens"] > 0
    for path in ("/openai/v1/responses", "/openai/responses?api-version=2025-04-01-preview"):
        response = httpx.post(
            gateway.url + path, headers=headers, json={"model": CODEX, "input": "hi", "store": False}, timeout=60
        )
        assert response.status_code == 200, (path, response.text)
        assert response.json()["status"] == "completed"
    assert upstream_requests(emulator)[-1]["query"].get("api-version") != "2025-04-01-preview"


def test_azure_dialect_deployment_must_be_an_alias(gateway: GatewayProcess) -> None:
    response = httpx.post(
        gateway.url + "/openai/deployments/some-other-deployment/chat/completions?api-version=2024-10-21",
        headers={"api-key": TEAM_A_KEY},
        json={"messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_double_v1_advice_works(gateway: GatewayProcess) -> None:
    """The old advice was `https://<gateway>/`, whose fallback path `//v1/responses` was itself a 404."""
    response = httpx.post(gateway.url + "/v1/v1/responses", headers=AUTH["bearer"], json={"model": CODEX})
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "https://<gateway> " in message and "https://<gateway>/ " not in message
    assert "https://<gateway>/)" not in message


def _telemetry_line(gateway: GatewayProcess, route: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in request_lines(gateway.output()) if line["route"] == route]
        if lines or time.monotonic() > deadline:
            assert lines, f"no telemetry line for {route}"
            return lines[-1]
        time.sleep(0.05)


def test_stored_response_read_through_a_path_with_repeated_slashes(gateway: GatewayProcess, emulator: Emulator) -> None:
    """The relay builds Azure's by-id URL from the collapsed path, not the one the client typed."""
    created = httpx.post(
        gateway.url + "/v1/responses", headers=AUTH["bearer"], json={"model": CODEX, "input": "hi"}, timeout=60
    )
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    read = httpx.get(f"{gateway.url}/v1/responses//{response_id}", headers=AUTH["bearer"], timeout=60)
    assert read.status_code == 200, read.text
    assert read.json()["id"] == response_id
    assert upstream_requests(emulator)[-1]["path"] == f"/openai/v1/responses/{response_id}"

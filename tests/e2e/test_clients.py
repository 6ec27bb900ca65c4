"""The request bodies real clients send (clients.md): Roo Code's two providers, its indexer, and Codex CLI."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import httpx
import pytest

from aigateway.launcher import GatewayProcess
from tests.helpers import TEAM_A_KEY, Emulator

pytestmark = pytest.mark.e2e

ROO_HEADERS = {
    "authorization": f"Bearer {TEAM_A_KEY}",
    "content-type": "application/json",
    "user-agent": "RooCode/3.52.1",
    "x-title": "Roo Code",
    "http-referer": "https://github.com/RooVetGit/Roo-Cline",
}


def sse_data(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of `data:` lines (what Roo's fallback parser reads)."""
    out = []
    for line in text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[len("data: ") :]))
    return out


def roo_strict_tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }


def test_roo_openai_compatible_chat_body(gateway: GatewayProcess, emulator: Emulator) -> None:
    body = {
        "model": "gpt-5.3-codex",
        "temperature": 0,
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "You are Roo", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "user", "content": [{"type": "text", "text": "List files [[call:list_files]]"}]},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [roo_strict_tool("list_files"), roo_strict_tool("read_file")],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    response = httpx.post(gateway.url + "/v1/chat/completions", headers=ROO_HEADERS, json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    assert response.text.rstrip().endswith("data: [DONE]")
    chunks = sse_data(response.text)
    calls = [c for ch in chunks for choice in ch.get("choices", []) for c in choice["delta"].get("tool_calls") or []]
    assert calls and calls[0]["function"]["name"] == "list_files" and calls[0]["id"]
    assert any(choice.get("finish_reason") == "tool_calls" for ch in chunks for choice in ch.get("choices", []))
    usage = [ch["usage"] for ch in chunks if ch.get("usage")]
    assert usage and usage[-1]["prompt_tokens"] > 0 and usage[-1]["completion_tokens"] > 0
    assert "chatCompletion operation" not in response.text


def roo_native_body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-5.3-codex",
        "stream": True,
        "store": False,
        "instructions": "You are Roo, a coding agent.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Explain the repo"}]}],
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 128000,
        "prompt_cache_retention": "24h",
        "tools": [
            {
                "type": "function",
                "name": "read_file",
                "description": "Read a file",
                "parameters": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                    "additionalProperties": False,
                },
                "strict": True,
            }
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        **extra,
    }


@pytest.mark.parametrize("path", ["/v1/responses", "/responses"])
def test_roo_openai_native_responses_body(gateway: GatewayProcess, emulator: Emulator, path: str) -> None:
    headers = {**ROO_HEADERS, "originator": "roo-code", "session_id": "abc-123"}
    response = httpx.post(
        gateway.url + path, headers=headers, json=roo_native_body(service_tier="priority"), timeout=60
    )
    assert response.status_code == 200, response.text
    events = sse_data(response.text)
    types = [e["type"] for e in events]
    assert "response.output_item.added" in types and "response.output_item.done" in types
    assert types[-1] == "response.completed"
    completed = events[-1]["response"]
    assert isinstance(completed["usage"]["input_tokens"], int)
    reasoning = [item for item in completed["output"] if item["type"] == "reasoning"]
    assert reasoning and reasoning[0]["encrypted_content"], "encrypted reasoning must come back for the next turn"
    upstream = [r for r in emulator.requests() if r["path"].startswith("/openai/")][-1]
    for key in ("store", "include", "reasoning", "tools"):
        assert upstream["body"][key] == roo_native_body(service_tier="priority")[key], key
    # What Azure refuses for a codex deployment is fitted away (proxy/azure_fit.py), not answered with a 400.
    assert "prompt_cache_retention" not in upstream["body"] and "service_tier" not in upstream["body"]


def test_roo_native_stateless_second_turn_replays_reasoning(gateway: GatewayProcess, emulator: Emulator) -> None:
    first = httpx.post(
        gateway.url + "/v1/responses",
        headers=ROO_HEADERS,
        json=roo_native_body(stream=False, input=[{"role": "user", "content": "Read main.py [[call:read_file]]"}]),
        timeout=60,
    ).json()
    reasoning = next(item for item in first["output"] if item["type"] == "reasoning")
    call = next(item for item in first["output"] if item["type"] == "function_call")
    second_input = [
        {"role": "user", "content": [{"type": "input_text", "text": "Read main.py"}]},
        {
            "type": "reasoning",
            "id": reasoning["id"],
            "summary": [],
            "encrypted_content": reasoning["encrypted_content"],
        },
        {"type": "function_call", "call_id": call["call_id"], "name": call["name"], "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "print('hi')"},
    ]
    response = httpx.post(
        gateway.url + "/v1/responses", headers=ROO_HEADERS, json=roo_native_body(input=second_input), timeout=60
    )
    assert response.status_code == 200, response.text
    assert sse_data(response.text)[-1]["type"] == "response.completed"
    upstream = [r for r in emulator.requests() if r["path"].startswith("/openai/")][-1]
    assert upstream["body"]["input"][1]["encrypted_content"] == reasoning["encrypted_content"]


def test_roo_indexer_batches_of_60_base64(gateway: GatewayProcess, emulator: Emulator) -> None:
    chunks = [f"def function_{i}():\n    return {i}\n" * 25 for i in range(60)]  # ~1,000 characters each
    response = httpx.post(
        gateway.url + "/v1/embeddings",
        headers=ROO_HEADERS,
        json={"input": chunks, "model": "text-embedding-3-small", "encoding_format": "base64"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 60
    assert [d["index"] for d in body["data"]] == list(range(60))
    for item in body["data"]:
        assert len(struct.unpack("<1536f", base64.b64decode(item["embedding"]))) == 1536
    assert body["usage"]["prompt_tokens"] > 0
    upstream = [r for r in emulator.requests() if r["path"].startswith("/openai/")]
    assert len(upstream) == 1 and len(upstream[0]["body"]["input"]) == 60


def test_roo_indexer_validation_call(gateway: GatewayProcess) -> None:
    response = httpx.post(
        gateway.url + "/v1/embeddings",
        headers=ROO_HEADERS,
        json={"input": ["test"], "model": "text-embedding-3-small", "encoding_format": "base64"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["data"], "Roo treats empty data as an invalid embedder"


def test_codex_cli_request_with_custom_apply_patch_tool(gateway: GatewayProcess, emulator: Emulator) -> None:
    body = {
        "model": "gpt-5.3-codex",
        "instructions": "You are Codex.",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Fix it [[call:apply_patch]]"}],
            }
        ],
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "Run",
                "strict": False,
                "parameters": {
                    "type": "object",
                    "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                },
            },
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "Apply a patch",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
            },
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "session-1",
        "text": {"verbosity": "low"},
    }
    headers = {
        "authorization": f"Bearer {TEAM_A_KEY}",
        "originator": "codex_cli_rs",
        "user-agent": "codex_cli_rs/0.169.0",
    }
    response = httpx.post(gateway.url + "/v1/responses", headers=headers, json=body, timeout=60)
    assert response.status_code == 200, response.text
    events = sse_data(response.text)
    done_items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    patch = [item for item in done_items if item["type"] == "custom_tool_call"]
    assert patch and patch[0]["name"] == "apply_patch" and patch[0]["input"]
    completed = events[-1]
    assert completed["type"] == "response.completed"
    assert isinstance(completed["response"]["usage"]["total_tokens"], int)
    assert completed["response"]["id"]
    upstream = [r for r in emulator.requests() if r["path"].startswith("/openai/")][-1]
    assert set(body) - {"model", "text"} <= set(upstream["body"]), "every Codex field must reach Azure"
    assert "text" not in upstream["body"], "codex models take only verbosity medium: Azure's default is kept"
    assert upstream["body"]["tools"][1]["type"] == "custom"


def test_codex_tool_output_round_trip(gateway: GatewayProcess) -> None:
    body = {
        "model": "gpt-5.3-codex",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix it"}]},
            {"type": "custom_tool_call", "call_id": "call_9", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "call_9", "output": "Done!"},
        ],
        "tools": [{"type": "custom", "name": "apply_patch", "description": "Apply a patch"}],
        "stream": True,
        "store": False,
    }
    response = httpx.post(
        gateway.url + "/v1/responses", headers={"authorization": f"Bearer {TEAM_A_KEY}"}, json=body, timeout=60
    )
    assert response.status_code == 200, response.text
    events = sse_data(response.text)
    assert events[-1]["type"] == "response.completed"
    assert any(e["type"] == "response.output_text.delta" for e in events)

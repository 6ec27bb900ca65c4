"""Chat completions on a chat-capable deployment."""

from __future__ import annotations

import orjson
from starlette.testclient import TestClient

from aigateway.emulator import markers

from .conftest import AUTH, DATED, sse_data

URL = f"/openai/deployments/gpt-4o/chat/completions?api-version={DATED}"
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def test_non_streaming_completion(client: TestClient) -> None:
    r = client.post(
        URL, json={"messages": [{"role": "user", "content": "secret-canary"}], "temperature": 0}, headers=AUTH
    )
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-2024-08-06"
    choice = body["choices"][0]
    assert choice["message"]["content"] == markers.DEFAULT_ANSWER
    assert choice["finish_reason"] == "stop"
    assert "secret-canary" not in r.text
    usage = body["usage"]
    assert usage["prompt_tokens"] == 4
    assert usage["completion_tokens"] == 10
    assert usage["total_tokens"] == 14


def test_streaming_with_usage_and_done(client: TestClient) -> None:
    r = client.post(
        "/openai/v1/chat/completions",
        json={
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "[[say:one two three four five]]"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        headers=AUTH,
    )
    frames = sse_data(r.text)
    assert frames[-1] == "[DONE]"
    chunks = [orjson.loads(f) for f in frames[:-1]]
    # Azure's first chunk: prompt filter results only, no choices.
    assert chunks[0]["choices"] == []
    assert "prompt_filter_results" in chunks[0]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "one two three four five"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop"
    assert finishes.count("stop") == 1
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0


def test_streaming_without_include_usage_has_no_usage_chunk(client: TestClient) -> None:
    r = client.post(URL, json={"messages": [{"role": "user", "content": "x"}], "stream": True}, headers=AUTH)
    assert all("usage" not in orjson.loads(f) for f in sse_data(r.text)[:-1])


def test_tool_call_non_streaming_and_streaming(client: TestClient) -> None:
    msgs = [{"role": "user", "content": "[[call]]"}]
    body = client.post(URL, json={"messages": msgs, "tools": [TOOL]}, headers=AUTH).json()
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"emulator"}'}
    r = client.post(URL, json={"messages": msgs, "tools": [TOOL], "stream": True}, headers=AUTH)
    chunks = [orjson.loads(f) for f in sse_data(r.text)[:-1] if f]
    calls = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["function"]["name"] == "get_weather"
    assert "".join(tc["function"]["arguments"] for tc in calls) == '{"city":"emulator"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    # A tool result as the last message gets a text answer.
    answered = [
        *msgs,
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]
    final = client.post(URL, json={"messages": answered, "tools": [TOOL]}, headers=AUTH).json()
    assert final["choices"][0]["message"]["content"] == markers.DEFAULT_ANSWER


def test_missing_messages_is_a_400(client: TestClient) -> None:
    r = client.post(URL, json={}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages"

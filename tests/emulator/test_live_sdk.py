"""Against a real uvicorn server with the official openai SDK: its typed parsing is the conformance oracle."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest
from openai import AzureOpenAI, OpenAI

from aigateway.emulator import markers

from .conftest import KEY

TOOLS = [
    {
        "type": "function",
        "name": "read_file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {"type": "custom", "name": "apply_patch", "description": "patch"},
]


def v1(url: str, max_retries: int = 0, timeout: float = 10) -> OpenAI:
    return OpenAI(base_url=f"{url}/openai/v1", api_key=KEY, max_retries=max_retries, timeout=timeout)


def dated(url: str) -> AzureOpenAI:
    return AzureOpenAI(azure_endpoint=url, api_version="2024-10-21", api_key=KEY, max_retries=0, timeout=10)


def test_sdk_parses_every_streamed_responses_event(live: str) -> None:
    client = v1(live)
    with client.responses.stream(
        model="gpt-5.3-codex",
        input="[[say:streamed canary]]",
        reasoning={"effort": "medium", "summary": "auto"},
        include=["reasoning.encrypted_content"],
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    # The SDK maps each event type to its typed class; an unknown or malformed one would fail here.
    assert all(type(e).__name__ != "BaseModel" for e in events)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.output_text == "streamed canary"
    assert final.usage is not None
    assert final.usage.output_tokens_details.reasoning_tokens > 0
    assert final.output[0].type == "reasoning"
    assert final.output[0].encrypted_content


def test_sdk_function_and_custom_tool_calls(live: str) -> None:
    client = v1(live)
    fn = client.responses.create(model="gpt-5.3-codex", input="[[call]]", tools=TOOLS)  # type: ignore[arg-type]
    call = fn.output[-1]
    assert call.type == "function_call"
    assert call.arguments == '{"path":"emulator"}'
    stream = client.responses.create(
        model="gpt-5.3-codex",
        input="[[call:apply_patch]]",
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
    )
    events = list(stream)
    done = [e for e in events if e.type == "response.custom_tool_call_input.done"]
    assert len(done) == 1
    assert done[0].input == markers.APPLY_PATCH_INPUT
    assert events[-1].type == "response.completed"


def test_azure_sdk_dated_chat_and_base64_embeddings(live: str) -> None:
    client = dated(live)
    chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == markers.DEFAULT_ANSWER
    # The SDK asks for base64 by default and decodes it; the dimension proves the decoding.
    emb = client.embeddings.create(model="text-embedding-3-large", input=["a", "b"])
    assert [len(d.embedding) for d in emb.data] == [3072, 3072]
    recorded = httpx.get(f"{live}/_emulator/requests").json()
    assert recorded[-1]["body"]["encoding_format"] == "base64"
    assert recorded[-1]["query"] == {"api-version": "2024-10-21"}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="gpt-5.3-codex", messages=[{"role": "user", "content": "hi"}])
    assert "chatCompletion operation does not work" in str(err.value)


def test_sdk_retries_a_scripted_429_honouring_retry_after_ms(live: str) -> None:
    httpx.put(f"{live}/_emulator/faults", json={"script": [{"status": 429, "retry_after_ms": 50}]}).raise_for_status()
    client = v1(live, max_retries=2)
    emb = client.embeddings.create(model="text-embedding-3-small", input="x")
    assert len(emb.data[0].embedding) == 1536
    stats = httpx.get(f"{live}/_emulator/stats").json()
    assert stats["by_route_status"]["embeddings"] == {"429": 1, "200": 1}


def test_sdk_sees_the_nested_rate_limit_error_and_the_filtered_prompt(live: str) -> None:
    faults = {"stream_failure": "rate_limit_error", "stream_failure_after_events": 1}
    httpx.put(f"{live}/_emulator/faults", json=faults).raise_for_status()
    client = v1(live, max_retries=2)
    stream = client.responses.create(model="gpt-5.3-codex", input="x", stream=True)
    with pytest.raises(openai.APIError, match="Try again in 26 seconds"):
        list(stream)
    with pytest.raises(openai.BadRequestError) as filtered:
        client.responses.create(model="gpt-5.3-codex", input="[[filter:prompt]]")
    assert filtered.value.code == "content_filter"
    stats = httpx.get(f"{live}/_emulator/stats").json()
    assert stats["by_route_status"]["responses"] == {"200": 1, "400": 1}  # the SDK did not retry the 400


def test_mid_stream_disconnect_breaks_the_connection(live: str) -> None:
    httpx.put(f"{live}/_emulator/faults", json={"disconnect_after_events": 4}).raise_for_status()
    with httpx.stream(
        "POST",
        f"{live}/openai/v1/responses",
        json={"model": "gpt-5.3-codex", "input": "x", "stream": True},
        headers={"api-key": KEY},
    ) as r:
        assert r.status_code == 200
        chunks: list[bytes] = []
        with pytest.raises(httpx.RemoteProtocolError):
            chunks.extend(r.iter_bytes())
        received = b"".join(chunks)
    assert received.count(b"event: ") == 4
    # The SDK must raise too rather than end the iteration as if the stream were complete.
    stream = v1(live).responses.create(model="gpt-5.3-codex", input="x", stream=True)
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        list(stream)
    stats = httpx.get(f"{live}/_emulator/stats").json()
    assert stats["by_route_status"]["responses"] == {"dropped": 2}


def test_reset_before_first_byte(live: str) -> None:
    httpx.put(f"{live}/_emulator/faults", json={"reset_before_first_byte": True}).raise_for_status()
    with pytest.raises(openai.APIConnectionError):
        v1(live).embeddings.create(model="text-embedding-3-small", input="x")


def test_hang_holds_the_request_past_the_client_timeout(live: str) -> None:
    httpx.put(f"{live}/_emulator/faults", json={"script": [{"hang_ms": 1500}]}).raise_for_status()
    start = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        v1(live, timeout=0.3).embeddings.create(model="text-embedding-3-small", input="x")
    assert time.perf_counter() - start < 1.4
    # Only the scripted request hangs.
    assert v1(live).embeddings.create(model="text-embedding-3-small", input="x").data


def test_python_m_entry_point_serves(tmp_path: object) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "EMULATOR_API_KEY": "cli-key"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aigateway.emulator", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
        r = httpx.post(
            f"{url}/openai/v1/embeddings",
            json={"model": "text-embedding-3-small", "input": "x"},
            headers={"api-key": "cli-key"},
        )
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)

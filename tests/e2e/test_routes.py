"""Every API route through the real LiteLLM gateway to the emulator, checked on both sides of the gateway."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest
from openai import OpenAI

from aigateway.launcher import GatewayProcess
from tests.helpers import TEAM_A_KEY, Emulator

pytestmark = pytest.mark.e2e

CODEX = "gpt-5.3-codex"
EMBED = "text-embedding-3-small"


@pytest.fixture
def client(gateway: GatewayProcess) -> OpenAI:
    return OpenAI(base_url=gateway.url + "/v1", api_key=TEAM_A_KEY, max_retries=0)


def only_request(emulator: Emulator) -> dict:
    requests = [r for r in emulator.requests() if r["path"].startswith("/openai/")]
    assert len(requests) == 1, [r["path"] for r in requests]
    return requests[0]


def test_responses_non_streaming_reaches_azure_v1_path(client: OpenAI, emulator: Emulator) -> None:
    response = client.responses.create(model=CODEX, input="Say hello", instructions="Be brief")
    assert response.output_text
    assert response.usage is not None and response.usage.total_tokens > 0
    upstream = only_request(emulator)
    assert upstream["method"] == "POST"
    assert upstream["path"] == "/openai/v1/responses"
    assert upstream["headers"]["api-key"] == emulator.api_key
    assert upstream["body"]["model"] == "gpt-5.3-codex"  # the deployment name
    assert upstream["body"]["instructions"] == "Be brief"


def test_responses_streaming_passes_every_event_in_order(client: OpenAI, emulator: Emulator) -> None:
    with client.responses.stream(model=CODEX, input="Say hello") as stream:
        events = [event.type for event in stream]
        final = stream.get_final_response()
    assert events[0] == "response.created"
    assert events[-1] == "response.completed"
    assert events.count("response.output_text.delta") >= 2
    assert events.index("response.output_item.added") < events.index("response.output_text.delta")
    assert final.usage is not None and isinstance(final.usage.total_tokens, int)
    assert only_request(emulator)["body"]["stream"] is True


def test_responses_without_v1_prefix(gateway: GatewayProcess) -> None:
    client = OpenAI(base_url=gateway.url, api_key=TEAM_A_KEY, max_retries=0)
    assert client.responses.create(model=CODEX, input="hi").output_text


def test_chat_completions_bridged_to_responses_with_tools_and_usage(client: OpenAI, emulator: Emulator) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    stream = client.chat.completions.create(
        model=CODEX,
        messages=[
            {"role": "system", "content": "You are Roo."},
            {"role": "user", "content": "Read the readme [[call:read_file]]"},
        ],
        temperature=0,
        tools=[tool],
        parallel_tool_calls=True,
        stream=True,
        stream_options={"include_usage": True},
    )
    names, arguments, finish, usage = [], "", None, None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                if call.function and call.function.name:
                    names.append(call.function.name)
                if call.function and call.function.arguments:
                    arguments += call.function.arguments
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    assert names == ["read_file"]
    assert arguments.startswith("{")
    assert finish == "tool_calls"
    assert usage is not None and usage.total_tokens > 0
    upstream = only_request(emulator)
    assert upstream["path"] == "/openai/v1/responses", "chat must be bridged, never sent to chat/completions"
    assert "temperature" not in upstream["body"]
    assert upstream["body"]["instructions"] == "You are Roo."
    assert upstream["body"]["tools"][0]["name"] == "read_file"


def test_chat_completions_second_turn_with_tool_result(client: OpenAI, emulator: Emulator) -> None:
    completion = client.chat.completions.create(
        model=CODEX,
        messages=[
            {"role": "user", "content": "Read it"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "file contents"},
        ],
        temperature=0,
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    items = only_request(emulator)["body"]["input"]
    kinds = [item.get("type") for item in items]
    assert "function_call" in kinds and "function_call_output" in kinds


def test_chat_completions_never_returns_azures_operation_error(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=CODEX, messages=[{"role": "user", "content": "hello"}], temperature=0
    )
    text = completion.choices[0].message.content or ""
    assert "chatCompletion operation" not in text
    assert text


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings_route_and_encodings(client: OpenAI, emulator: Emulator, encoding: str) -> None:
    raw = client.embeddings.with_raw_response.create(
        model=EMBED,
        input=["alpha", "beta"],
        encoding_format=encoding,  # type: ignore[arg-type]
    )
    data = raw.http_response.json()["data"]
    if encoding == "base64":
        vectors = [struct.unpack("<1536f", base64.b64decode(d["embedding"])) for d in data]
    else:
        vectors = [d["embedding"] for d in data]
    assert [len(v) for v in vectors] == [1536, 1536]
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-3  # the emulator returns unit vectors
    upstream = only_request(emulator)
    assert upstream["path"] == "/openai/deployments/text-embedding-3-small/embeddings"
    assert upstream["query"]["api-version"] == "2024-10-21"
    assert upstream["headers"]["api-key"] == emulator.api_key
    assert upstream["body"]["input"] == ["alpha", "beta"]


def test_embeddings_same_text_same_vector_through_gateway(client: OpenAI) -> None:
    first = client.embeddings.create(model=EMBED, input="same text").data[0].embedding
    second = client.embeddings.create(model=EMBED, input="same text").data[0].embedding
    other = client.embeddings.create(model=EMBED, input="other text").data[0].embedding
    assert first == second
    assert first != other


def test_embeddings_dimensions_passed_through(client: OpenAI, emulator: Emulator) -> None:
    response = client.embeddings.create(model=EMBED, input="x", dimensions=256)
    assert len(response.data[0].embedding) == 256
    assert only_request(emulator)["body"]["dimensions"] == 256


def test_models_lists_both_aliases_in_openai_shape(client: OpenAI, emulator: Emulator) -> None:
    models = client.models.list()
    ids = [m.id for m in models]
    assert set(ids) == {CODEX, EMBED}
    assert all(m.object == "model" for m in models)
    assert not [r for r in emulator.requests() if r["path"].startswith("/openai/")], "models must not call Azure"


def test_double_v1_path_gets_clear_json_error(gateway: GatewayProcess) -> None:
    response = httpx.post(
        gateway.url + "/v1/v1/responses", headers={"authorization": f"Bearer {TEAM_A_KEY}"}, json={"model": CODEX}
    )
    assert response.status_code == 404
    assert "Drop the trailing /v1" in response.json()["error"]["message"]


def test_responses_do_not_reveal_the_upstream(gateway: GatewayProcess, emulator: Emulator) -> None:
    response = httpx.post(
        gateway.url + "/v1/responses",
        headers={"authorization": f"Bearer {TEAM_A_KEY}"},
        json={"model": CODEX, "input": "hi"},
        timeout=30,
    )
    assert response.status_code == 200
    port = emulator.url.rsplit(":", 1)[1]
    for name, value in response.headers.items():
        assert not name.startswith(("x-litellm", "llm_provider", "x-ms-", "apim-")), name
        assert port not in value, name
    assert response.headers["x-request-id"]


def test_unknown_model_is_404_model_not_found(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-4-turbo", input="hi")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]

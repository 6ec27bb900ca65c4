"""Fault injection, in process: scripted outcomes, random errors, latency, in-band stream failures."""

from __future__ import annotations

import time

import orjson
import pytest
from starlette.testclient import TestClient

from aigateway.emulator import EmulatorConfig, Faults, ScriptedResponse, create_app, markers
from aigateway.emulator.wire import ConnectionDropped

from .conftest import AUTH, sse_data, sse_events

EMBED = ("/openai/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"})
RESP = ("/openai/v1/responses", {"model": "gpt-5.3-codex", "input": "x"})
CHAT = ("/openai/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})


def call(client: TestClient, target: tuple[str, dict[str, object]], **extra: object):  # type: ignore[no-untyped-def]
    url, body = target
    return client.post(url, json={**body, **extra}, headers=AUTH)


def test_script_forces_responses_in_order_then_normal(client: TestClient) -> None:
    script = [{"status": 429, "retry_after": 2}, {"status": 500}, {"status": 200}]
    assert client.put("/_emulator/faults", json={"script": script}).status_code == 200
    first = call(client, EMBED)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "2"
    assert first.json()["error"]["code"] == "RateLimitReached"
    assert "Please retry after 2 seconds" in first.json()["error"]["message"]
    second = call(client, EMBED)
    assert second.status_code == 500
    assert second.json()["error"]["type"] == "server_error"
    assert second.headers["apim-request-id"] in second.json()["error"]["message"]
    assert call(client, EMBED).status_code == 200
    assert call(client, EMBED).status_code == 200
    assert client.get("/_emulator/faults").json()["script"] == []


def test_script_route_filter_and_retry_header_variants(client: TestClient) -> None:
    script = [
        {"status": 503, "route": "responses", "retry_after_ms": 1500},
        {"status": 429, "route": "embeddings", "omit_retry_after": True},
    ]
    client.put("/_emulator/faults", json={"script": script})
    assert call(client, CHAT).status_code == 200  # no entry for chat
    emb = call(client, EMBED)
    assert emb.status_code == 429
    assert "retry-after" not in emb.headers
    resp = call(client, RESP)
    assert resp.status_code == 503
    assert resp.headers["retry-after-ms"] == "1500"
    assert resp.headers["retry-after"] == "2"


def test_error_rate_is_random_but_seeded(config: EmulatorConfig) -> None:
    config.faults = Faults(error_rate=0.5, error_status=503, seed=7)

    def statuses() -> list[int]:
        with TestClient(create_app(config)) as c:
            return [call(c, EMBED).status_code for _ in range(30)]

    first = statuses()
    assert set(first) == {200, 503}
    assert statuses() == first


def test_503_has_retry_after(client: TestClient) -> None:
    client.put("/_emulator/faults", json={"error_rate": 1.0, "error_status": 503})
    r = call(client, EMBED)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"


def test_latency_delays_the_reply_and_routes_limit_faults(client: TestClient) -> None:
    client.put("/_emulator/faults", json={"latency_ms": 150, "routes": ["responses"]})
    start = time.perf_counter()
    assert call(client, EMBED).status_code == 200
    assert time.perf_counter() - start < 0.1
    start = time.perf_counter()
    assert call(client, RESP).status_code == 200
    assert time.perf_counter() - start >= 0.15


def test_stream_event_delay_spaces_events(client: TestClient) -> None:
    client.put("/_emulator/faults", json={"stream_event_delay_ms": 20})
    start = time.perf_counter()
    r = call(client, RESP, stream=True)
    events = sse_events(r.text)
    assert time.perf_counter() - start >= 0.02 * (len(events) - 1)


@pytest.mark.parametrize("kind", ["response.failed", "error"])
def test_in_band_stream_failure_after_n_events(client: TestClient, kind: str) -> None:
    client.put("/_emulator/faults", json={"stream_failure": kind, "stream_failure_after_events": 4})
    events = sse_events(call(client, RESP, stream=True).text)
    assert len(events) == 5
    assert [d["sequence_number"] for _, d in events] == [0, 1, 2, 3, 4]
    last_type, last = events[-1]
    assert last_type == kind
    if kind == "error":
        assert last["code"] == "server_error"
        assert last["message"]
    else:
        assert last["response"]["status"] == "failed"
        assert last["response"]["error"]["code"] == "server_error"
    assert "response.completed" not in [t for t, _ in events]


def test_chat_stream_failure_is_an_error_chunk_without_done(client: TestClient) -> None:
    client.put("/_emulator/faults", json={"stream_failure": "error", "stream_failure_after_events": 2})
    text = call(client, CHAT, stream=True).text
    assert "[DONE]" not in text
    assert text.rstrip().endswith('"code":null}}')


def test_rate_limit_error_is_azures_nested_in_band_error_right_after_created(client: TestClient) -> None:
    client.put("/_emulator/faults", json={"stream_failure": "rate_limit_error", "stream_failure_after_events": 1})
    r = call(client, RESP, stream=True)
    assert r.status_code == 200
    events = sse_events(r.text)
    assert [t for t, _ in events] == ["response.created", "error"]
    # Azure's nested shape, key order included: type, sequence_number, error{type, code, message}.
    assert r.text.split("\n\n")[1] == (
        'event: error\ndata: {"type":"error","sequence_number":1,"error":{"type":"server_error",'
        '"code":"rate_limit_exceeded","message":"Rate limit is exceeded. Try again in 26 seconds."}}'
    )
    assert r.text.endswith("}}\n\n")  # ends there: no response.failed, no response.completed


def test_rate_limit_error_one_shot_from_the_script_and_on_chat(client: TestClient) -> None:
    script = [{"route": "chat", "stream_failure": "rate_limit_error", "stream_failure_after_events": 2}]
    client.put("/_emulator/faults", json={"script": script})
    text = call(client, CHAT, stream=True).text
    assert "[DONE]" not in text
    last = orjson.loads(text.strip().split("\n\n")[-1][6:])
    assert last["error"]["code"] == "rate_limit_exceeded"
    assert "Try again in 26 seconds" in last["error"]["message"]
    assert "[DONE]" in call(client, CHAT, stream=True).text  # consumed once


@pytest.mark.parametrize(
    ("path", "body"),
    [
        RESP,
        ("/openai/deployments/gpt-5.3-codex/responses?api-version=2025-04-01-preview", RESP[1]),
        CHAT,
        ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", CHAT[1]),
    ],
)
def test_filter_prompt_marker_is_azures_content_filter_400_without_retry_after(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    key = "input" if "input" in body else "messages"
    text = "please [[filter:prompt]] now"
    payload = {**body, key: text if key == "input" else [{"role": "user", "content": text}]}
    r = client.post(path, json=payload, headers=AUTH)
    assert r.status_code == 400
    assert "retry-after" not in r.headers
    assert "retry-after-ms" not in r.headers
    error = r.json()["error"]
    assert error["code"] == "content_filter"
    assert error["param"] == "prompt"
    assert error["type"] is None
    assert error["status"] == 400
    assert error["message"].startswith("The response was filtered due to the prompt triggering Azure OpenAI's")
    assert error["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert error["innererror"]["content_filter_result"]["jailbreak"] == {"filtered": True, "detected": True}


def test_filter_completion_marker_ends_the_response_incomplete(client: TestClient) -> None:
    r = call(client, RESP, input="[[say:one two three four]] [[filter:completion]]", tools=[])
    body = r.json()
    assert r.status_code == 200
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "content_filter"}
    text = body["output"][-1]["content"][0]["text"]
    assert text
    assert "one two three four".startswith(text)
    assert len(text) < len("one two three four")


def test_filter_completion_stream_ends_with_response_incomplete(client: TestClient) -> None:
    events = sse_events(call(client, RESP, input="[[filter:completion]]", stream=True).text)
    types = [t for t, _ in events]
    assert types[-1] == "response.incomplete"
    assert "response.completed" not in types
    assert "response.output_text.delta" in types
    final = events[-1][1]["response"]
    assert final["incomplete_details"] == {"reason": "content_filter"}
    assert final["status"] == "incomplete"


def test_filter_completion_on_chat_finishes_with_content_filter(client: TestClient) -> None:
    messages = [{"role": "user", "content": "[[filter:completion]]"}]
    plain = call(client, CHAT, messages=messages).json()["choices"][0]
    assert plain["finish_reason"] == "content_filter"
    assert plain["content_filter_results"]["violence"]["filtered"] is True
    assert len(plain["message"]["content"]) < len(markers.DEFAULT_ANSWER)
    text = call(client, CHAT, messages=messages, stream=True).text
    finishes = [orjson.loads(d)["choices"][0]["finish_reason"] for d in sse_data(text)[1:-1]]
    assert finishes[-1] == "content_filter"
    assert text.endswith("data: [DONE]\n\n")


def test_disconnect_and_reset_in_process_raise(config: EmulatorConfig) -> None:
    config.faults = Faults(
        script=[ScriptedResponse(disconnect_after_events=3), ScriptedResponse(reset_before_first_byte=True)]
    )
    with TestClient(create_app(config)) as c:
        with pytest.raises(ConnectionDropped):
            call(c, RESP, stream=True)
        with pytest.raises(ConnectionDropped):
            call(c, RESP)
        assert call(c, RESP).status_code == 200


def test_invalid_fault_config_is_refused_and_patch_merges(client: TestClient) -> None:
    assert client.put("/_emulator/faults", json={"error_rate": 2}).status_code == 400
    assert client.put("/_emulator/faults", json={"bogus": 1}).status_code == 400
    assert client.put("/_emulator/faults", json=[1]).status_code == 400
    client.put("/_emulator/faults", json={"latency_ms": 5})
    merged = client.patch("/_emulator/faults", json={"error_status": 503}).json()
    assert merged["latency_ms"] == 5
    assert merged["error_status"] == 503
    assert client.put("/_emulator/faults", json={}).json()["latency_ms"] == 0


def test_from_env_reads_emulator_variables() -> None:
    config = EmulatorConfig.from_env(
        {
            "EMULATOR_API_KEY": "k2",
            "EMULATOR_LATENCY_MS": "25",
            "EMULATOR_ERROR_RATE": "0.1",
            "EMULATOR_SEED": "3",
            "EMULATOR_RPM": "60",
            "EMULATOR_FAULTS": '{"script": [{"status": 429}]}',
            "EMULATOR_DEPLOYMENTS": orjson.dumps(
                {"my-embed": {"model": "text-embedding-3-large", "kind": "embeddings", "dimensions": 3072}}
            ).decode(),
        }
    )
    assert config.api_key == "k2"
    assert config.faults.latency_ms == 25
    assert config.faults.error_rate == 0.1
    assert config.faults.seed == 3
    assert config.faults.script[0].status == 429
    assert config.deployments["my-embed"].dimensions == 3072
    assert {d.rpm for d in config.deployments.values()} == {60}
    with pytest.raises(ValueError, match="EMULATOR_ERROR_RATE"):
        EmulatorConfig.from_env({"EMULATOR_ERROR_RATE": "lots"})
    with pytest.raises(ValueError, match="EMULATOR_DEPLOYMENTS"):
        EmulatorConfig.from_env({"EMULATOR_DEPLOYMENTS": "{"})

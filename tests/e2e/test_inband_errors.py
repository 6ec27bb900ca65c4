"""Errors clients can see after a 200 (issue 13, point 3), through the real gateway, the emulator and the
official `openai` SDK: Azure's in-band errors reach Responses clients as `response.failed` and chat clients
as the chunk error form; content filtering is never retried and reaches the client with Azure's code; the
telemetry line says what happened (codes and reasons, never content)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from aigateway.launcher import GatewayProcess
from tests.codex import codex_binary, environment, write_config
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, Emulator, request_lines

pytestmark = pytest.mark.e2e

CODEX = "gpt-5.3-codex"
# Azure's nested in-band rate-limit error, right after `response.created` (the emulator's fault).
RATE_LIMITED_STREAM = {"stream_failure": "rate_limit_error", "stream_failure_after_events": 1}


def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=TEAM_A_KEY, max_retries=0)


def azure_calls(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"].startswith("/openai/")]


def line_for(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        matches = [line for line in request_lines(gateway.output()) if line["request_id"] == request_id]
        if matches:
            return matches[0]
        time.sleep(0.05)
    raise AssertionError(f"no telemetry line for {request_id}")


def last_line(gateway: GatewayProcess, route: str) -> dict[str, Any]:
    """The newest line of a route: the SDK's stream hides the response headers (and so x-request-id)."""
    time.sleep(0.2)  # the line is written as the request ends, just after the client read its last byte
    return [line for line in request_lines(gateway.output()) if line["route"] == route][-1]


def chat_body(text: str, stream: bool = True) -> dict[str, Any]:
    return {"model": CODEX, "messages": [{"role": "user", "content": text}], "stream": stream}


def test_nested_rate_limit_reaches_the_sdk_as_response_failed_with_the_wait(
    gateway: GatewayProcess, emulator: Emulator
) -> None:
    emulator.set_faults(script=[RATE_LIMITED_STREAM])
    with client(gateway).responses.create(model=CODEX, input="hi", stream=True) as stream:
        events = list(stream)
    assert [e.type for e in events] == ["response.created", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.id == events[0].response.id, "reported against the response Azure created"
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert failed.response.error.code == "rate_limit_exceeded"
    assert "Try again in 26 seconds" in failed.response.error.message
    calls = azure_calls(emulator)
    assert len(calls) == 1, "an in-band error after 200 is never retried"
    line = last_line(gateway, "/v1/responses")
    assert (line["status"], line["error_code"], line["error_source"]) == (200, "rate_limit_exceeded", "azure")
    assert line["upstream_request_id"] == calls[0]["request_id"]


def test_flat_error_event_is_replaced_too(gateway: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"stream_failure": "error", "stream_failure_after_events": 3}])
    response = httpx.post(
        gateway.url + "/v1/responses",
        json={"model": CODEX, "input": "hi", "stream": True},
        headers={"authorization": f"Bearer {TEAM_A_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert "event: error" not in response.text
    last = json.loads(response.text.rstrip().rsplit("\ndata: ", 1)[1])
    assert last["type"] == "response.failed" and last["response"]["error"]["code"] == "server_error"
    line = line_for(gateway, response.headers["x-request-id"])
    assert (line["error_code"], line["error_class"]) == ("server_error", "stream_error")


def test_the_gateways_own_failure_after_the_start_is_response_failed(
    gateway: GatewayProcess, emulator: Emulator
) -> None:
    emulator.set_faults(script=[{"disconnect_after_events": 3}])
    with client(gateway).responses.create(model=CODEX, input="hi", stream=True) as stream:
        events = list(stream)
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.id == events[0].response.id
    assert failed.response.error is not None and failed.response.error.code == "upstream_stream_broken"
    calls = azure_calls(emulator)
    assert len(calls) == 1
    assert calls[0]["request_id"] in failed.response.error.message, "Azure's id, for Azure support"
    line = last_line(gateway, "/v1/responses")
    assert (line["error_code"], line["upstream_request_id"]) == ("upstream_stream_broken", calls[0]["request_id"])


def test_a_stream_that_stalls_after_the_start_ends_with_response_failed(
    emulator: Emulator, gateway_factory: GatewayFactory
) -> None:
    stalling = gateway_factory(azure_env(emulator, GATEWAY_UPSTREAM_TIMEOUT_SECONDS="1"), name="stall")
    emulator.set_faults(stream_event_delay_ms=1500)
    with client(stalling).responses.create(model=CODEX, input="hi", stream=True) as stream:
        events = list(stream)
    assert [e.type for e in events] == ["response.created", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.error is not None and failed.response.error.code == "upstream_timeout"
    assert len(azure_calls(emulator)) == 1
    assert last_line(stalling, "/v1/responses")["error_code"] == "upstream_timeout"


@pytest.mark.parametrize("stream", [False, True])
def test_a_filtered_prompt_is_a_400_content_filter_never_retried(
    gateway: GatewayProcess, emulator: Emulator, stream: bool
) -> None:
    sdk = client(gateway)
    prompt = "please [[filter:prompt]]"
    with pytest.raises(openai.BadRequestError) as responses_error:
        sdk.responses.create(model=CODEX, input=prompt, stream=stream)
    assert len(azure_calls(emulator)) == 1
    emulator.clear()
    with pytest.raises(openai.BadRequestError) as chat_error:
        sdk.chat.completions.create(model=CODEX, messages=[{"role": "user", "content": prompt}], stream=stream)
    assert len(azure_calls(emulator)) == 1, "content_filter is never retried"
    for raised in (responses_error.value, chat_error.value):
        assert raised.code == "content_filter"
        assert "content management policy" in raised.message
        body = raised.body
        assert isinstance(body, dict)
        verdict = body["innererror"]["content_filter_result"]
        assert verdict["jailbreak"]["filtered"] is True, "which category tripped, no prompt text"
        assert prompt not in json.dumps(body)


def test_a_filtered_completion_ends_incomplete_and_is_recorded(gateway: GatewayProcess, emulator: Emulator) -> None:
    sdk = client(gateway)
    with sdk.responses.create(model=CODEX, input="tell me [[filter:completion]]", stream=True) as stream:
        events = list(stream)
    final = events[-1]
    assert final.type == "response.incomplete"
    assert final.response.incomplete_details is not None
    assert final.response.incomplete_details.reason == "content_filter"
    line = last_line(gateway, "/v1/responses")
    assert (line["incomplete_reason"], line["error_code"]) == ("content_filter", None)

    chunks = list(
        sdk.chat.completions.create(
            model=CODEX, messages=[{"role": "user", "content": "tell me [[filter:completion]]"}], stream=True
        )
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    assert last_line(gateway, "/v1/chat/completions")["incomplete_reason"] == "content_filter"
    assert len(azure_calls(emulator)) == 2


@pytest.mark.parametrize(
    ("fault", "code", "wait"),
    [
        (RATE_LIMITED_STREAM, "rate_limit_exceeded", "Try again in 26 seconds"),
        ({"stream_failure": "response.failed", "stream_failure_after_events": 3}, "server_error", None),
    ],
)
def test_chat_stream_failure_is_the_chunk_error_form_without_done(
    gateway: GatewayProcess, emulator: Emulator, fault: dict[str, Any], code: str, wait: str | None
) -> None:
    emulator.set_faults(script=[fault])
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=chat_body("hi"),
        headers={"authorization": f"Bearer {TEAM_A_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert "[DONE]" not in response.text, "a client that skips the error must not see a finished stream"
    last = json.loads(response.text.rstrip().rsplit("data: ", 1)[1])
    assert set(last) == {"error"}
    assert last["error"]["code"] == code
    if wait is not None:
        assert wait in last["error"]["message"]
    calls = azure_calls(emulator)
    assert len(calls) == 1
    assert last["error"]["upstream_request_id"] == calls[0]["request_id"]
    line = line_for(gateway, response.headers["x-request-id"])
    assert (line["error_code"], line["error_source"]) == (code, "azure")
    assert line["upstream_request_id"] == calls[0]["request_id"]

    emulator.set_faults(script=[fault])
    with pytest.raises(openai.APIError) as raised:  # what the Python SDK (and openai-node) make of it
        list(client(gateway).chat.completions.create(model=CODEX, messages=chat_body("hi")["messages"], stream=True))
    assert raised.value.code == code


def test_codex_reports_azures_rate_limit_instead_of_a_closed_stream(
    gateway: GatewayProcess, emulator: Emulator, tmp_path: Path
) -> None:
    """Codex ignores `error` events ("stream closed before response.completed") but reads `response.failed`."""
    write_config(tmp_path, gateway.url, extra="stream_max_retries = 0\nrequest_max_retries = 0\n")
    emulator.set_faults(**RATE_LIMITED_STREAM)
    env = environment(tmp_path)
    result = subprocess.run(
        [codex_binary(), "exec", "--json", "--skip-git-repo-check", "-m", CODEX, "-s", "read-only", "say hi"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    failed = [json.loads(line) for line in result.stdout.splitlines() if '"turn.failed"' in line]
    assert failed, result.stdout + result.stderr
    message = failed[-1]["error"]["message"]
    assert "Try again in 26 seconds" in message and "stream closed" not in message
    assert len(azure_calls(emulator)) == 1

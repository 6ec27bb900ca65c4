"""Limits, retries, stream safety, bad input and telemetry, driven through the emulator's faults.

Timings are bounds with margin (this machine is shared), never exact values.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from openai import OpenAI

from aigateway.launcher import GatewayProcess
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, TEAM_B_KEY, Emulator, request_lines

pytestmark = pytest.mark.e2e

LIMITED_KEY = "sk-limited-project-00000001"
KEEPALIVE = 0.5
MAX_BODY = 65536
CODEX = "gpt-5.3-codex"
EMBED = "text-embedding-3-small"


@pytest.fixture(scope="module")
def gw(emulator: Emulator, gateway_factory: GatewayFactory) -> GatewayProcess:
    """A gateway with small, fast-to-test limits; production defaults are in the README table."""
    return gateway_factory(
        azure_env(
            emulator,
            GATEWAY_KEYS=f"team-a={TEAM_A_KEY},team-b={TEAM_B_KEY},limited={LIMITED_KEY}",
            GATEWAY_PROJECT_LIMITS=json.dumps({"limited": {"rpm": 4, "max_parallel": 1, "embeddings_rpm": 2}}),
            GATEWAY_MAX_CONCURRENCY="4",
            GATEWAY_RETRY_ATTEMPTS="3",
            GATEWAY_RETRY_MAX_SECONDS="3",
            GATEWAY_RETRY_AFTER_CAP_SECONDS="2",
            GATEWAY_UPSTREAM_TIMEOUT_SECONDS="2.5",
            GATEWAY_KEEPALIVE_SECONDS=str(KEEPALIVE),
            GATEWAY_MAX_BODY_BYTES=str(MAX_BODY),
        ),
        name="reliability",
    )


@pytest.fixture(scope="module", autouse=True)
def _warm(gw: GatewayProcess, emulator: Emulator) -> None:
    """LiteLLM imports its error mapping lazily on the first failure; pay that once, not inside a timing."""
    emulator.set_faults(script=[{"status": 400}])
    post(gw, "/v1/responses", {"model": CODEX, "input": "warm"})
    emulator.set_faults()


def post(gw: GatewayProcess, path: str, body: Any, key: str = TEAM_A_KEY, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return httpx.post(gw.url + path, json=body, headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)


def upstream(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"].startswith("/openai/")]


def line_for(gw: GatewayProcess, response: httpx.Response) -> dict[str, Any]:
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        matches = [line for line in request_lines(gw.output()) if line["request_id"] == request_id]
        if matches:
            assert len(matches) == 1, matches
            return matches[0]
        time.sleep(0.05)
    raise AssertionError(f"no telemetry line for {request_id}")


# --- retries ---------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_after_waiting(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 429, "retry_after": 1}])
    response = post(gw, "/v1/responses", {"model": CODEX, "input": "hi"})
    assert response.status_code == 200
    calls = upstream(emulator)
    assert [c["status"] for c in calls] == [429, 200]
    assert 0.95 <= calls[1]["ts"] - calls[0]["ts"] <= 2.5
    line = line_for(gw, response)
    assert (line["attempts"], line["upstream_status"], line["status"]) == (2, 200, 200)


def test_429_without_retry_after_uses_jittered_exponential_backoff(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 429, "omit_retry_after": True}] * 2)
    response = post(gw, "/v1/embeddings", {"model": EMBED, "input": "x"})
    assert response.status_code == 200
    ts = [c["ts"] for c in upstream(emulator)]
    assert len(ts) == 3
    assert 0.2 <= ts[1] - ts[0] <= 1.0  # first backoff: 0.25-0.5 s
    assert 0.45 <= ts[2] - ts[1] <= 1.6  # second backoff: 0.5-1.0 s


def test_500_and_503_are_retried(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 500}, {"status": 503, "retry_after": 0}])
    response = post(gw, "/v1/responses", {"model": CODEX, "input": "hi", "stream": True})
    assert response.status_code == 200
    assert '"response.completed"' in response.text
    assert [c["status"] for c in upstream(emulator)] == [500, 503, 200]


def test_exhausted_429_gives_429_with_plain_retry_after_and_no_sleep_after_last_attempt(
    gw: GatewayProcess, emulator: Emulator
) -> None:
    emulator.set_faults(script=[{"status": 429, "retry_after": 1}] * 3)
    response = post(gw, "/v1/responses", {"model": CODEX, "input": "hi"})
    done = time.time()
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["message"]
    calls = upstream(emulator)
    assert len(calls) == 3, "bounded attempts"
    assert done - calls[-1]["ts"] < 0.8, "the gateway must not sleep after its final attempt"
    line = line_for(gw, response)
    assert (line["attempts"], line["upstream_status"], line["error_source"]) == (3, 429, "azure")


def test_upstream_request_id_of_the_last_attempt_is_logged_and_quoted_to_the_client(
    gw: GatewayProcess, emulator: Emulator
) -> None:
    """Azure support asks for its apim-request-id: the line carries the last attempt's, on failure and success.
    The header itself stays hidden (issue 11); on the chat bridge the gateway's error body quotes it."""
    emulator.set_faults(script=[{"status": 500}] * 3)
    marker = f"hi {uuid.uuid4()}"  # only this request's attempts count, whatever else reaches the emulator
    response = post(gw, "/v1/responses", {"model": CODEX, "input": marker})
    assert response.status_code == 500
    assert "apim-request-id" not in response.headers
    calls = [c for c in upstream(emulator) if (c["body"] or {}).get("input") == marker]
    # Three attempts, or two when a loaded machine spends the 3 s retry time budget first.
    assert len(calls) >= 2 and len({c["request_id"] for c in calls}) == len(calls)
    line = line_for(gw, response)
    assert (line["upstream_status"], line["error_source"]) == (500, "azure")
    assert line["upstream_request_id"] == calls[-1]["request_id"]
    assert calls[-1]["request_id"] in response.text  # Azure's own 500 body quotes it, relayed unchanged

    emulator.set_faults(script=[{"status": 500}] * 3)
    chat = post(gw, "/v1/chat/completions", {"model": CODEX, "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 500
    assert "apim-request-id" not in chat.headers
    chat_line = line_for(gw, chat)
    last = upstream(emulator)[-1]["request_id"]
    assert (chat_line["upstream_status"], chat_line["upstream_request_id"]) == (500, last)
    assert chat.json()["error"]["upstream_request_id"] == last

    emulator.set_faults(script=[{"status": 429, "retry_after": 0}])
    ok = post(gw, "/v1/embeddings", {"model": EMBED, "input": "x"})
    assert ok.status_code == 200
    assert "upstream_request_id" not in ok.text
    assert line_for(gw, ok)["upstream_request_id"] == upstream(emulator)[-1]["request_id"]

    emulator.set_faults(script=[{"reset_before_first_byte": True}] * 3)
    unreachable = post(gw, "/v1/responses", {"model": CODEX, "input": "hi"})
    assert unreachable.status_code == 502
    assert line_for(gw, unreachable)["upstream_request_id"] is None
    assert "upstream_request_id" not in unreachable.json()["error"]


def test_retry_after_longer_than_the_cap_is_returned_not_waited(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 429, "retry_after": 30}])
    started = time.monotonic()
    response = post(gw, "/v1/embeddings", {"model": EMBED, "input": "x"})
    assert response.status_code == 429
    assert time.monotonic() - started < 1.5
    assert response.headers["retry-after"] == "30"
    assert len(upstream(emulator)) == 1


def test_upstream_timeouts_are_bounded(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(hang_ms=20_000)
    started = time.monotonic()
    response = post(gw, "/v1/responses", {"model": CODEX, "input": "hi"}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code in (408, 504), response.text
    assert "error" in response.json()
    # first attempt: the 2.5 s upstream timeout; retries: only within the 3 s retry budget
    assert 5 <= elapsed < 5.5 + 2, elapsed
    assert 2 <= len(upstream(emulator)) <= 3


def test_connection_reset_before_first_byte_is_retried(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"reset_before_first_byte": True}])
    response = post(gw, "/v1/embeddings", {"model": EMBED, "input": ["a", "b"]})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2
    assert len(upstream(emulator)) == 2


def test_stream_broken_mid_way_is_not_retried(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(stream_event_delay_ms=50, script=[{"disconnect_after_events": 4}])
    response = post(gw, "/v1/responses", {"model": CODEX, "input": "hi", "stream": True})
    types = [json.loads(line[6:])["type"] for line in response.text.splitlines() if line.startswith("data: {")]
    assert types[0] == "response.created", "events sent before the break reached the client"
    assert types[-1] == "response.failed", "the break is reported in-band, as streaming clients expect"
    assert "response.completed" not in types
    assert len(upstream(emulator)) == 1, "bytes reached the client: a retry would duplicate them"
    assert line_for(gw, response)["error_class"] == "upstream_stream_broken"


# --- stream safety ---------------------------------------------------------------------------------------


def test_in_band_response_failed_reaches_the_client(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(stream_failure="response.failed", stream_failure_after_events=3)
    client = OpenAI(base_url=gw.url + "/v1", api_key=TEAM_A_KEY, max_retries=0)
    types: list[str] = []
    with client.responses.create(model=CODEX, input="hi", stream=True) as stream:
        for event in stream:
            types.append(event.type)
    assert "response.failed" in types
    assert "response.completed" not in types


def test_keepalives_between_events_once_azure_has_started_and_never_before(
    gw: GatewayProcess, emulator: Emulator
) -> None:
    emulator.set_faults(latency_ms=1600, stream_event_delay_ms=1200)
    with httpx.stream(
        "POST",
        gw.url + "/v1/responses",
        json={"model": CODEX, "input": "hi", "stream": True},
        headers={"authorization": f"Bearer {TEAM_A_KEY}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    assert text.startswith("event: response.created"), "nothing before Azure's first event: the status is Azure's"
    assert text.count(": keep-alive") >= 2, "idle gaps between events are kept alive"
    assert '"response.completed"' in text
    client = OpenAI(base_url=gw.url + "/v1", api_key=TEAM_A_KEY, max_retries=0)
    with client.responses.stream(model=CODEX, input="hi") as stream:
        assert stream.get_final_response().status == "completed", "SDKs ignore SSE comments"


@pytest.mark.parametrize(
    ("path", "body", "fault", "status"),
    [
        ("/v1/responses", {"model": CODEX, "input": "hi", "stream": True}, {"status": 400}, 400),
        ("/v1/responses", {"model": CODEX, "input": "hi", "stream": True}, {"status": 429, "retry_after": 30}, 429),
        (
            "/v1/chat/completions",
            {"model": CODEX, "messages": [{"role": "user", "content": "hi"}], "stream": True},
            {"status": 429, "retry_after": 30},
            429,
        ),
    ],
)
def test_an_azure_error_before_the_stream_starts_is_a_real_http_status(
    gw: GatewayProcess, emulator: Emulator, path: str, body: dict[str, Any], fault: dict[str, Any], status: int
) -> None:
    """Issue 12: a keepalive used to commit 200 first and the error went in-band, which Roo cannot act on."""
    emulator.set_faults(script=[{**fault, "latency_ms": 1500}])  # three keepalive intervals of silence
    response = post(gw, path, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert ": keep-alive" not in response.text
    if status == 429:
        assert response.headers["retry-after"] == "30" and response.headers["retry-after-ms"] == "30000"
    line = line_for(gw, response)
    assert line["status"] == status and line["error_source"] == "azure", line


def test_client_disconnect_releases_upstream_and_concurrency_slot(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(stream_event_delay_ms=400)
    body = json.dumps({"model": CODEX, "input": "long answer", "stream": True}).encode()
    host, port = "127.0.0.1", gw.port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"authorization: Bearer {LIMITED_KEY}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert b"200" in sock.recv(4096).split(b"\r\n", 1)[0]
        assert emulator.stats()["in_flight"] >= 1
    # The client is gone: the upstream stream must be closed and the project's only slot freed.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and emulator.stats()["in_flight"] != 0:
        time.sleep(0.1)
    assert emulator.stats()["in_flight"] == 0
    emulator.set_faults()
    deadline = time.monotonic() + 5
    while True:
        response = post(gw, "/v1/responses", {"model": CODEX, "input": "hi"}, key=LIMITED_KEY)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 200, response.text


# --- limits ------------------------------------------------------------------------------------------------


def test_project_limits_429_with_retry_after_and_other_projects_unaffected(
    gw: GatewayProcess, emulator: Emulator
) -> None:
    statuses = [post(gw, "/v1/embeddings", {"model": EMBED, "input": "x"}, key=LIMITED_KEY) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429], "embeddings_rpm=2 brakes the third call"
    throttled = statuses[-1]
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    error = throttled.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert post(gw, "/v1/embeddings", {"model": EMBED, "input": "x"}, key=TEAM_B_KEY).status_code == 200
    assert len([c for c in upstream(emulator) if c["status"] == 200]) == 3, "throttled calls never reach Azure"


def test_per_project_concurrency_limit(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(latency_ms=800)
    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(
                lambda _: post(
                    gw, "/v1/embeddings", {"model": EMBED, "input": "x"}, key=TEAM_B_KEY if _ == 0 else LIMITED_KEY
                ),
                range(3),
            )
        )
    limited = sorted(r.status_code for r in results[1:])
    assert results[0].status_code == 200
    assert limited == [200, 429] or limited == [429, 429]  # rpm may already be spent by earlier tests
    throttled = next(r for r in results[1:] if r.status_code == 429)
    assert throttled.headers["retry-after"].isdigit()


def test_global_replica_concurrency_cap(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(latency_ms=1200)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: post(gw, "/v1/embeddings", {"model": EMBED, "input": "x"}), range(8)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 4 and statuses.count(429) == 4, statuses
    capped = next(r for r in results if r.status_code == 429)
    assert capped.headers["retry-after"] == "1"
    assert capped.json()["error"]["code"] == "gateway_concurrency_limit"


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content", "content_type", "status", "code"),
    [
        ("/v1/responses", b'{"model": "gpt-5.3-codex", "input": ', "application/json", 400, "invalid_json"),
        ("/v1/responses", b"model=gpt-5.3-codex", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("/v1/responses", b"[1, 2]", "application/json", 400, "invalid_json"),
        ("/v1/responses", b"", "application/json", 400, "empty_body"),
        ("/v1/responses", b'{"input": "hi"}', "application/json", 400, "missing_model"),
        ("/v1/responses", b'{"model": "gpt-6", "input": "hi"}', "application/json", 404, "model_not_found"),
        ("/v1/embeddings", b'{"model": "text-embedding-3-small", "input": []}', "application/json", 400, "empty_input"),
        ("/v1/embeddings", b'{"model": "text-embedding-3-small", "input": ""}', "application/json", 400, "empty_input"),
        (
            "/v1/embeddings",
            b'{"model": "text-embedding-3-small", "input": ["a", ""]}',
            "application/json",
            400,
            "empty_input",
        ),
        (
            "/v1/embeddings",
            json.dumps({"model": EMBED, "input": ["x"] * 2049}).encode(),
            "application/json",
            400,
            "too_many_inputs",
        ),
        ("/v1/embeddings", b'{"model": "gpt-5.3-codex", "input": "x"}', "application/json", 400, "wrong_model_kind"),
        (
            "/v1/responses",
            b'{"model": "gpt-5.3-codex", "input": "' + b"x" * MAX_BODY + b'"}',
            "application/json",
            413,
            "request_too_large",
        ),
    ],
)
def test_bad_input_gets_a_clear_openai_shaped_4xx(
    gw: GatewayProcess, emulator: Emulator, path: str, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = httpx.post(
        gw.url + path,
        content=content,
        headers={"authorization": f"Bearer {TEAM_A_KEY}", "content-type": content_type},
        timeout=30,
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "type" in error
    assert not upstream(emulator)
    assert httpx.get(gw.url + "/health/liveliness", timeout=5).status_code == 200


def test_chunked_body_over_the_limit_is_413(gw: GatewayProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "gpt-5.3-codex", "input": "'
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"y" * 4096
        yield b'"}'

    response = httpx.post(
        gw.url + "/v1/responses",
        content=chunks(),
        headers={"authorization": f"Bearer {TEAM_A_KEY}", "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


# --- telemetry ---------------------------------------------------------------------------------------------

LINE_FIELDS = {
    "event",
    "ts",
    "request_id",
    "project",
    "route",
    "method",
    "model",
    "stream",
    "status",
    "latency_ms",
    "ttfb_ms",
    "upstream_status",
    "attempts",
    "input_tokens",
    "output_tokens",
    "error_class",
    "error_source",
    "upstream_request_id",
    "error_code",
    "incomplete_reason",
    "fitted",
}


def test_exactly_one_line_per_request_with_every_field(gw: GatewayProcess, emulator: Emulator) -> None:
    responses = [
        post(gw, "/v1/responses", {"model": CODEX, "input": "hi"}),
        post(gw, "/v1/responses", {"model": CODEX, "input": "hi", "stream": True}),
        post(gw, "/v1/embeddings", {"model": EMBED, "input": ["a", "b"]}),
        post(gw, "/v1/chat/completions", {"model": CODEX, "messages": [{"role": "user", "content": "hi"}]}),
        post(gw, "/v1/responses", {"model": CODEX, "input": "hi"}, key="sk-wrong-000000000"),
        httpx.get(gw.url + "/v1/models", headers={"authorization": f"Bearer {TEAM_A_KEY}"}),
    ]
    lines = [line_for(gw, r) for r in responses]
    for line in lines:
        assert set(line) >= LINE_FIELDS
    ok, streamed, embedded, chat, unauthorized, models = lines
    assert ok["project"] == "team-a" and ok["model"] == CODEX and ok["status"] == 200 and ok["attempts"] == 1
    assert ok["input_tokens"] > 0 and ok["output_tokens"] > 0 and ok["upstream_status"] == 200
    assert streamed["stream"] is True and 0 < streamed["ttfb_ms"] <= streamed["latency_ms"]
    assert streamed["output_tokens"] > 0
    assert embedded["route"] == "/v1/embeddings" and embedded["input_tokens"] > 0
    assert chat["route"] == "/v1/chat/completions" and chat["output_tokens"] > 0
    assert unauthorized["status"] == 401 and unauthorized["project"] is None
    assert unauthorized["error_source"] == "gateway" and unauthorized["error_class"] == "invalid_api_key"
    assert models["attempts"] == 0 and models["upstream_status"] is None


def test_canary_never_in_output_on_every_path(gw: GatewayProcess, emulator: Emulator) -> None:
    canary = "CANARY-2c8e1d-secret-source-code"
    body = {"model": CODEX, "input": f"{canary} [[say:{canary}]]"}
    # success, streaming, upstream failure, retry, embeddings, bad request, client disconnect
    assert post(gw, "/v1/responses", body).status_code == 200
    assert canary in post(gw, "/v1/responses", {**body, "stream": True}).text
    emulator.set_faults(script=[{"status": 400}])
    assert post(gw, "/v1/responses", body).status_code == 400
    emulator.set_faults(script=[{"status": 500}])
    assert (
        post(
            gw, "/v1/chat/completions", {"model": CODEX, "messages": [{"role": "user", "content": canary}]}
        ).status_code
        == 200
    )
    emulator.set_faults(script=[{"status": 429, "retry_after": 0}])
    assert post(gw, "/v1/embeddings", {"model": EMBED, "input": [canary]}).status_code == 200
    assert post(gw, "/v1/embeddings", {"model": EMBED, "input": [canary, ""]}).status_code == 400
    emulator.set_faults(stream_event_delay_ms=300)
    done = threading.Event()

    def abandon() -> None:
        with httpx.stream(
            "POST",
            gw.url + "/v1/responses",
            json={**body, "stream": True},
            headers={"authorization": f"Bearer {TEAM_A_KEY}"},
            timeout=10,
        ) as r:
            next(r.iter_bytes())
        done.set()

    abandon()
    assert done.is_set()
    time.sleep(0.5)
    output = gw.output()
    assert canary not in output
    assert TEAM_A_KEY not in output and LIMITED_KEY not in output

"""Nothing a client sends through /v1/chat/completions can choose where the gateway's call goes (issue 11).

Against the real gateway process, with the capturing fake Azure as the upstream: every provider name LiteLLM
knows, and every field LiteLLM (or a provider SDK) reads to pick the provider, deployment, endpoint,
api-version, credentials or headers, either gets a 4xx or produces exactly one request to the configured
endpoint path, deployment and api-version, carrying none of the client's extra headers. The process makes
no other connection: the host a steered `api_base` names receives nothing, the recording proxy (the
process's HTTP(S)_PROXY) receives nothing, and, under strace, no connect(2) goes anywhere but the capture.

Also here, the rest of the chat route's surface: LiteLLM's `/v1/model/info`, CORS and `x-litellm-*` headers,
an upstream `Set-Cookie`, Azure error text echoing the prompt in logs, two `Authorization` headers, deep JSON.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx
import pytest

from tests.helpers import TEAM_A_KEY, TEAM_B_KEY, request_lines
from tests.security.capture import Answer, CaptureAzure, Captured, RecordingProxy
from tests.security.conftest import ALIAS, API_VERSION, AZURE_KEY, DEPLOYMENT, TracedGateway

pytestmark = pytest.mark.e2e

AUTH = {"authorization": f"Bearer {TEAM_A_KEY}"}
MESSAGES = [{"role": "user", "content": "hello"}]
EXPECTED_PATH = "/openai/responses"  # the dated api-version's route
CLIENT_CHOICE = "client-chosen-key"  # what a client would like the gateway to send to Azure instead of its own
CLIENT_HEADER_VALUES = ("evil.example", CLIENT_CHOICE, "steered")


def chat(gateway: TracedGateway, body: dict[str, Any], headers: Any = None) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/chat/completions", headers=headers or AUTH, json=body, timeout=60)


def telemetry_line(gateway: TracedGateway, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [line for line in request_lines(gateway.output()) if line["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no telemetry line for {request_id}")


def routing_attempts(elsewhere: str) -> dict[str, Any]:
    """Each field LiteLLM honours to pick the upstream, with a value that would steer it."""
    return {
        "deployment_id": "gpt-4o",
        "api_base": elsewhere,
        "base_url": elsewhere,
        "api_version": "2024-02-01",
        "api_key": CLIENT_CHOICE,
        "extra_headers": {"Host": "evil.example", "api-key": CLIENT_CHOICE, "x-steer": "steered"},
        "extra_body": {"api_base": elsewhere, "model": "gpt-4o", "api_version": "2024-02-01"},
        "extra_query": {"api-version": "2024-02-01"},
        "mock_response": "steered",
        "user_config": {"model_list": [{"model_name": ALIAS, "litellm_params": {"model": "openai/x"}}]},
        "model_list": [{"model_name": ALIAS, "litellm_params": {"model": "openai/x", "api_base": elsewhere}}],
        "azure_ad_token": CLIENT_CHOICE,
        "litellm_params": {"api_base": elsewhere},
        "headers": {"api-key": CLIENT_CHOICE},
        "organization": "steered",
        "timeout": 0.001,
    }


def assert_refused_or_configured(response: httpx.Response, upstream: list[Captured], what: str) -> None:
    """A 4xx with nothing sent, or one request to the configured deployment, path and api-version."""
    if 400 <= response.status_code < 500:
        assert upstream == [], f"{what}: refused ({response.status_code}) yet something reached Azure"
        return
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:300]}"
    assert len(upstream) == 1, f"{what}: {len(upstream)} upstream requests"
    request = upstream[0]
    assert (request.method, request.path) == ("POST", EXPECTED_PATH), what
    assert request.query == [("api-version", API_VERSION)], what
    assert request.json()["model"] == DEPLOYMENT, what
    assert request.header("api-key") == [AZURE_KEY], what
    sent = " ".join(f"{k}: {v}" for k, v in request.headers)
    for value in CLIENT_HEADER_VALUES:
        assert value not in sent, f"{what}: the client's header value {value!r} reached Azure"
    assert "x-steer" not in sent.lower() and "gateway-key" not in sent.lower(), what


def assert_nothing_else_contacted(
    gateway: TracedGateway, capture: CaptureAzure, elsewhere: CaptureAzure, proxy: RecordingProxy
) -> None:
    assert elsewhere.requests() == [], "a steered api_base/base_url was called"
    assert proxy.attempts == [], f"the gateway tried to reach {[a.target for a in proxy.attempts]}"
    connections = gateway.connections()
    if connections is not None:  # strace is installed: every connect(2) of the process is known
        others = {(c.address, c.port) for c in connections} - {("127.0.0.1", capture.port)}
        assert not others, f"the gateway connected to {sorted(others)}"


def test_the_configured_route_is_what_reaches_azure(steered: TracedGateway, capture: CaptureAzure) -> None:
    """The baseline the attacks are compared against: the capture sees the configured call, and a stream works."""
    response = chat(steered, {"model": ALIAS, "messages": MESSAGES})
    assert_refused_or_configured(response, capture.requests(), "plain chat")
    assert response.json()["choices"][0]["message"]["content"] == "captured answer"
    assert response.json()["model"] == ALIAS, "the deployment name is not shown to clients"
    capture.clear()
    stream = chat(steered, {"model": ALIAS, "messages": MESSAGES, "stream": True})
    assert stream.text.rstrip().endswith("data: [DONE]")
    assert_refused_or_configured(stream, capture.requests(), "streamed chat")
    assert capture.requests()[0].json()["store"] is False, "nothing is stored in Azure unless asked for"


def test_every_litellm_provider_name_is_refused_or_ignored(
    steered: TracedGateway, capture: CaptureAzure, elsewhere: CaptureAzure, recording_proxy: RecordingProxy
) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch from GitHub at import
    import litellm

    providers = sorted({str(getattr(p, "value", p)) for p in litellm.provider_list})
    assert len(providers) > 50, "LiteLLM's provider list is where these names come from"
    failures = []
    for provider in providers:
        capture.clear()
        body = {"model": ALIAS, "messages": MESSAGES, "custom_llm_provider": provider}
        response = chat(steered, body)
        try:
            assert_refused_or_configured(response, capture.requests(), provider)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, failures[:10]
    assert_nothing_else_contacted(steered, capture, elsewhere, recording_proxy)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_routing_fields_are_refused_or_ignored(
    steered: TracedGateway,
    capture: CaptureAzure,
    elsewhere: CaptureAzure,
    recording_proxy: RecordingProxy,
    stream: bool,
) -> None:
    failures = []
    for field, value in routing_attempts(elsewhere.url).items():
        capture.clear()
        response = chat(steered, {"model": ALIAS, "messages": MESSAGES, "stream": stream, field: value})
        try:
            assert_refused_or_configured(response, capture.requests(), field)
            if response.status_code == 400:
                error = response.json()["error"]
                assert error["param"] == field and field in error["message"], error
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, failures
    assert_nothing_else_contacted(steered, capture, elsewhere, recording_proxy)


def test_metadata_cannot_route(
    steered: TracedGateway, capture: CaptureAzure, elsewhere: CaptureAzure, recording_proxy: RecordingProxy
) -> None:
    """`metadata` is Azure's tags for a response: strings only, with no meaning for where the call goes."""
    tags = {"model": "gpt-4o", "deployment": "gpt-4o", "deployment_id": "gpt-4o", "api_base": elsewhere.url}
    response = chat(steered, {"model": ALIAS, "messages": MESSAGES, "metadata": tags, "store": True})
    assert_refused_or_configured(response, capture.requests(), "metadata")
    sent = capture.requests()[0].json()
    assert {k: sent["metadata"][k] for k in tags} == tags, "tags reach Azure as tags"
    assert sent["metadata"]["aigateway_project"] == "team-a", "a stored chat response is tagged with its owner"
    capture.clear()
    nested = chat(steered, {"model": ALIAS, "messages": MESSAGES, "metadata": {"litellm_params": {"api_base": "x"}}})
    assert nested.status_code == 400 and nested.json()["error"]["param"] == "metadata"
    assert capture.requests() == []
    assert_nothing_else_contacted(steered, capture, elsewhere, recording_proxy)


def test_a_remote_image_url_is_not_fetched_by_the_gateway(
    steered: TracedGateway, capture: CaptureAzure, elsewhere: CaptureAzure, recording_proxy: RecordingProxy
) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://images.example.org/cat.png"}}
    body = {"model": ALIAS, "messages": [{"role": "user", "content": [{"type": "text", "text": "what"}, image]}]}
    response = chat(steered, body)
    assert_refused_or_configured(response, capture.requests(), "image_url")
    assert_nothing_else_contacted(steered, capture, elsewhere, recording_proxy)


def test_litellm_model_info_route_is_gone(steered: TracedGateway, capture: CaptureAzure) -> None:
    for path in ("/v1/model/info", "/model/info", "/v1/model_group/info", "/v1/health"):
        response = httpx.get(steered.url + path, headers=AUTH, timeout=10)
        assert response.status_code == 404, path
        assert capture.url not in response.text and DEPLOYMENT not in response.text
    assert capture.requests() == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_chat_answers_carry_no_cors_or_litellm_headers(
    steered: TracedGateway, capture: CaptureAzure, stream: bool
) -> None:
    headers = {**AUTH, "origin": "https://attacker.example"}
    response = chat(steered, {"model": ALIAS, "messages": MESSAGES, "stream": stream}, headers)
    assert response.status_code == 200
    for name, value in response.headers.items():
        assert not name.lower().startswith(("access-control-", "x-litellm", "llm_provider")), name
        assert capture.url not in value and str(capture.port) not in value, name
    preflight = httpx.options(
        steered.url + "/v1/chat/completions",
        headers={"origin": "https://attacker.example", "access-control-request-method": "POST"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_upstream_set_cookie_is_neither_relayed_nor_replayed(steered: TracedGateway, capture: CaptureAzure) -> None:
    capture.answer_next(Answer(headers=(("set-cookie", "affinity=team-a-secret; Path=/"),)))
    first = chat(steered, {"model": ALIAS, "messages": MESSAGES})
    assert first.status_code == 200 and "set-cookie" not in first.headers
    second = httpx.post(
        steered.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {TEAM_B_KEY}"},
        json={"model": ALIAS, "messages": MESSAGES},
        timeout=60,
    )
    assert second.status_code == 200
    assert [r.header("cookie") for r in capture.requests()] == [[], []], "a cookie from Azure was sent back"


def test_an_azure_error_echoing_the_prompt_stays_out_of_the_logs(steered: TracedGateway, capture: CaptureAzure) -> None:
    canary = "CANARY-7f3a9c-prompt-text"

    def echo(request: Captured) -> dict[str, Any]:
        return {"error": {"message": f"Invalid input: {request.body.decode()}", "type": "invalid_request_error"}}

    capture.answer_next(Answer(status=400, body=echo))
    response = chat(steered, {"model": ALIAS, "messages": [{"role": "user", "content": canary}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "litellm" not in json.dumps(error).lower() and "AzureException" not in error["message"]
    line = telemetry_line(steered, response.headers["x-request-id"])
    assert (line["status"], line["upstream_status"], line["error_source"]) == (400, 400, "azure")
    output = steered.output()
    assert canary not in output
    body_lines = output.split("aigateway: models", 1)[1].splitlines()[1:]  # after the start-up banner
    for text in body_lines:
        assert isinstance(json.loads(text), dict), f"not a JSON log line: {text[:200]}"


def test_rate_limits_and_failures_are_openai_shaped_without_azure_internals(
    steered: TracedGateway, capture: CaptureAzure
) -> None:
    region = {
        "error": {
            "code": "RateLimitReached",
            "message": "Your requests to codex for gpt-5 in South Africa North have exceeded the token rate limit "
            "for your current AIServices S0 pricing tier.",
        }
    }
    throttled = Answer(status=429, body=region, headers=(("retry-after", "30"),))
    capture.answer_next(throttled, throttled, throttled)  # the retry budget (3 attempts) would wait 30 s: no retry
    response = chat(steered, {"model": ALIAS, "messages": MESSAGES})
    assert response.status_code == 429 and response.headers["retry-after"] == "30"
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    for leak in ("South Africa", "S0", "pricing tier", "litellm", "RateLimitError"):
        assert leak not in response.text, leak


@pytest.mark.parametrize(
    "order", [(TEAM_A_KEY, "sk-wrong-0000000000"), ("sk-wrong-0000000000", TEAM_A_KEY), (TEAM_A_KEY, TEAM_B_KEY)]
)
def test_two_authorization_headers_are_a_4xx(steered: TracedGateway, capture: CaptureAzure, order: Any) -> None:
    headers = [("authorization", f"Bearer {order[0]}"), ("authorization", f"Bearer {order[1]}")]
    response = httpx.post(
        steered.url + "/v1/chat/completions", headers=headers, json={"model": ALIAS, "messages": MESSAGES}, timeout=30
    )
    assert 400 <= response.status_code < 500, response.status_code
    assert "error" in response.json()
    assert capture.requests() == []


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json_on_chat_is_a_4xx(steered: TracedGateway, capture: CaptureAzure, depth: int) -> None:
    deep = '{"a":' * depth + "1" + "}" * depth
    tool = '{"type":"function","function":{"name":"f","parameters":' + deep + "}}"
    body = '{"model":"' + ALIAS + '","messages":[{"role":"user","content":"hi"}],"tools":[' + tool + "]}"
    response = httpx.post(
        steered.url + "/v1/chat/completions",
        headers={**AUTH, "content-type": "application/json"},
        content=body,
        timeout=30,
    )
    assert 400 <= response.status_code < 500, response.status_code
    assert capture.requests() == []

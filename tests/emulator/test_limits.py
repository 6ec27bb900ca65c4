"""Per-deployment rate limits: RPM over 10 s windows, TPM over 60 s, Azure's 429 body and headers."""

from __future__ import annotations

from starlette.testclient import TestClient

from aigateway.emulator import Deployment, EmulatorConfig, create_app
from aigateway.emulator.limits import RateLimiter

from .conftest import AUTH, DATED


def limited_client(**limits: int) -> TestClient:
    config = EmulatorConfig()
    for dep in config.deployments.values():
        dep.rpm = limits.get("rpm")
        dep.tpm = limits.get("tpm")
    return TestClient(create_app(config))


def test_rpm_is_enforced_per_10_seconds_with_azures_call_rate_body() -> None:
    client = limited_client(rpm=12)  # ceil(12 / 6) = 2 requests per 10 s
    url = f"/openai/deployments/text-embedding-3-small/embeddings?api-version={DATED}"
    first = client.post(url, json={"input": "x"}, headers=AUTH)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "12"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert client.post(url, json={"input": "x"}, headers=AUTH).status_code == 200
    third = client.post(url, json={"input": "x"}, headers=AUTH)
    assert third.status_code == 429
    retry_after = int(third.headers["retry-after"])
    assert 1 <= retry_after <= 10
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    assert third.headers["x-ratelimit-limit-requests"] == "12"
    assert third.json() == {
        "error": {
            "code": "RateLimitReached",
            "message": "Your requests to text-embedding-3-small for text-embedding-3-small in South Africa North "
            "have exceeded the call rate limit for your current AIServices S0 pricing tier. This request was for "
            f"Embeddings_Create under Azure OpenAI API version {DATED}. Please retry after {retry_after} seconds. "
            "To increase your default rate limit, visit: https://aka.ms/oai/quotaincrease.",
        }
    }
    # Limits are per deployment: another deployment is unaffected.
    other = "/openai/deployments/text-embedding-3-large/embeddings?api-version=2024-10-21"
    assert client.post(other, json={"input": "x"}, headers=AUTH).status_code == 200


def test_tpm_breach_says_token_rate_limit_and_v1_wording() -> None:
    client = limited_client(tpm=100)
    body = {"model": "gpt-5.3-codex", "input": "a" * 400, "max_output_tokens": 16}  # 116 estimated tokens
    first = client.post("/openai/v1/responses", json=body, headers=AUTH)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "100"
    assert first.headers["x-ratelimit-remaining-tokens"] == "0"
    second = client.post("/openai/v1/responses", json=body, headers=AUTH)
    assert second.status_code == 429
    assert second.headers["x-ratelimit-limit-tokens"] == "100"
    assert second.headers["x-ratelimit-remaining-tokens"] == "0"
    assert second.headers["policy-id"] == "DeploymentRatelimit-Token"
    message = second.json()["error"]["message"]
    assert "exceeded the token rate limit" in message
    assert "This request was for Responses_Create under OpenAI Language Model Instance API." in message
    assert 50 <= int(second.headers["retry-after"]) <= 60


def test_chat_operation_name_in_429() -> None:
    client = limited_client(rpm=1)
    url = f"/openai/deployments/gpt-4o/chat/completions?api-version={DATED}"
    msgs = {"messages": [{"role": "user", "content": "x"}]}
    assert client.post(url, json=msgs, headers=AUTH).status_code == 200
    r = client.post(url, json=msgs, headers=AUTH)
    assert r.status_code == 429
    assert "ChatCompletions_Create" in r.json()["error"]["message"]


def test_no_limits_means_no_ratelimit_headers(client: TestClient) -> None:
    r = client.post("/openai/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"}, headers=AUTH)
    assert not any(h.startswith("x-ratelimit") for h in r.headers)


def test_windows_slide() -> None:
    limiter = RateLimiter()
    dep = Deployment(model="m", kind="embeddings", rpm=6, tpm=1000)  # 1 call per 10 s
    assert limiter.check("d", dep, 10, now=100.0).allowed
    refused = limiter.check("d", dep, 10, now=105.0)
    assert not refused.allowed
    assert refused.kind == "call"
    assert refused.retry_after == 5.0
    assert limiter.check("d", dep, 10, now=110.01).allowed
    tokens = Deployment(model="m", kind="embeddings", tpm=100)
    assert limiter.check("t", tokens, 60, now=0.0).allowed
    assert limiter.check("t", tokens, 60, now=1.0).allowed  # 60 < 100 when it arrived
    refused = limiter.check("t", tokens, 1, now=2.0)
    assert not refused.allowed
    assert refused.kind == "token"
    assert refused.retry_after == 58.0
    assert limiter.check("t", tokens, 1, now=60.5).allowed  # the first 60 expired


def test_limits_can_be_set_at_run_time(client: TestClient) -> None:
    r = client.put("/_emulator/limits", json={"text-embedding-3-small": {"rpm": 6}})
    assert r.status_code == 200
    assert r.json()["text-embedding-3-small"] == {"rpm": 6, "tpm": None}
    body = {"model": "text-embedding-3-small", "input": "x"}
    assert client.post("/openai/v1/embeddings", json=body, headers=AUTH).status_code == 200
    assert client.post("/openai/v1/embeddings", json=body, headers=AUTH).status_code == 429
    assert client.put("/_emulator/limits", json={"nope": {"rpm": 1}}).status_code == 400
    client.put("/_emulator/limits", json={"text-embedding-3-small": {"rpm": None}})
    assert client.post("/openai/v1/embeddings", json=body, headers=AUTH).status_code == 200

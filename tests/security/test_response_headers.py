"""Upstream response headers reach clients by allow-list: nothing that names Azure, its quota or its proxies,
nothing that acts on the client (cookies, CORS), whatever Azure or LiteLLM add."""

from __future__ import annotations

import pytest

from aigateway.proxy.downstream import clean_headers

# What Azure OpenAI, its API management layer and LiteLLM's proxy were seen to send (issue 11, point 7).
UPSTREAM = [
    (b"Content-Type", b"application/json"),
    (b"Content-Length", b"42"),
    (b"Set-Cookie", b"ARRAffinity=abc; Path=/; HttpOnly"),
    (b"x-ratelimit-remaining-requests", b"99"),
    (b"x-ratelimit-remaining-tokens", b"299000"),
    (b"x-ratelimit-limit-tokens", b"300000"),
    (b"request-id", b"0a1b2c3d"),
    (b"x-request-id", b"upstream-id"),
    (b"apim-request-id", b"0a1b2c3d"),
    (b"x-ms-region", b"South Africa North"),
    (b"x-ms-deployment-name", b"gpt-5.3-codex"),
    (b"azureml-model-session", b"d001"),
    (b"x-aml-cluster", b"hyena-southafricanorth-01"),
    (b"x-envoy-upstream-service-time", b"812"),
    (b"x-powered-by", b"ASP.NET"),
    (b"server", b"uvicorn"),
    (b"openai-processing-ms", b"800"),
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-credentials", b"true"),
    (b"x-litellm-model-api-base", b"https://pvc-prod-openai-san.openai.azure.com"),
    (b"llm_provider-x-ms-region", b"South Africa North"),
    (b"strict-transport-security", b"max-age=31536000"),
]


def names(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [name.lower() for name, _ in headers]


def test_only_allow_listed_upstream_headers_and_our_request_id_reach_the_client() -> None:
    cleaned = clean_headers(UPSTREAM, 200, "ours123")
    assert names(cleaned) == [b"content-type", b"content-length", b"x-request-id"]
    assert (b"x-request-id", b"ours123") in cleaned, "the request id is ours, never Azure's"


def test_an_unknown_header_azure_adds_tomorrow_stays_inside() -> None:
    cleaned = clean_headers([*UPSTREAM, (b"x-azure-new-diagnostics", b"region=san")], 200, "r")
    assert b"x-azure-new-diagnostics" not in names(cleaned)


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_keeps_a_whole_second_retry_after_and_nothing_of_azures_quota(status: int) -> None:
    upstream = [*UPSTREAM, (b"retry-after", b"2.4")]
    cleaned = dict(clean_headers(upstream, status, "r"))
    assert cleaned[b"retry-after"] == b"3", "Azure's value, rounded up to whole seconds"
    assert not any(name.startswith(b"x-ratelimit") for name in cleaned)


def test_event_streams_are_marked_unbuffered() -> None:
    cleaned = dict(
        clean_headers([(b"content-type", b"text/event-stream"), (b"cache-control", b"max-age=60")], 200, "r")
    )
    assert cleaned[b"cache-control"] == b"no-cache"
    assert cleaned[b"x-accel-buffering"] == b"no"

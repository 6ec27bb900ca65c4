"""The chat bridge's own rules, without LiteLLM: credentials handed on, errors worded, objects cleaned.

The end-to-end tests (tests/e2e, tests/security) run the real LiteLLM against the emulator and the capture.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from aigateway.proxy import chat_bridge
from aigateway.proxy.azure_auth import ApiKeyAuth
from aigateway.proxy.telemetry import RequestRecord


class FakeTimeout(Exception):
    pass


FAKE_LITELLM = SimpleNamespace(Timeout=FakeTimeout)
TARGET = chat_bridge.BridgeTarget("https://r.openai.azure.com", "preview", {"codex": "codex-prod"}, 60, False)


class EntraHeaders:
    async def headers(self) -> dict[str, str]:
        return {"authorization": "Bearer token-123"}


def record(attempts: int = 0, upstream: int | None = None) -> RequestRecord:
    return RequestRecord(
        request_id="r", route="/v1/chat/completions", method="POST", attempts=attempts, upstream_status=upstream
    )


def test_credentials_are_the_gateways_key_or_entra_token() -> None:
    azure = "azure-key"
    with_key = chat_bridge.ChatBridge(FAKE_LITELLM, TARGET, ApiKeyAuth(azure))
    with_token = chat_bridge.ChatBridge(FAKE_LITELLM, TARGET, EntraHeaders())
    assert asyncio.run(with_key._credentials()) == {"api_key": azure}
    assert asyncio.run(with_token._credentials()) == {"azure_ad_token": "token-123"}


class AzureError(Exception):
    def __init__(self, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.litellm_response_headers = headers or {}


def test_a_429_keeps_azures_wait_within_what_sdks_honour_and_hides_the_region() -> None:
    exc = AzureError(
        'litellm.RateLimitError: AzureException RateLimitError - {"error":{"message":"in South Africa North, S0"}}',
        {"Retry-After": "7"},
    )
    failure = chat_bridge._failure(FAKE_LITELLM, exc, record(3, 429))
    assert (failure.status, failure.code, failure.retry_after) == (429, "rate_limit_exceeded", "7")
    assert "South Africa" not in failure.message and "litellm" not in failure.message.lower()
    late = chat_bridge._failure(FAKE_LITELLM, AzureError("x", {"retry-after-ms": "90500"}), record(1, 429))
    assert late.retry_after == "59"


def test_azures_own_4xx_message_reaches_the_client_without_litellms_wrapping() -> None:
    text = (
        'litellm.BadRequestError: AzureException BadRequestError - {"error":{"message":"Invalid tools[0]",'
        '"type":"invalid_request_error","code":"invalid_value","param":"tools"}}'
    )
    failure = chat_bridge._failure(FAKE_LITELLM, AzureError(text), record(1, 400))
    assert (failure.status, failure.message, failure.code, failure.param) == (
        400,
        "Invalid tools[0]",
        "invalid_value",
        "tools",
    )


@pytest.mark.parametrize(
    ("exc", "attempts", "upstream", "status", "code", "source"),
    [
        (FakeTimeout("t"), 1, None, 504, "upstream_timeout", "azure"),
        (ConnectionError("refused"), 3, None, 502, "upstream_unreachable", "azure"),
        (ValueError("stream broke"), 1, 200, 502, "upstream_answer_failed", "azure"),
        (SimpleNamespace(status_code=400), 0, None, 400, "unsupported_chat_request", "gateway"),
        (RuntimeError("bug"), 0, None, 500, "bridge_error", "gateway"),
        (AzureError("x"), 1, 401, 401, "upstream_auth_failed", "azure"),
        (AzureError("x", {"retry-after": "2"}), 3, 503, 503, "upstream_failed", "azure"),
    ],
)
def test_every_failure_is_worded_by_the_gateway(
    exc: Any, attempts: int, upstream: int | None, status: int, code: str, source: str
) -> None:
    rec = record(attempts, upstream)
    failure = chat_bridge.ChatBridge(FAKE_LITELLM, TARGET, ApiKeyAuth("k")).failure(exc, rec)
    assert (failure.status, failure.code, rec.error_source, rec.error_class) == (status, code, source, code)
    assert "litellm" not in failure.message.lower()


def test_chat_objects_carry_the_alias_and_no_provider_internals() -> None:
    class Result:
        def model_dump(self, **_: Any) -> dict[str, Any]:
            return {
                "id": "resp_1",
                "model": "codex-prod",
                "provider_specific_fields": {"metadata": {"aigateway_project": "a"}},
                "metadata": {},
                "choices": [{"index": 0, "delta": {"content": "hi", "provider_specific_fields": {}}}],
                "usage": {"prompt_tokens": 1, "cost": 0.1},
            }

    data = chat_bridge._chat_object(Result(), "gpt-5.3-codex")
    assert data == {
        "id": "resp_1",
        "model": "gpt-5.3-codex",
        "choices": [{"index": 0, "delta": {"content": "hi"}}],
        "usage": {"prompt_tokens": 1},
    }

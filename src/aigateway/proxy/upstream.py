"""Retries to Azure, the same for both ways the gateway reaches it.

`retrying()` is the loop: 429, 408, 5xx, timeouts and connection failures are retried with bounded attempts
and total time, Azure's `Retry-After` honoured up to a cap, jittered exponential backoff otherwise, and no
sleep after the last attempt; attempts and Azure's final status go on the request's telemetry record. It
knows nothing of the HTTP library: the direct path (`passthrough`, aiohttp) and LiteLLM's path
(`UpstreamTransport` under every httpx client LiteLLM creates; LiteLLM 1.108.7's own loop sleeps once more
after the last attempt, so it is switched off) both run it.

A response is handed on as soon as its headers arrive, so a stream that has started is never retried:
failures after that point surface as in-band errors.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from aigateway.proxy.telemetry import current_record

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
HTTPX_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, TimeoutError)

R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    max_seconds: float = 60.0
    retry_after_cap_seconds: float = 20.0

    def backoff(self, attempt: int) -> float:
        """Jittered exponential backoff after failed attempt number `attempt` (1-based)."""
        ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def delay_after(self, headers: Mapping[str, str], attempt: int) -> float | None:
        """Seconds to wait before retrying a response with these headers, or None when not worth it."""
        retry_after = parse_retry_after(headers)
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.retry_after_cap_seconds:
            return None  # Azure asks for longer than we hold a client: hand its 429 and Retry-After back
        return retry_after + random.uniform(0, 0.25)  # noqa: S311


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, else `retry-after` in seconds or as an HTTP date; None when absent or invalid.

    `headers` must look names up case-insensitively (httpx.Headers, aiohttp's CIMultiDictProxy)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


async def retrying(
    policy: RetryPolicy,
    send: Callable[[], Awaitable[R]],
    status: Callable[[R], int],
    headers: Callable[[R], Mapping[str, str]],
    discard: Callable[[R], Awaitable[None]],
    transient: tuple[type[BaseException], ...],
) -> R:
    """Send until a response is final. Only the first attempt has the full upstream timeout (a
    non-streaming reasoning call can take minutes); retries wait for headers only as long as the retry
    budget, counted from the first failure, has left. Once a body streams, only the read timeout applies."""
    record = current_record.get()
    deadline: float | None = None
    attempt = 0
    while True:
        attempt += 1
        if record is not None:
            record.attempts = attempt
        try:
            if deadline is None:
                response = await send()
            else:
                response = await asyncio.wait_for(send(), max(0.001, deadline - time.monotonic()))
        except transient:
            if record is not None:
                record.upstream_status = None
            deadline = deadline or time.monotonic() + policy.max_seconds
            delay = policy.backoff(attempt)
            if attempt >= policy.attempts or time.monotonic() + delay >= deadline:
                raise
            await asyncio.sleep(delay)
            continue
        code = status(response)
        if record is not None:
            record.upstream_status = code
        if code not in RETRYABLE_STATUS or attempt >= policy.attempts:
            return response
        deadline = deadline or time.monotonic() + policy.max_seconds
        wait = policy.delay_after(headers(response), attempt)
        if wait is None or time.monotonic() + wait >= deadline:
            return response
        await discard(response)
        await asyncio.sleep(wait)


class UpstreamTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await retrying(
            self._policy,
            lambda: self._inner.handle_async_request(request),
            lambda response: response.status_code,
            lambda response: response.headers,
            lambda response: response.aclose(),
            HTTPX_TRANSIENT_ERRORS,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


_installed_policy: RetryPolicy | None = None


def install(policy: RetryPolicy) -> None:
    """Route every httpx client LiteLLM creates through UpstreamTransport (call before LiteLLM starts)."""
    global _installed_policy
    from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

    if _installed_policy is None:
        original = AsyncHTTPHandler.create_async_transport

        def create_async_transport(*args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
            inner = original(*args, **kwargs) or httpx.AsyncHTTPTransport()
            return UpstreamTransport(inner, _installed_policy or RetryPolicy())

        setattr(AsyncHTTPHandler, "create_async_transport", staticmethod(create_async_transport))  # noqa: B010
        setattr(AsyncHTTPHandler, "_create_async_transport", staticmethod(create_async_transport))  # noqa: B010
    _installed_policy = policy

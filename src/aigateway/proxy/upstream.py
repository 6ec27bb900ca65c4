"""Retries to Azure, the same for both ways the gateway reaches it.

`retrying()` is the loop: 429, 408, 5xx, timeouts and connection failures are retried with bounded attempts
and total time, Azure's `Retry-After` honoured up to a cap, jittered exponential backoff otherwise, and no
sleep after the last attempt; attempts and Azure's final status go on the request's telemetry record. It
knows nothing of the HTTP library: the direct path (`passthrough`, aiohttp) and LiteLLM's path
(`UpstreamTransport` under every httpx client LiteLLM creates; LiteLLM 1.108.7's own loop sleeps once more
after the last attempt, so it is switched off) both run it.

A response is handed on as soon as its headers arrive, so a stream that has started is never retried:
failures after that point surface as in-band errors (`stream_errors`). Nor is a 400 ever retried, Azure's
`content_filter` included: the same prompt would be filtered again.

Retries must not multiply the load they react to (issue 12: one Roo request made 9-12 Azure calls under
sustained 429s). So:
- a client that retries by itself gets Azure's 429 (with its Retry-After) at once, never a gateway retry on
  top of its own: OpenAI SDKs say so with `x-stainless-retry-count`, and a request whose body the gateway
  answered with 429 moments ago is a client retry whatever it says (Roo's native provider re-sends the same
  body with plain `fetch` after its SDK gave up). 5xx and connection failures are still retried, bounded;
- every retry spends from a per-replica budget, as Envoy's retry budgets do: retries in the last
  10 s stay within a percentage of the requests in that window, except that a few retries may always be
  in flight (so a quiet replica still retries);
- a stream's whole wait before Azure's headers (attempts and sleeps) is bounded below the ingress idle
  timeout: no byte goes to the client before Azure has started (the status a client sees is Azure's), so
  the gateway answers with the last status, or 504, before the ingress would cut the silent connection.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import random
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from aigateway.proxy.stream_errors import StreamGuard
from aigateway.proxy.telemetry import current_record, upstream_request_id

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
HTTPX_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, TimeoutError)

R = TypeVar("R")


# The client's own retry counter (OpenAI's SDKs, Python and Node, send it on every attempt).
CLIENT_RETRY_HEADER = "x-stainless-retry-count"
BUDGET_WINDOW_SECONDS = 10.0
# How long a body answered with 429/503 marks a re-send of it as the client's own retry: longer than the
# longest Retry-After a client is given (59 s) plus its backoff.
CLIENT_RETRY_MEMORY_SECONDS = 120.0
_CLIENT_RETRY_MEMORY_ENTRIES = 4096


class RetryBudget:
    """Envoy's retry budget, per replica: a retry is allowed while fewer than `min_concurrency` retries are
    in flight, or while the retries of the last 10 s stay within `percent` of the requests of that window."""

    def __init__(self, percent: float = 20.0, min_concurrency: int = 3, window: float = BUDGET_WINDOW_SECONDS) -> None:
        self.percent = percent
        self.min_concurrency = min_concurrency
        self.window = window
        self.active = 0
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def note_request(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._prune(now)
        self._requests.append(now)

    def acquire(self, now: float | None = None) -> bool:
        """Take one retry from the budget (then `release` it when its attempt is over), or refuse."""
        now = time.monotonic() if now is None else now
        self._prune(now)
        within = (len(self._retries) + 1) * 100 <= self.percent * len(self._requests)
        if self.active >= self.min_concurrency and not within:
            return False
        self._retries.append(now)
        self.active += 1
        return True

    def release(self) -> None:
        self.active -= 1

    def _prune(self, now: float) -> None:
        for times in (self._requests, self._retries):
            while times and times[0] <= now - self.window:
                times.popleft()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    max_seconds: float = 60.0
    retry_after_cap_seconds: float = 20.0
    # A stream's whole wait for Azure's headers, retries included; below the ingress's 240 s idle timeout.
    prestream_max_seconds: float = 200.0
    budget: RetryBudget | None = field(default=None, compare=False)

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


class ClientThrottles:
    """Bodies this replica recently answered with 429/503, by digest (of project, route and body; never the
    body itself): when the same project sends the same body again, the client is retrying by itself."""

    def __init__(self, memory_seconds: float = CLIENT_RETRY_MEMORY_SECONDS) -> None:
        self._memory = memory_seconds
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    def seen(self, digest: bytes, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        at = self._seen.get(digest)
        return at is not None and now - at < self._memory

    def note(self, digest: bytes, now: float | None = None) -> None:
        self._seen[digest] = time.monotonic() if now is None else now
        self._seen.move_to_end(digest)
        while len(self._seen) > _CLIENT_RETRY_MEMORY_ENTRIES:
            self._seen.popitem(last=False)


@dataclass(frozen=True, slots=True)
class ClientAttempt:
    """What the gateway knows about the client's own retrying, for the request being served."""

    retries_itself: bool
    digest: bytes | None


client_throttles = ClientThrottles()
current_client_attempt: ContextVar[ClientAttempt | None] = ContextVar("aigateway_client_attempt", default=None)


def begin_client_attempt(headers: Mapping[str, str], project: str, route: str, body: bytes) -> None:
    """Note, for this request's task, whether the client retries by itself (call before forwarding)."""
    digest = None
    if body:
        hashed = hashlib.blake2b(f"{project}\0{route}\0".encode(), digest_size=16)
        hashed.update(body)
        digest = hashed.digest()
    retries_itself = CLIENT_RETRY_HEADER in headers or (digest is not None and client_throttles.seen(digest))
    current_client_attempt.set(ClientAttempt(retries_itself, digest))


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
    budget, counted from the first failure, has left. Once a body streams, only the read timeout applies.
    A stream's attempts and sleeps together stay within `policy.prestream_max_seconds`."""
    record = current_record.get()
    client = current_client_attempt.get()
    client_retries = client is not None and client.retries_itself
    budget = policy.budget
    if budget is not None:
        budget.note_request()
    started = time.monotonic()
    stream_deadline = started + policy.prestream_max_seconds if record is not None and record.stream else None
    deadline: float | None = None
    attempt = 0
    holding = False  # a retry taken from the budget, given back when its attempt is over
    try:
        while True:
            attempt += 1
            if record is not None:
                record.attempts = attempt
            limit = min((d for d in (deadline, stream_deadline) if d is not None), default=None)
            try:
                if limit is None:
                    response = await send()
                else:
                    response = await asyncio.wait_for(send(), max(0.001, limit - time.monotonic()))
            except transient:
                if record is not None:
                    record.upstream_status = None
                    record.upstream_request_id = None
                deadline = deadline or time.monotonic() + policy.max_seconds
                delay = policy.backoff(attempt)
                if attempt >= policy.attempts or not _fits(delay, deadline, stream_deadline):
                    raise
                holding = _give_back(budget, holding)
                if budget is not None and not budget.acquire():
                    raise
                holding = budget is not None
                await asyncio.sleep(delay)
                continue
            holding = _give_back(budget, holding)
            code = status(response)
            if record is not None:
                record.upstream_status = code
                record.upstream_request_id = upstream_request_id(headers(response))
            if code not in RETRYABLE_STATUS or attempt >= policy.attempts or (code == 429 and client_retries):
                return _answered(response, code, client)
            deadline = deadline or time.monotonic() + policy.max_seconds
            wait = policy.delay_after(headers(response), attempt)
            if wait is None or not _fits(wait, deadline, stream_deadline):
                return _answered(response, code, client)
            if budget is not None and not budget.acquire():
                return _answered(response, code, client)
            holding = budget is not None
            await discard(response)
            await asyncio.sleep(wait)
    finally:
        _give_back(budget, holding)


# The least time worth leaving for an attempt after a sleep; otherwise the client gets the answer now.
_MIN_ATTEMPT_SECONDS = 1.0


def _fits(wait: float, deadline: float, stream_deadline: float | None) -> bool:
    after = time.monotonic() + wait
    if after >= deadline:
        return False
    return stream_deadline is None or after + _MIN_ATTEMPT_SECONDS < stream_deadline


def _give_back(budget: RetryBudget | None, holding: bool) -> bool:
    if holding and budget is not None:
        budget.release()
    return False


def _answered(response: R, code: int, client: ClientAttempt | None) -> R:
    """The final response; a throttled body is remembered, so that its re-send counts as a client retry."""
    if code in (429, 503) and client is not None and client.digest is not None:
        client_throttles.note(client.digest)
    return response


class UpstreamTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await retrying(
                self._policy,
                lambda: self._inner.handle_async_request(request),
                lambda response: response.status_code,
                lambda response: response.headers,
                lambda response: response.aclose(),
                HTTPX_TRANSIENT_ERRORS,
            )
        except TimeoutError as exc:  # the pre-stream bound: LiteLLM maps httpx's timeout to its own (504)
            raise httpx.ReadTimeout("Azure OpenAI did not start the stream in time", request=request) from exc
        record = current_record.get()
        is_stream = response.headers.get("content-type", "").startswith("text/event-stream")
        if record is not None and is_stream and isinstance(response.stream, httpx.AsyncByteStream):
            # LiteLLM turns Azure's in-band errors into exceptions that lose Azure's code; the bridge
            # reads them from the record instead (the bytes LiteLLM sees are unchanged).
            response.stream = _WatchedStream(response.stream, StreamGuard(record, rewrite=False))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _WatchedStream(httpx.AsyncByteStream):
    """Azure's stream as it reaches LiteLLM, watched by a `StreamGuard` that only records."""

    def __init__(self, inner: httpx.AsyncByteStream, guard: StreamGuard) -> None:
        self._inner = inner
        self._guard = guard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._guard.feed(chunk)
            yield chunk
        self._guard.flush()

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

"""The retry loop's bounds (issue 12, points 2 and 3), driven with a scripted upstream and no network."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

import pytest

from aigateway.proxy import upstream
from aigateway.proxy.downstream import client_retry_after, retry_after_headers
from aigateway.proxy.telemetry import RequestRecord, current_record
from aigateway.proxy.upstream import RetryBudget, RetryPolicy


class Scripted:
    """An upstream answering with the given (status, headers) in turn; `None` hangs until cancelled."""

    def __init__(self, *answers: tuple[int, dict[str, str]] | None) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def send(self) -> tuple[int, dict[str, str]]:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is None:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")
        return answer


async def _discard(_: tuple[int, dict[str, str]]) -> None:
    return None


def run(
    policy: RetryPolicy,
    upstream_: Scripted,
    *,
    stream: bool = False,
    headers: Mapping[str, str] | None = None,
    body: bytes = b'{"model":"m"}',
) -> tuple[int, RequestRecord]:
    async def go() -> tuple[int, RequestRecord]:
        record = RequestRecord(request_id="r", route="/v1/responses", method="POST", project="p", stream=stream)
        current_record.set(record)
        upstream.begin_client_attempt(headers or {}, "p", "/v1/responses", body)
        send: Callable[[], Awaitable[tuple[int, dict[str, str]]]] = upstream_.send
        answer = await upstream.retrying(
            policy, send, lambda r: r[0], lambda r: r[1], _discard, (ConnectionError, TimeoutError)
        )
        return answer[0], record

    return asyncio.run(go())


def test_retry_after_is_clamped_to_what_sdks_honour() -> None:
    assert [client_retry_after(s) for s in (0, 0.2, 1, 2.4, 59, 60, 3600)] == [1, 1, 1, 3, 59, 59, 59]
    assert retry_after_headers(60) == [(b"retry-after", b"59"), (b"retry-after-ms", b"59000")]


def test_an_sdk_client_gets_azures_429_at_once_but_its_5xx_are_retried() -> None:
    policy = RetryPolicy(attempts=3, retry_after_cap_seconds=5)
    sdk = {"x-stainless-retry-count": "0"}
    throttled = Scripted((429, {"retry-after": "0"}), (200, {}))
    assert run(policy, throttled, headers=sdk, body=b"a")[0] == 429 and throttled.calls == 1
    failing = Scripted((500, {"retry-after": "0"}), (200, {}))
    assert run(policy, failing, headers=sdk, body=b"b")[0] == 200 and failing.calls == 2


def test_a_body_answered_429_moments_ago_is_a_client_retry() -> None:
    """Roo's native provider re-sends the same body with plain fetch (no SDK headers) after its SDK gave up."""
    policy = RetryPolicy(attempts=3, retry_after_cap_seconds=5)
    first = Scripted((429, {"retry-after": "0"}))
    assert run(policy, first, headers={"x-stainless-retry-count": "2"}, body=b"same")[0] == 429
    fallback = Scripted((429, {"retry-after": "0"}), (200, {}))
    assert run(policy, fallback, body=b"same")[0] == 429 and fallback.calls == 1
    other = Scripted((429, {"retry-after": "0"}), (200, {}))
    assert run(policy, other, body=b"another body")[0] == 200 and other.calls == 2


def test_the_budget_allows_a_few_concurrent_retries_then_a_share_of_recent_requests() -> None:
    budget = RetryBudget(percent=20, min_concurrency=2, window=10)
    for _ in range(10):
        budget.note_request(now=0.0)
    assert budget.acquire(now=1.0) and budget.acquire(now=1.0), "20% of 10 requests"
    assert not budget.acquire(now=1.0), "a third retry is over 20% and 2 are in flight"
    budget.release()
    assert budget.acquire(now=1.0), "under the concurrency floor a retry is always allowed"
    budget.release()
    budget.release()
    assert budget.acquire(now=20.0), "the window moved on: nothing recent, and nothing in flight"


def test_an_exhausted_budget_hands_the_answer_back_instead_of_retrying() -> None:
    budget = RetryBudget(percent=0, min_concurrency=0)
    policy = RetryPolicy(attempts=3, budget=budget)
    failing = Scripted((503, {"retry-after": "0"}), (200, {}))
    assert run(policy, failing, body=b"c")[0] == 503 and failing.calls == 1
    assert budget.active == 0


def test_a_stream_is_answered_before_the_ingress_could_cut_its_silence() -> None:
    policy = RetryPolicy(attempts=5, max_seconds=60, retry_after_cap_seconds=20, prestream_max_seconds=1.5)
    started = time.monotonic()
    throttled = Scripted((429, {"retry-after": "1"}))
    assert run(policy, throttled, stream=True, body=b"d")[0] == 429
    assert throttled.calls == 1, "a 1 s wait plus an attempt does not fit in 1.5 s"
    assert time.monotonic() - started < 0.5
    hanging = Scripted(None)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run(policy, hanging, stream=True, body=b"e")
    assert 1.4 <= time.monotonic() - started < 2.5
    # Not a stream: the first attempt keeps the full upstream timeout (a long reasoning answer).
    slow = Scripted((429, {"retry-after": "1"}), (200, {}))
    assert run(policy, slow, body=b"f")[0] == 200 and slow.calls == 2

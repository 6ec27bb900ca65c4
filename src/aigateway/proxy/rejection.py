"""A request the gateway answers itself: every stage returns one of these instead of answering the client,
so the front is the only place that sends a gateway error, and each stage can be tested without ASGI."""

from __future__ import annotations

from dataclasses import dataclass

from aigateway.proxy.asgi import Send, error_body, respond_json
from aigateway.proxy.downstream import retry_after_headers
from aigateway.proxy.telemetry import RequestRecord


@dataclass(frozen=True, slots=True)
class Rejection:
    status: int
    message: str
    code: str | None
    type: str = "invalid_request_error"
    param: str | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def throttled(cls, message: str, code: str, retry_after: float) -> Rejection:
        """A 429 with the Retry-After SDKs honour: whole seconds, at most 59 (`downstream.retry_after_headers`);
        `message` states the true wait when it is longer."""
        return cls(429, message, code, "rate_limit_error", headers=tuple(retry_after_headers(retry_after)))


async def reject(send: Send, record: RequestRecord, rejection: Rejection) -> None:
    """Answer with the OpenAI-shaped error and record it as the gateway's own."""
    record.status = rejection.status
    record.error_class = rejection.code or rejection.type
    record.error_source = "gateway"
    body = error_body(rejection.message, rejection.type, rejection.code, rejection.param)
    headers = [(b"x-request-id", record.request_id.encode()), *rejection.headers]
    await respond_json(send, rejection.status, body, headers)

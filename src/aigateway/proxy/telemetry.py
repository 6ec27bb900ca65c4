"""One JSON line per client request on stdout: what happened, never what was said.

The record is created by the ASGI front and shared through a context variable, so the upstream transport
(which runs inside LiteLLM, in the same task or a child of it) can add attempts and Azure's status.
Fields are an allow-list: there is no field a prompt, completion, embedding input or key could land in.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import orjson

ErrorSource = Literal["gateway", "azure"]


@dataclass(frozen=True, slots=True)
class InbandError:
    """An error Azure reported inside a stream it had started with 200 (an `error` event or `response.failed`)."""

    code: str
    message: str
    type: str | None = None


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    route: str
    method: str
    started: float = field(default_factory=time.perf_counter)
    project: str | None = None
    model: str | None = None
    stream: bool = False
    status: int | None = None
    first_byte: float | None = None
    upstream_status: int | None = None
    attempts: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_class: str | None = None
    error_source: ErrorSource | None = None
    client_disconnected: bool = False
    source: str | None = None  # keyed hash of the client's address (proxy/client_guard.py), never the address
    upstream_request_id: str | None = None  # Azure's apim-request-id of the last attempt's response, for support
    error_code: str | None = None  # the code of a failure after the stream started (Azure's, or the gateway's)
    incomplete_reason: str | None = None  # why Azure ended a response incomplete (content_filter, max_output_tokens)
    fitted: list[str] | None = None  # names of the fields fitted to what Azure accepts (proxy/azure_fit.py)
    # What Azure said in-band (code and message), for the chat bridge to relay; never written to the line.
    inband_error: InbandError | None = None

    def to_line(self) -> bytes:
        now = time.perf_counter()
        status = self.status if self.status is not None else 499
        return (
            orjson.dumps(
                {
                    "event": "gateway_request",
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "request_id": self.request_id,
                    "project": self.project,
                    "route": self.route,
                    "method": self.method,
                    "model": self.model,
                    "stream": self.stream,
                    "status": status,
                    "latency_ms": round((now - self.started) * 1000, 2),
                    "ttfb_ms": None if self.first_byte is None else round((self.first_byte - self.started) * 1000, 2),
                    "upstream_status": self.upstream_status,
                    "attempts": self.attempts,
                    "input_tokens": self.input_tokens,
                    "output_tokens": self.output_tokens,
                    "error_class": self.error_class,
                    "error_source": self.error_source,
                    "client_disconnected": self.client_disconnected,
                    "source": self.source,
                    "upstream_request_id": self.upstream_request_id,
                    "error_code": self.error_code,
                    "incomplete_reason": self.incomplete_reason,
                    "fitted": self.fitted,
                }
            )
            + b"\n"
        )


# Azure names its request id apim-request-id; other fronts (and older APIM tiers) send one of the others.
_UPSTREAM_ID_HEADERS = ("apim-request-id", "x-request-id", "request-id")
_UPSTREAM_ID_MAX = 128


def upstream_request_id(headers: Mapping[str, str]) -> str | None:
    """Azure's id for one response, as Azure support asks for it; None when the response carries none.
    Printable ASCII only and bounded, since it lands in a log line and in error bodies."""
    for name in _UPSTREAM_ID_HEADERS:
        value = headers.get(name)
        if value:
            cleaned = "".join(c for c in value[:_UPSTREAM_ID_MAX] if " " < c <= "~")
            if cleaned:
                return cleaned
    return None


current_record: ContextVar[RequestRecord | None] = ContextVar("aigateway_request_record", default=None)


def emit(record: RequestRecord) -> None:
    sys.stdout.buffer.write(record.to_line())
    sys.stdout.buffer.flush()

"""Relay and record: everything the gateway sends a client passes through `Downstream`.

It relays upstream response headers by allow-list, keeps SSE streams that Azure has started alive with
comment lines, gives every 429/503 a Retry-After clients can use, and fills the request's telemetry record
(status, first byte, tokens, error class) from what it relays. Failures inside a started stream are
recorded where they are parsed (`stream_errors` on the relay, the chat bridge). Nothing here reads or logs
content beyond the usage numbers and an error's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time

import orjson

from aigateway.proxy.asgi import Message, Send
from aigateway.proxy.telemetry import RequestRecord
from aigateway.proxy.upstream import parse_retry_after

KEEPALIVE_COMMENT = b": keep-alive\n\n"
# The only upstream response headers a client gets (plus our x-request-id, Retry-After and the SSE
# headers): everything else could name the Azure resource, region, quota or proxy internals (x-ms-*,
# apim-*, x-ratelimit-* of the shared deployment, request-id, x-aml-cluster, x-envoy-*, x-powered-by),
# or act on the client (Set-Cookie, CORS). An allow-list, so a header Azure adds tomorrow stays inside.
_RELAYED_HEADERS = frozenset({b"content-type", b"content-length", b"content-encoding"})
_TOKEN_PATTERNS = {
    "input": re.compile(rb'"(?:input_tokens|prompt_tokens)"\s*:\s*(\d+)'),
    "output": re.compile(rb'"(?:output_tokens|completion_tokens)"\s*:\s*(\d+)'),
}
_ERROR_CAPTURE_BYTES = 16_384


class Downstream:
    """Everything sent to the client passes here: header hygiene, telemetry, and SSE keepalives.

    Keepalives start only once the response has started (Azure's headers are in): while a started stream
    waits between events, a `: keep-alive` comment goes out every `interval` seconds, only at event
    boundaries. Before that nothing is sent, so an Azure 429, 5xx or timeout reaches the client as a real
    HTTP status with Retry-After: Roo's native provider ignores in-band error events (an empty turn, no
    retry) and openai-node raises a status-less error on the chat path (no retry either; issue 12). The
    silence before the start is bounded upstream (`RetryPolicy.prestream_max_seconds`).
    """

    def __init__(self, send: Send, record: RequestRecord, interval: float) -> None:
        self._send = send
        self._record = record
        self._interval = interval
        self._lock = asyncio.Lock()
        self._last_write = time.monotonic()
        self._started = False
        self._at_boundary = True
        self._ended = False  # the last body message went out: nothing more may be sent
        self._error_capture = bytearray()
        self._task = asyncio.create_task(self._keepalive()) if interval > 0 else None

    async def send(self, message: Message) -> None:
        async with self._lock:
            if message["type"] == "http.response.start":
                await self._start(message)
            elif message["type"] == "http.response.body":
                await self._body(message)
            else:
                await self._send(message)

    async def _start(self, message: Message) -> None:
        record = self._record
        status = int(message["status"])
        record.status = status
        headers = clean_headers(message.get("headers", []), status, record.request_id)
        self._started = True
        await self._send({**message, "headers": headers})

    async def _body(self, message: Message) -> None:
        record = self._record
        chunk: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        self._ended = not more
        if chunk and record.first_byte is None:
            record.first_byte = time.perf_counter()
        if chunk:
            _scan_usage(chunk, record)
            if (record.status or 0) >= 400 and len(self._error_capture) < _ERROR_CAPTURE_BYTES:
                self._error_capture.extend(chunk[: _ERROR_CAPTURE_BYTES - len(self._error_capture)])
            self._at_boundary = chunk.endswith(b"\n\n") or chunk.endswith(b"\r\n\r\n")
        if not more and self._error_capture:
            record.error_class = _error_class(bytes(self._error_capture))
        self._last_write = time.monotonic()
        await self._send(message)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self._interval - (time.monotonic() - self._last_write)))
            async with self._lock:
                if self._ended:
                    return
                idle = time.monotonic() - self._last_write >= self._interval
                if not (self._started and idle and self._at_boundary):
                    continue
                try:
                    await self._send({"type": "http.response.body", "body": KEEPALIVE_COMMENT, "more_body": True})
                except OSError:
                    self._record.client_disconnected = True
                    return
                self._last_write = time.monotonic()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def clean_headers(raw: list[tuple[bytes, bytes]], status: int, request_id: str) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    found: dict[bytes, bytes] = {}
    is_sse = False
    for name, value in raw:
        lower = name.lower()
        if lower in _RETRY_HINTS:
            found[lower] = value
            continue
        if lower not in _RELAYED_HEADERS:
            continue
        if lower == b"content-type" and value.startswith(b"text/event-stream"):
            is_sse = True
        headers.append((name, value))
    headers.append((b"x-request-id", request_id.encode()))
    if status in (429, 503):
        # SDKs honour a plain Retry-After in whole seconds: always send one, as accurate as we know it.
        headers += retry_after_headers(_upstream_wait(found))
    elif b"retry-after" in found:
        headers.append((b"retry-after", found[b"retry-after"]))
    if is_sse:
        headers += [(b"x-accel-buffering", b"no"), (b"cache-control", b"no-cache")]
    return headers


_RETRY_HINTS = frozenset({b"retry-after", b"retry-after-ms"})
# openai-node (Roo Code's SDK) ignores a Retry-After of 60 s or more and fails after two short backoffs;
# the Python SDK takes up to 60. So a client is never told more than 59 (clients.md, issue 12).
MAX_CLIENT_RETRY_AFTER = 59


def client_retry_after(seconds: float) -> int:
    """A wait as the Retry-After a client can use: whole seconds, 1 to 59."""
    return min(MAX_CLIENT_RETRY_AFTER, max(1, math.ceil(seconds)))


def retry_after_headers(seconds: float) -> list[tuple[bytes, bytes]]:
    """`Retry-After` and `retry-after-ms` for a wait of `seconds` (clamped to 1-59 s; a longer true wait
    belongs in the error message)."""
    whole = client_retry_after(seconds)
    return [(b"retry-after", str(whole).encode()), (b"retry-after-ms", str(whole * 1000).encode())]


def _upstream_wait(found: dict[bytes, bytes]) -> float:
    """The upstream's own wait (Azure's, or the chat bridge's): `retry-after-ms`, else `retry-after` in
    seconds or as an HTTP date; 1 s when absent or unreadable."""
    hints = {name.decode("latin-1"): value.decode("latin-1") for name, value in found.items()}
    wait = parse_retry_after(hints)
    return 1.0 if wait is None else wait


def _scan_usage(chunk: bytes, record: RequestRecord) -> None:
    at = chunk.rfind(b'"usage"')
    if at < 0:
        return
    tail = chunk[at:]
    for field, pattern in _TOKEN_PATTERNS.items():
        found = pattern.search(tail)
        if found:
            setattr(record, f"{field}_tokens", int(found.group(1)))


def _error_class(body: bytes) -> str | None:
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return "unparsed_error"
    if not isinstance(error, dict):
        return "unparsed_error"
    code, type_ = error.get("code"), error.get("type")
    # LiteLLM puts the bare status in `code` ("429"); its `type` ("throttling_error") says more.
    value = type_ if (code is None or str(code).isdigit()) and type_ else code
    return str(value)[:64] if value else None

"""Relay and record: everything the gateway sends a client passes through `Downstream`.

It relays upstream response headers by allow-list, keeps idle SSE streams alive with comment lines, turns
an upstream error that arrives after the gateway committed to a 200 stream into the in-band event clients
parse, and fills the request's telemetry record (status, first byte, tokens, error class) from what it
relays. Nothing here reads or logs content beyond the usage numbers and an error's code.
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

    While a stream waits for Azure (before the first event or between events), a `: keep-alive` comment
    goes out every `interval` seconds, only at event boundaries. If the wait starts before the upstream has
    sent its headers, the gateway commits to `200 text/event-stream` itself; an error that arrives after
    that is delivered in-band as an SSE error event, which is what streaming clients parse.
    """

    def __init__(self, send: Send, record: RequestRecord, interval: float) -> None:
        self._send = send
        self._record = record
        self._interval = interval
        self._lock = asyncio.Lock()
        self._last_write = time.monotonic()
        self._started = False
        self._synthetic_start = False
        self._error_in_band: bytearray | None = None
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
        if self._synthetic_start:
            # Headers already went out as 200; an upstream error becomes an in-band event at the end.
            if status >= 400:
                self._error_in_band = bytearray()
                record.status = status
            return
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
        if self._error_in_band is not None:
            self._error_in_band.extend(chunk[:_ERROR_CAPTURE_BYTES])
            if not more:
                await self._send(
                    {"type": "http.response.body", "body": _in_band_error(bytes(self._error_in_band), record)}
                )
            return
        if chunk:
            _scan_usage(chunk, record)
            if record.stream and record.error_class is None:
                _scan_stream_failure(chunk, record)
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
                if time.monotonic() - self._last_write < self._interval or not self._at_boundary:
                    continue
                try:
                    if not self._started:
                        self._started = self._synthetic_start = True
                        self._record.status = 200
                        await self._send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                "headers": _sse_headers(self._record.request_id),
                            }
                        )
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
        headers.append((b"retry-after", _retry_after(found)))
    elif b"retry-after" in found:
        headers.append((b"retry-after", found[b"retry-after"]))
    if is_sse:
        headers += [(b"x-accel-buffering", b"no"), (b"cache-control", b"no-cache")]
    return headers


_RETRY_HINTS = frozenset({b"retry-after"})


def _retry_after(found: dict[bytes, bytes]) -> bytes:
    """The upstream's own value (Azure's, or the chat bridge's), in whole seconds."""
    return _whole_seconds(found.get(b"retry-after") or b"1")


def _whole_seconds(value: bytes) -> bytes:
    try:
        return str(max(1, math.ceil(float(value)))).encode()
    except ValueError:
        return value


def _sse_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
        (b"x-request-id", request_id.encode()),
    ]


def _scan_usage(chunk: bytes, record: RequestRecord) -> None:
    at = chunk.rfind(b'"usage"')
    if at < 0:
        return
    tail = chunk[at:]
    for field, pattern in _TOKEN_PATTERNS.items():
        found = pattern.search(tail)
        if found:
            setattr(record, f"{field}_tokens", int(found.group(1)))


_STREAM_FAILURES = ((b'"type":"response.failed"', "response.failed"), (b'"type":"error"', "stream_error"))


def _scan_stream_failure(chunk: bytes, record: RequestRecord) -> None:
    """Azure's in-band failures pass through to the client untouched; the log line still records them."""
    for marker, name in _STREAM_FAILURES:
        if marker in chunk:
            record.error_class = name
            record.error_source = "azure"
            return


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


def _in_band_error(body: bytes, record: RequestRecord) -> bytes:
    """An upstream error after the gateway committed to a 200 stream, as the event the client parses."""
    try:
        parsed = orjson.loads(body).get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        parsed = {}
    message = parsed.get("message") if isinstance(parsed, dict) else None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    record.error_class = str(code or "upstream_error")[:64]
    event = {
        "type": "error",
        "code": code,
        "message": message or f"Upstream error (status {record.status})",
        "param": None,
        "sequence_number": 0,
    }
    payload = orjson.dumps(event)
    if record.route == "/v1/chat/completions":
        return b"data: " + orjson.dumps({"error": {**event, "type": "upstream_error"}}) + b"\n\n"
    return b"event: error\ndata: " + payload + b"\n\n"

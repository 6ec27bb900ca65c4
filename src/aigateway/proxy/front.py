"""The ASGI front of the gateway: it owns the whole HTTP surface.

Per request it: closes every route that is not an OpenAI API route or a health probe; identifies the client
and throttles repeated failed authentications; authenticates the project key (constant time); reads the body
under a per-project upload cap and a progress timeout; rejects bad input with OpenAI-shaped 4xx (size,
content type, JSON, unknown model, embeddings input, any chat field outside OpenAI's allow-list); takes the
replica-wide slot and applies the project's limits; sends Responses and embeddings straight to Azure
(`passthrough`) and chat completions through the LiteLLM bridge (`engine`); relays only allow-listed
response headers; keeps idle SSE streams alive with comment lines; refuses WebSocket upgrades at once so
Codex CLI falls back to HTTP; and writes the one telemetry line. Bodies are read to validate them, never
logged. Header size and header time are bounded below this, in the HTTP protocol (`http_limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import secrets
import time
from typing import Any

import orjson

from aigateway.proxy import chat_request, keys, passthrough, routes
from aigateway.proxy.asgi import Message, Receive, Scope, Send, error_body, respond_json
from aigateway.proxy.client_guard import ClientGuard, UploadSlots, id_secret
from aigateway.proxy.engine import LiteLLMEngine
from aigateway.proxy.keys import presented_key
from aigateway.proxy.limits import Limiter
from aigateway.proxy.runtime import Runtime
from aigateway.proxy.telemetry import RequestRecord, current_record, emit

MAX_EMBEDDING_INPUTS = 2048
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


class GatewayFront:
    def __init__(
        self, engine: LiteLLMEngine, runtime: Runtime, limiter: Limiter, direct: passthrough.Passthrough | None
    ) -> None:
        self.engine = engine  # LiteLLM, loading in the background
        self.ready = False
        self.runtime = runtime
        self.limiter = limiter
        self.direct = direct  # None only in tests of the probes: no route reaches Azure
        settings = runtime.settings
        self.max_body = settings.gateway_max_body_bytes
        self.max_concurrency = settings.gateway_max_concurrency
        self.keepalive = settings.gateway_keepalive_seconds
        self.aliases = frozenset(settings.model_aliases())
        # /v1/models answers never change while the process runs: serialised once.
        models = {a: {"id": a, "object": "model", "created": 0, "owned_by": "azure-openai"} for a in self.aliases}
        self.model_bodies = {alias: orjson.dumps(model) for alias, model in models.items()}
        self.model_list_body = orjson.dumps({"object": "list", "data": [models[a] for a in sorted(models)]})
        self.embedding_aliases = frozenset(settings.embeddings_aliases())
        self.inflight = 0
        self.body_timeout = settings.gateway_body_timeout_seconds
        self.clients = ClientGuard(
            settings.gateway_trusted_proxy_hops,
            settings.gateway_auth_failures_per_minute,
            id_secret(p.key.get_secret_value() for p in runtime.projects),
        )
        self.uploads = UploadSlots()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = routes.match(scope["method"], scope["path"])
            if route.kind == "health":
                await self._probe(scope, send, route)
                return
            await self._http(scope, receive, send, route)
        elif scope["type"] == "websocket":
            await _refuse_websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)

    async def _probe(self, scope: Scope, send: Send, route: routes.RouteMatch) -> None:
        """Probes need no key, never reach Azure or LiteLLM, and are not logged. Ready = serving (LiteLLM
        may still be loading: its routes wait for it); not ready while shutting down. Alive unless LiteLLM
        failed to load, so the platform replaces the replica."""
        if not route.method_allowed:
            await respond_json(send, 405, error_body("Method not allowed", "invalid_request_error", None))
            return
        if self.engine.failed:
            status, body = 503, b'{"status":"failed: the chat bridge did not start"}'
        elif route.name != "/health/readiness":
            status, body = 200, b'{"status":"alive"}'
        elif self.ready:
            status, body = 200, b'{"status":"ready"}'
        else:
            status, body = 503, b'{"status":"not ready"}'
        await respond_json(send, status, b"" if scope["method"] == "HEAD" else body)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self.engine.begin(scope)
        self.ready = True
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        self.ready = False
        await self.engine.stop()
        if self.direct is not None:
            await self.direct.aclose()
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, send: Send, route: routes.RouteMatch) -> None:
        record = RequestRecord(request_id=secrets.token_hex(8), route=route.name, method=scope["method"])
        token = current_record.set(record)
        try:
            await self._handle(scope, receive, send, route, record)
        finally:
            current_record.reset(token)
            emit(record)

    async def _reject(
        self,
        send: Send,
        record: RequestRecord,
        status: int,
        message: str,
        code: str | None,
        type_: str = "invalid_request_error",
        headers: list[tuple[bytes, bytes]] | None = None,
        param: str | None = None,
    ) -> None:
        record.status = status
        record.error_class = code or type_
        record.error_source = "gateway"
        body = error_body(message, type_, code, param)
        await respond_json(send, status, body, [(b"x-request-id", record.request_id.encode()), *(headers or [])])

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, route: routes.RouteMatch, record: RequestRecord
    ) -> None:
        if route.kind == "double_v1":
            await self._reject(
                send,
                record,
                404,
                "The path starts with /v1/v1/: your base URL already ends in /v1 and the client added another. "
                "Drop the trailing /v1 from the base URL (use https://<gateway>/ for Roo Code's OpenAI provider).",
                "double_v1_path",
            )
            return
        if route.kind == "unknown":
            await self._reject(send, record, 404, f"Unknown route {scope['path']!r}.", "unknown_route")
            return
        if not route.method_allowed:
            await self._reject(
                send, record, 405, f"Method {scope['method']} is not allowed here.", "method_not_allowed"
            )
            return

        headers = _headers(scope)
        client = self.clients.identify(scope)
        record.source = client.source
        wait = self.clients.throttled_for(client)
        if wait:
            await self._reject(
                send,
                record,
                429,
                f"Too many failed authentications from your address; retry after {wait} s.",
                "auth_throttled",
                type_="rate_limit_error",
                headers=[(b"retry-after", str(wait).encode())],
            )
            return
        duplicated = keys.duplicated_credential(scope["headers"])
        if duplicated is not None:  # which of two keys counts must never depend on who reads the headers
            await self._reject(
                send,
                record,
                400,
                f"The request carries more than one '{duplicated}' header; send your key once.",
                "duplicate_credentials",
            )
            return
        project = self.runtime.keys.lookup(presented_key(headers))
        if project is None:
            self.clients.failed(client)
            await self._reject(
                send,
                record,
                401,
                "Missing or invalid gateway key: send your project key as 'Authorization: Bearer <key>', "
                "'x-gateway-key: <key>' or 'api-key: <key>'.",
                "invalid_api_key",
            )
            return
        record.project = project.name

        body, payload = b"", None
        if scope["method"] == "POST":
            if not self.uploads.acquire(project.name, project.max_parallel):
                await self._reject(
                    send,
                    record,
                    429,
                    f"Project '{project.name}' already has {project.max_parallel} request bodies being uploaded; "
                    "retry shortly.",
                    "project_concurrency_limit",
                    type_="rate_limit_error",
                    headers=[(b"retry-after", b"1")],
                )
                return
            try:
                read = await self._read_json_body(scope, receive, send, headers, route, record)
            finally:
                self.uploads.release(project.name)
            if read is None:
                return
            body, payload = read

        # The replica-wide slot is taken only now, with the key good and the body complete: one project's
        # stalled uploads hold nothing another project needs.
        if self.inflight >= self.max_concurrency:
            await self._reject(
                send,
                record,
                429,
                "The gateway replica is at its concurrency limit; retry shortly.",
                "gateway_concurrency_limit",
                type_="rate_limit_error",
                headers=[(b"retry-after", b"1")],
            )
            return
        self.inflight += 1
        try:
            refusal = await self.limiter.admit(project, route.name, record.model, record.request_id)
            if refusal is not None:
                await self._reject(
                    send,
                    record,
                    429,
                    refusal.message,
                    refusal.code,
                    type_="rate_limit_error",
                    headers=[(b"retry-after", str(refusal.retry_after).encode())],
                )
                return
            try:
                await self._forward(scope, receive, send, record, body, payload)
            finally:
                self.limiter.release(project)
        finally:
            self.inflight -= 1

    async def _read_json_body(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        route: routes.RouteMatch,
        record: RequestRecord,
    ) -> tuple[bytes, dict[str, Any] | None] | None:
        """The body and its JSON when it is an acceptable request; otherwise answer the client and return None."""
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._reject(send, record, 413, self._too_large_message(), "request_too_large")
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                await self._reject(
                    send,
                    record,
                    408,
                    f"No part of the request body arrived for {self.body_timeout:g} s.",
                    "request_timeout",
                    headers=[(b"connection", b"close")],
                )
                return None
            if message["type"] == "http.disconnect":
                record.client_disconnected = True
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._reject(send, record, 413, self._too_large_message(), "request_too_large")
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not (content_type == "" and body == b""):
            await self._reject(send, record, 415, "Content-Type must be application/json.", "unsupported_media_type")
            return None
        if not body and route.name in routes.MODEL_ROUTES:
            await self._reject(send, record, 400, "The request body is empty; send a JSON object.", "empty_body")
            return None
        if not body:
            return body, None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            await self._reject(send, record, 400, "The request body is not valid JSON.", "invalid_json")
            return None
        if not isinstance(payload, dict):
            await self._reject(send, record, 400, "The request body must be a JSON object.", "invalid_json")
            return None
        if route.name in routes.MODEL_ROUTES:
            problem = self._check_payload(route.name, payload, record)
            if problem is not None:
                status, text, code, param = problem
                await self._reject(send, record, status, text, code, param=param)
                return None
        return body, payload

    def _check_payload(
        self, route: str, payload: dict[str, Any], record: RequestRecord
    ) -> tuple[int, str, str, str | None] | None:
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            return (
                400,
                "'model' is required: one of " + ", ".join(sorted(self.aliases)),
                "missing_model",
                "model",
            )
        if model not in self.aliases:
            return (
                404,
                f"The model '{model}' does not exist on this gateway. Available: {', '.join(sorted(self.aliases))}.",
                "model_not_found",
                "model",
            )
        record.model = model
        record.stream = payload.get("stream") is True
        is_embeddings_model = model in self.embedding_aliases
        if route == "/v1/embeddings":
            if not is_embeddings_model:
                return 400, f"'{model}' is not an embeddings model.", "wrong_model_kind", "model"
            items = payload.get("input")
            if items is None or items == "" or items == []:
                return 400, "'input' must be a non-empty string or a non-empty array.", "empty_input", "input"
            if isinstance(items, list):
                if len(items) > MAX_EMBEDDING_INPUTS:
                    return (
                        400,
                        f"Too many inputs: {len(items)}; the maximum is {MAX_EMBEDDING_INPUTS} per request.",
                        "too_many_inputs",
                        "input",
                    )
                if any(item == "" or item == [] for item in items):
                    return 400, "'input' must not contain empty strings.", "empty_input", "input"
        elif is_embeddings_model:
            return 400, f"'{model}' is an embeddings model; use /v1/embeddings.", "wrong_model_kind", "model"
        if route == chat_request.ROUTE:
            return chat_request.check(payload)  # OpenAI's parameters only: nothing may steer the upstream call
        return None

    def _too_large_message(self) -> str:
        return f"The request body is larger than the gateway's limit of {self.max_body} bytes."

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        record: RequestRecord,
        body: bytes,
        payload: dict[str, Any] | None,
    ) -> None:
        downstream = _Downstream(send, record, self.keepalive if record.stream else 0.0)
        try:
            if record.route in _MODEL_LIST_ROUTES:
                await self._models(scope, record.route, downstream.send)
            elif record.route == chat_request.ROUTE and payload is not None:
                await self.engine(payload, receive, downstream.send, record)
            elif self.direct is not None and record.route in passthrough.ROUTES:
                await self.direct(scope, body, payload, receive, downstream.send, record)
            else:
                await respond_json(downstream.send, 404, error_body("Unknown route.", "invalid_request_error", None))
        except OSError:
            record.client_disconnected = True
        finally:
            await downstream.close()
        if record.status is not None and record.status >= 400 and record.error_source is None:
            upstream_failed = record.attempts > 0 and (record.upstream_status is None or record.upstream_status >= 400)
            record.error_source = "azure" if upstream_failed else "gateway"

    async def _models(self, scope: Scope, route: str, send: Send) -> None:
        """The configured aliases, in OpenAI's shape; answered here so it never waits for LiteLLM."""
        if route == "/v1/models":
            await respond_json(send, 200, self.model_list_body)
            return
        wanted = scope["path"].rsplit("/", 1)[1]
        if wanted in self.model_bodies:
            await respond_json(send, 200, self.model_bodies[wanted])
        else:
            message = f"The model '{wanted}' does not exist on this gateway."
            await respond_json(send, 404, error_body(message, "invalid_request_error", "model_not_found", "model"))


_MODEL_LIST_ROUTES = frozenset({"/v1/models", "/v1/models/{model}"})


class _Downstream:
    """Everything sent to the client passes here: header hygiene, telemetry, and SSE keepalives.

    While a stream waits for Azure (before the first event or between events), a `: keep-alive` comment
    goes out every `interval` seconds, only at event boundaries. If the wait starts before LiteLLM has
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
        headers = _clean_headers(message.get("headers", []), status, record.request_id)
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


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _clean_headers(raw: list[tuple[bytes, bytes]], status: int, request_id: str) -> list[tuple[bytes, bytes]]:
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


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """Codex CLI tries a WebSocket on /v1/responses first; an immediate HTTP answer makes it use SSE."""
    await receive()  # websocket.connect
    body = error_body("WebSocket is not supported; use HTTP streaming (SSE).", "invalid_request_error", None)
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 426,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})

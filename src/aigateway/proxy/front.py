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

import secrets
from typing import Any

import orjson

from aigateway.proxy import chat_request, passthrough, routes, upstream
from aigateway.proxy.admission import Admission
from aigateway.proxy.asgi import Receive, Scope, Send, error_body, respond_json
from aigateway.proxy.authenticate import Authenticator
from aigateway.proxy.client_guard import ClientGuard, id_secret
from aigateway.proxy.downstream import Downstream
from aigateway.proxy.engine import LiteLLMEngine
from aigateway.proxy.limits import Limiter
from aigateway.proxy.rejection import Rejection, reject
from aigateway.proxy.request_body import BodyReader
from aigateway.proxy.runtime import Runtime
from aigateway.proxy.telemetry import RequestRecord, current_record, emit


class GatewayFront:
    def __init__(
        self, engine: LiteLLMEngine, runtime: Runtime, limiter: Limiter, direct: passthrough.Passthrough | None
    ) -> None:
        self.engine = engine  # LiteLLM, loading in the background
        self.ready = False
        self.direct = direct  # None only in tests of the probes: no route reaches Azure
        settings = runtime.settings
        self.keepalive = settings.gateway_keepalive_seconds
        aliases = frozenset(settings.model_aliases())
        # /v1/models answers never change while the process runs: serialised once.
        models = {a: {"id": a, "object": "model", "created": 0, "owned_by": "azure-openai"} for a in aliases}
        self.model_bodies = {alias: orjson.dumps(model) for alias, model in models.items()}
        self.model_list_body = orjson.dumps({"object": "list", "data": [models[a] for a in sorted(models)]})
        # The stages a request goes through, in order (see _handle).
        self.authenticate = Authenticator(
            runtime.keys,
            ClientGuard(
                settings.gateway_trusted_proxy_hops,
                settings.gateway_auth_failures_per_minute,
                id_secret(p.key.get_secret_value() for p in runtime.projects),
            ),
        )
        self.bodies = BodyReader(
            settings.gateway_max_body_bytes,
            settings.gateway_body_timeout_seconds,
            aliases,
            frozenset(settings.embeddings_aliases()),
            settings.output_ceilings(),
            settings.model_profiles(),
            settings.gateway_force_store_false,
        )
        self.admission = Admission(settings.gateway_max_concurrency, limiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = routes.normalise(scope["path"])
            if path != scope["path"]:  # later stages (the relay's by-id suffix) see the path as matched
                scope = {**scope, "path": path}
            route = routes.match(scope["method"], path)
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
        retry = [(b"retry-after", b"5"), (b"retry-after-ms", b"5000")] if status == 503 else []  # as every 503
        await respond_json(send, status, b"" if scope["method"] == "HEAD" else body, retry)

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

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, route: routes.RouteMatch, record: RequestRecord
    ) -> None:
        """authenticate -> read and validate -> admit -> route and relay; the record is written by _http."""
        refused = _route_rejection(scope, route)
        if refused is not None:
            await reject(send, record, refused)
            return
        headers = _headers(scope)
        project = self.authenticate(scope, headers, record)
        if isinstance(project, Rejection):
            await reject(send, record, project)
            return

        body, payload = b"", None
        if scope["method"] == "POST":
            full = self.admission.start_upload(project)
            if full is not None:
                await reject(send, record, full)
                return
            try:
                read = await self.bodies.read(receive, headers, route.name, record, route.model)
            finally:
                self.admission.end_upload(project)
            if read is None:  # the client went away
                return
            if isinstance(read, Rejection):
                await reject(send, record, read)
                return
            body, payload = read

        upstream.begin_client_attempt(headers, project.name, route.name, body)
        async with self.admission.admit(project, route.name, record.model, record.request_id) as refused:
            if refused is not None:
                await reject(send, record, refused)
                return
            await self._forward(scope, receive, send, record, body, payload)

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        record: RequestRecord,
        body: bytes,
        payload: dict[str, Any] | None,
    ) -> None:
        downstream = Downstream(send, record, self.keepalive if record.stream else 0.0)
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


def _route_rejection(scope: Scope, route: routes.RouteMatch) -> Rejection | None:
    """Paths that are not the gateway's, or a method the route does not take: answered before any key."""
    if route.kind == "double_v1":
        return Rejection(
            404,
            "The path starts with /v1/v1/: your base URL already ends in /v1 and the client added another. "
            "Drop the trailing /v1 from the base URL: for Roo Code's OpenAI provider use https://<gateway> "
            "(no /v1; Roo adds it on its retry path). Clients that append only /responses or "
            "/chat/completions (Codex CLI, Qoder CLI, OpenAI SDKs) take https://<gateway>/v1.",
            "double_v1_path",
        )
    if route.kind == "unknown":
        return Rejection(404, f"Unknown route {scope['path']!r}.", "unknown_route")
    if not route.method_allowed:
        return Rejection(405, f"Method {scope['method']} is not allowed here.", "method_not_allowed")
    return None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


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

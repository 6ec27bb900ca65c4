"""The Azure API endpoints: one pipeline (api-version, auth, deployment, faults, limits) for every route.

The order mirrors Azure's: routing and api-version first, then the key, then the deployment and operation.
Faults come before rate limits so a scripted outcome is deterministic whatever the quota state.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson
from starlette.types import Receive, Scope, Send

from aigateway.emulator import auth, chat, embeddings, errors, responses, versions
from aigateway.emulator.config import Deployment, RouteKind
from aigateway.emulator.faults import FaultPlan
from aigateway.emulator.state import EmulatorState
from aigateway.emulator.wire import (
    Ctx,
    Family,
    JsonReply,
    Reply,
    StreamReply,
    drop_connection,
    read_body,
    send_json,
    sse_data,
    sse_event,
    start_stream,
)

Operation = Literal[
    "responses",
    "chat",
    "embeddings",
    "models",
    "response.get",
    "response.delete",
    "response.cancel",
    "response.input_items",
]
OPERATION_NAMES: dict[RouteKind, str] = {
    "responses": "Responses_Create",
    "chat": "ChatCompletions_Create",
    "embeddings": "Embeddings_Create",
}
# What Azure's OperationNotSupported message calls each operation.
AZURE_OPERATION_WORDS: dict[RouteKind, str] = {
    "responses": "responses",
    "chat": "chatCompletion",
    "embeddings": "embeddings",
}
BAD_JSON = errors.invalid_request(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)


class ApiEndpoint:
    """A raw ASGI app for one Azure route; Starlette's Route passes class instances through untouched."""

    def __init__(self, state: EmulatorState, family: Family, operation: Operation) -> None:
        self.state = state
        self.family = family
        self.operation = operation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        raw = await read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                bad_json = True
        entry = state.recorder.record(scope["method"], scope["path"], query, headers, body, len(raw))
        ctx = Ctx(
            region=state.config.region,
            family=self.family,
            api_version=query.get("api-version"),
            client_request_id=headers.get("x-ms-client-request-id"),
        )
        entry["request_id"] = ctx.request_id  # the apim-request-id this reply carries, for tests to match
        status: int | None = None
        state.stats.begin(self.operation)
        try:
            status = await self._handle(scope, send, ctx, headers, body, bad_json)
        finally:
            entry["status"] = status
            state.stats.end(self.operation, status)

    async def _handle(
        self, scope: Scope, send: Send, ctx: Ctx, headers: dict[str, str], body: Any, bad_json: bool
    ) -> int | None:
        state = self.state
        refused = versions.check_v1(ctx.api_version) if self.family == "v1" else versions.check_dated(ctx.api_version)
        if refused is None and not auth.authorized(headers, self.family, state.config.api_key):
            refused = JsonReply(401, errors.UNAUTHORIZED)
        is_model_op = self.operation in ("responses", "chat", "embeddings")
        if refused is None and is_model_op and (bad_json or not isinstance(body, dict)):
            refused = JsonReply(400, BAD_JSON)
        if refused is not None:
            return await _send_reply(scope, send, ctx, refused, None)
        if is_model_op:
            return await self._model_operation(scope, send, ctx, body)
        return await _send_reply(scope, send, ctx, self._resource_operation(scope), None)

    def _resource_operation(self, scope: Scope) -> JsonReply:
        store = self.state.store
        if self.operation == "models":
            return JsonReply(200, _models(self.state.config.deployments))
        response_id = str(scope["path_params"].get("response_id", ""))
        response = store.get(response_id)
        if response is None:
            return JsonReply(404, errors.response_not_found(response_id))
        if self.operation == "response.get":
            return JsonReply(200, response)
        if self.operation == "response.delete":
            store.delete(response_id)
            return JsonReply(200, {"id": response_id, "object": "response.deleted", "deleted": True})
        if self.operation == "response.cancel":
            if response["status"] in ("queued", "in_progress"):
                response["status"] = "cancelled"
            return JsonReply(200, response)
        items = store.inputs(response_id) or []
        data = [{"id": i.get("id") or f"msg_{n}", **i} for n, i in enumerate(items)]
        return JsonReply(
            200,
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": False,
            },
        )

    async def _model_operation(self, scope: Scope, send: Send, ctx: Ctx, body: dict[str, Any]) -> int | None:
        state = self.state
        route: RouteKind = self.operation  # type: ignore[assignment]
        name = scope["path_params"].get("deployment") or body.get("model")
        if not isinstance(name, str) or not name:
            missing = JsonReply(400, errors.invalid_request("Missing required parameter: 'model'.", param="model"))
            return await _send_reply(scope, send, ctx, missing, None)
        dep = state.config.deployments.get(name)
        if dep is None:
            return await _send_reply(scope, send, ctx, JsonReply(404, errors.DEPLOYMENT_NOT_FOUND), None)
        if not dep.supports(route):
            unsupported = (
                errors.V1_OPERATION_UNSUPPORTED
                if self.family == "v1"
                else errors.operation_not_supported(AZURE_OPERATION_WORDS[route], dep.model)
            )
            return await _send_reply(scope, send, ctx, JsonReply(400, unsupported), None)
        if route == "responses" and self.family == "dated" and ctx.api_version is not None:
            too_old = versions.check_dated_responses(ctx.api_version, dep.model)
            if too_old is not None:
                return await _send_reply(scope, send, ctx, too_old, None)

        plan = state.faults.plan(route)
        if plan.hang_ms > 0:
            # An upstream that accepts the request and never answers: hold it, then drop it without a byte.
            await asyncio.sleep(plan.hang_ms / 1000)
            await drop_connection(scope, reset=True)
            return None
        if plan.reset_before_first_byte:
            await drop_connection(scope, reset=True)
            return None
        if plan.latency_ms > 0:
            await asyncio.sleep(plan.latency_ms / 1000)
        if plan.status != 200:
            return await _send_reply(scope, send, ctx, _fault_reply(plan, ctx, name, dep, route), None)

        cost = _cost(route, body)
        verdict = state.limiter.check(name, dep, cost)
        for header, value in verdict.headers:
            ctx.add_header(header, value)
        if not verdict.allowed:
            retry = max(1, math.ceil(verdict.retry_after))
            ctx.add_header("retry-after", retry)
            if verdict.kind == "token":
                ctx.add_header("policy-id", "DeploymentRatelimit-Token")
            body_429 = errors.rate_limited(
                deployment=name,
                model=dep.model,
                region=state.config.region,
                operation=OPERATION_NAMES[route],
                api_version=ctx.api_version if self.family == "dated" else None,
                retry_after=retry,
                kind=verdict.kind,
            )
            return await _send_reply(scope, send, ctx, JsonReply(429, body_429), None)

        reply: Reply
        if route == "responses":
            reply = responses.create(body, name, dep, state.store, state.sealer, strict_mode=state.config.strict)
        elif route == "chat":
            reply = chat.create(body, dep, strict_mode=state.config.strict)
        else:
            reply = embeddings.create(body, dep)
        return await _send_reply(scope, send, ctx, reply, plan)


def _cost(route: RouteKind, body: dict[str, Any]) -> int:
    if route == "embeddings":
        return embeddings.prompt_cost(body)
    if route == "chat":
        return chat.prompt_cost(body)
    return responses.prompt_cost(body)


def _models(deployments: dict[str, Deployment]) -> dict[str, Any]:
    created = int(time.time())
    data = [
        {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "system",
            "model": dep.model,
            "capabilities": {
                "chat_completion": dep.kind == "chat",
                "responses": dep.kind in ("chat", "responses"),
                "embeddings": dep.kind == "embeddings",
            },
        }
        for name, dep in deployments.items()
    ]
    return {"object": "list", "data": data}


def _fault_reply(plan: FaultPlan, ctx: Ctx, name: str, dep: Deployment, route: RouteKind) -> JsonReply:
    status = plan.status
    retry_after = plan.retry_after
    if retry_after is None and plan.retry_after_ms is not None:
        retry_after = math.ceil(plan.retry_after_ms / 1000)
    if retry_after is None and status in (429, 503):
        retry_after = 1
    if not plan.omit_retry_after and retry_after is not None:
        ctx.add_header("retry-after", retry_after)
    if plan.retry_after_ms is not None:
        ctx.add_header("retry-after-ms", plan.retry_after_ms)
    if plan.body is not None:
        return JsonReply(status, plan.body)
    if status == 429:
        ctx.add_header("x-ratelimit-remaining-requests", 0)
        ctx.add_header("x-ratelimit-remaining-tokens", 0)
        body = errors.rate_limited(
            deployment=name,
            model=dep.model,
            region=ctx.region,
            operation=OPERATION_NAMES[route],
            api_version=ctx.api_version if ctx.family == "dated" else None,
            retry_after=retry_after or 1,
        )
        return JsonReply(429, body)
    if status == 500:
        return JsonReply(500, errors.server_error(ctx.request_id))
    if status == 503:
        return JsonReply(503, errors.service_unavailable())
    return JsonReply(status, errors.generic_error(status))


async def _send_reply(scope: Scope, send: Send, ctx: Ctx, reply: Reply, plan: FaultPlan | None) -> int | None:
    if isinstance(reply, JsonReply):
        await send_json(send, ctx, reply.status, reply.body)
        return reply.status
    return await _send_stream(scope, send, ctx, reply, plan or FaultPlan())


async def _send_stream(scope: Scope, send: Send, ctx: Ctx, reply: StreamReply, plan: FaultPlan) -> int | None:
    await start_stream(send, ctx)
    delay = plan.stream_event_delay_ms / 1000
    events = reply.events
    if plan.stream_failure is not None and plan.stream_failure_after_events < len(events):
        events = [*events[: plan.stream_failure_after_events], reply.failure(plan.stream_failure)]
    responses_style = reply.style == "responses"
    for seq, (event_type, payload) in enumerate(events):
        if plan.disconnect_after_events is not None and seq >= plan.disconnect_after_events:
            await drop_connection(scope, reset=False)
            return None
        if delay and seq:
            await asyncio.sleep(delay)
        frame = sse_event(event_type, {**payload, "sequence_number": seq}) if responses_style else sse_data(payload)
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    if plan.disconnect_after_events is not None and plan.disconnect_after_events <= len(events):
        # Every event went out but the stream still must not end cleanly.
        await drop_connection(scope, reset=False)
        return None
    tail = b"data: [DONE]\n\n" if not responses_style and events[-1][0] != "error" else b""
    await send({"type": "http.response.body", "body": tail, "more_body": False})
    return 200

"""Read and validate: the request body, complete and acceptable, or why not.

The body is read with a bound on its size (413, also for chunked uploads) and on the time between two
parts of it (408: a stalled upload holds nothing for long); it must be a JSON object with the right
content type; on the model routes the model must be one of the gateway's aliases, of the right kind for
the route, and a chat request may carry only OpenAI's parameters (`chat_request`). Bodies are parsed to
check them, never logged. Two things are decided here and sent on as the re-serialised body: the model an
Azure deployment path names (`/openai/deployments/{alias}/...`: the path wins, the body may omit it), and
the output-token ceiling (`output_cap`), applied before the chat allow-list sees the numbers, and, once the
body is acceptable, its fit to what Azure accepts for the model (`azure_fit`, per `model_profile`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from aigateway.proxy import azure_fit, chat_request, output_cap, routes
from aigateway.proxy.asgi import Receive
from aigateway.proxy.model_profile import OPEN, ModelProfile
from aigateway.proxy.rejection import Rejection
from aigateway.proxy.telemetry import RequestRecord

MAX_EMBEDDING_INPUTS = 2048

Body = tuple[bytes, dict[str, Any] | None]


class BodyReader:
    def __init__(
        self,
        max_bytes: int,
        timeout_seconds: float,
        aliases: frozenset[str],
        embedding_aliases: frozenset[str],
        output_ceilings: Mapping[str, int] | None = None,
        profiles: Mapping[str, ModelProfile] | None = None,
        force_stateless: bool = False,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout_seconds
        self.aliases = aliases
        self.embedding_aliases = embedding_aliases
        self.output_ceilings = dict(output_ceilings or {})
        self.profiles = dict(profiles or {})
        self.force_stateless = force_stateless  # GATEWAY_FORCE_STORE_FALSE: every create is a stateless one

    async def read(
        self,
        receive: Receive,
        headers: Mapping[str, str],
        route: str,
        record: RequestRecord,
        path_model: str | None = None,
    ) -> Body | Rejection | None:
        """The body and its JSON; a Rejection to answer; None when the client went away."""
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                return Rejection(
                    408,
                    f"No part of the request body arrived for {self.timeout:g} s.",
                    "request_timeout",
                    headers=((b"connection", b"close"),),
                )
            if message["type"] == "http.disconnect":
                record.client_disconnected = True
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return self.parse(b"".join(chunks), headers, route, record, path_model)

    def parse(
        self,
        body: bytes,
        headers: Mapping[str, str],
        route: str,
        record: RequestRecord,
        path_model: str | None = None,
    ) -> Body | Rejection:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not (content_type == "" and body == b""):
            return Rejection(415, "Content-Type must be application/json.", "unsupported_media_type")
        if not body and route in routes.MODEL_ROUTES:
            return Rejection(400, "The request body is empty; send a JSON object.", "empty_body")
        if not body:
            return body, None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Rejection(400, "The request body is not valid JSON.", "invalid_json")
        if not isinstance(payload, dict):
            return Rejection(400, "The request body must be a JSON object.", "invalid_json")
        if route in routes.MODEL_ROUTES:
            changed = path_model is not None and payload.get("model") != path_model
            if changed:
                payload["model"] = path_model
            model = payload.get("model")
            ceiling = self.output_ceilings.get(model) if isinstance(model, str) else None
            changed = output_cap.clamp(route, payload, ceiling) or changed
            problem = self.check(route, payload, record)
            if problem is not None:
                status, text, code, param = problem
                return Rejection(status, text, code, param=param)
            profile = self.profiles.get(payload["model"], OPEN)
            fitted = azure_fit.fit(route, payload, profile, self.force_stateless)
            if fitted:
                record.fitted = fitted
                changed = True
            if changed:  # what the gateway decided is what every later stage and Azure see
                body = orjson.dumps(payload)
        return body, payload

    def check(
        self, route: str, payload: dict[str, Any], record: RequestRecord
    ) -> tuple[int, str, str, str | None] | None:
        """The model and the route's own rules; records the model and whether the client streams."""
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            return 400, "'model' is required: one of " + ", ".join(sorted(self.aliases)), "missing_model", "model"
        if model not in self.aliases:
            available = ", ".join(sorted(self.aliases))
            return (
                404,
                f"The model '{model}' does not exist on this gateway. Available: {available}.",
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

    def _too_large(self) -> Rejection:
        return Rejection(
            413, f"The request body is larger than the gateway's limit of {self.max_bytes} bytes.", "request_too_large"
        )

"""ASGI types, and the one way the gateway answers with a JSON body (OpenAI-shaped errors included)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_body(
    message: str,
    type_: str,
    code: str | None,
    param: str | None = None,
    upstream_request_id: str | None = None,
    innererror: Mapping[str, Any] | None = None,
) -> bytes:
    """OpenAI's error shape; `upstream_request_id` (Azure's id, for Azure support) only when Azure caused it,
    `innererror` only for Azure's content-filter verdict."""
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "param": param}
    if upstream_request_id is not None:
        error["upstream_request_id"] = upstream_request_id
    if innererror is not None:
        error["innererror"] = dict(innererror)
    return orjson.dumps({"error": error})


async def respond_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})

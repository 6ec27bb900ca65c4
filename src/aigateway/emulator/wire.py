"""Per-request context and the raw ASGI sending helpers (JSON replies, SSE frames, dropped connections).

Endpoints speak raw ASGI rather than Starlette responses because the fault kinds need control a Response
object does not give: delaying individual stream frames, and breaking the TCP connection mid-response.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from starlette.types import Message, Scope, Send

Family = Literal["v1", "dated"]
JSON_TYPE = b"application/json; charset=UTF-8"
SSE_TYPE = b"text/event-stream; charset=utf-8"
RAW_SEND_KEY = "aigateway.emulator.raw_send"


class ConnectionDropped(Exception):
    """Raised when the app must break the connection but the server gives no handle on the transport."""


@dataclass
class Ctx:
    """What every reply needs to know about its request."""

    region: str
    family: Family = "v1"
    api_version: str | None = None
    client_request_id: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extra_headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def headers(self, content_type: bytes = JSON_TYPE) -> list[tuple[bytes, bytes]]:
        rid = self.request_id.encode()
        out = [
            (b"content-type", content_type),
            (b"apim-request-id", rid),
            (b"x-request-id", rid),
            (b"x-ms-region", self.region.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"strict-transport-security", b"max-age=31536000; includeSubDomains; preload"),
        ]
        if self.client_request_id is not None:
            out.append((b"x-ms-client-request-id", self.client_request_id.encode("latin-1", "replace")))
        out.extend(self.extra_headers)
        return out

    def add_header(self, name: str, value: str | int) -> None:
        self.extra_headers.append((name.encode(), str(value).encode()))


async def send_json(send: Send, ctx: Ctx, status: int, body: Any) -> None:
    payload = orjson.dumps(body)
    headers = ctx.headers()
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def start_stream(send: Send, ctx: Ctx) -> None:
    headers = ctx.headers(SSE_TYPE)
    headers.append((b"cache-control", b"no-cache"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})


def sse_event(event_type: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def sse_data(data: dict[str, Any] | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return b"data: " + raw + b"\n\n"


async def drop_connection(scope: Scope, *, reset: bool) -> None:
    """Really break the client's connection: abort the TCP transport (RST when `reset`).

    Under uvicorn the raw `send` of the connection's cycle holds the transport; after the abort uvicorn marks
    the cycle disconnected and stays quiet. Elsewhere (in-process ASGI transports) raising is the only way.
    """
    raw_send = scope.get(RAW_SEND_KEY)
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise ConnectionDropped("emulator fault: connection dropped")
    # Let already-written frames leave first, so the client sees exactly the events sent before the break.
    for _ in range(200):
        if transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # uvloop's pseudo-socket raises ValueError once the fd is gone; abort() below still breaks it.
            with contextlib.suppress(OSError, ValueError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # connection_lost runs on the next loop turns; after it uvicorn ignores our return.
    for _ in range(3):
        await asyncio.sleep(0)


async def read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


@dataclass
class JsonReply:
    status: int
    body: Any


@dataclass
class StreamReply:
    """A stream, fully computed before the first byte (cheap, and it makes the zero-latency mode fast).

    `events` are (event type, payload) pairs. Responses streams are framed `event:`/`data:` with a
    `sequence_number`; chat streams are framed `data:` only and end with `data: [DONE]`.
    `failure(kind)` builds the in-band event that replaces the rest of the stream when a fault asks for it.
    """

    style: Literal["responses", "chat"]
    events: list[tuple[str, dict[str, Any]]]
    failure: Any  # Callable[[str], tuple[str, dict[str, Any]]]


Reply = JsonReply | StreamReply

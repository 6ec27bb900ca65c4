"""A fake Azure that records every request exactly as it arrived, and a proxy that records every attempt.

`CaptureAzure` listens on 127.0.0.1 and speaks just enough HTTP/1.1 (keep-alive, Content-Length or chunked
bodies) to keep each request raw: method, path, query string, every header in order with duplicates, and
the body bytes. It answers like Azure's Responses API (`POST .../responses`: a response object, or its SSE
events when the body asks to stream); anything else is Azure's 404. Tests script the next answers
(`answer_next`) to get errors, echoes of the prompt or a `Set-Cookie`.

`RecordingProxy` is set as the gateway's HTTP(S)_PROXY: any connection the gateway tries to make to a host
other than loopback arrives here (CONNECT host:port or an absolute URI), is recorded and refused.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

HEAD_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Captured:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]  # as sent: original case, order and duplicates
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Answer:
    """A scripted reply: status, JSON body (None = the normal Responses answer) and extra headers."""

    status: int = 200
    body: dict[str, Any] | Callable[[Captured], dict[str, Any]] | None = None
    headers: tuple[tuple[str, str], ...] = ()


class _Server:
    """A loopback TCP server on its own event loop thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> _Server:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT), self._loop
        )
        self._server = future.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str, list[tuple[str, str]]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = ([*lines[0].split(" ", 2), "", ""])[:3]
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, headers


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    lowered = {k.lower(): v for k, v in headers}
    if lowered.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return body
            body += chunk[:-2]
    length = int(lowered.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


class CaptureAzure(_Server):
    def __init__(self, name: str = "capture-azure") -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._requests: list[Captured] = []
        self._script: list[Answer] = []

    # --- what tests use ---------------------------------------------------------------------------------

    def requests(self) -> list[Captured]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._script.clear()

    def answer_next(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    # --- the server -----------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await _read_head(reader)
                if head is None:
                    return
                method, target, headers = head
                body = await _read_body(reader, headers)
                parts = urlsplit(target)
                request = Captured(method, parts.path, parse_qsl(parts.query, keep_blank_values=True), headers, body)
                with self._lock:
                    self._requests.append(request)
                    answer = self._script.pop(0) if self._script else Answer()
                await self._answer(writer, request, answer)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, request: Captured, answer: Answer) -> None:
        extra = list(answer.headers)
        if answer.status != 200 or answer.body is not None:
            body = answer.body(request) if callable(answer.body) else (answer.body or {})
            await _send(writer, answer.status, orjson.dumps(body), "application/json", extra)
            return
        if request.method != "POST" or not request.path.endswith("/responses"):
            error = {"error": {"code": "404", "message": "Resource not found"}}
            await _send(writer, 404, orjson.dumps(error), "application/json", extra)
            return
        payload = request.json() or {}
        response = responses_object(payload)
        if payload.get("stream") is True:
            await _send(writer, 200, sse(response), "text/event-stream", extra)
        else:
            await _send(writer, 200, orjson.dumps(response), "application/json", extra)


async def _send(
    writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]]
) -> None:
    lines = [f"HTTP/1.1 {status} X", f"content-type: {content_type}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


def responses_object(request: dict[str, Any], text: str = "captured answer") -> dict[str, Any]:
    """A completed Responses API object, shaped like Azure's."""
    now = int(time.time())
    return {
        "id": "resp_" + secrets.token_hex(16),
        "object": "response",
        "created_at": now,
        "status": "completed",
        "completed_at": now,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": str(request.get("model")),
        "output": [
            {
                "id": "msg_" + secrets.token_hex(8),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": request.get("store", True) is not False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 2,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 7,
        },
        "user": None,
        "metadata": request.get("metadata") or {},
    }


def sse(response: dict[str, Any]) -> bytes:
    """The response as Azure streams it: created, the message's events, completed."""
    early = {**response, "status": "in_progress", "output": [], "usage": None, "completed_at": None}
    message = response["output"][0]
    part = message["content"][0]
    common = {"item_id": message["id"], "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": early},
        {"type": "response.in_progress", "response": early},
        {"type": "response.output_item.added", "output_index": 0, "item": {**message, "content": []}},
        {"type": "response.content_part.added", **common, "part": {**part, "text": ""}},
        {"type": "response.output_text.delta", **common, "delta": part["text"], "logprobs": []},
        {"type": "response.output_text.done", **common, "text": part["text"], "logprobs": []},
        {"type": "response.content_part.done", **common, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": response},
    ]
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps({**e, "sequence_number": i}) + b"\n\n"
        for i, e in enumerate(events)
    )


@dataclass
class Attempt:
    target: str  # "host:port" of a CONNECT, or the absolute URI of a plain proxied request
    method: str


class RecordingProxy(_Server):
    def __init__(self) -> None:
        super().__init__("recording-proxy")
        self.attempts: list[Attempt] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await _read_head(reader)
        if head is not None:
            method, target, _ = head
            self.attempts.append(Attempt(target, method))
            with_body = b'{"error":"the test proxy refuses every connection"}'
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nconnection: close\r\n"
                + f"content-length: {len(with_body)}\r\n\r\n".encode()
                + with_body
            )
            await writer.drain()
        writer.close()

"""The load generator: a minimal HTTP/1.1 keep-alive client on raw asyncio streams (uvloop when present).

httpx or aiohttp spend ~0.3-1 ms of client CPU per request in Python; on a 2-core machine that CPU is taken
from the server being measured. Pre-built request bytes and a parser that only reads the status line, the
framing headers and the body keep the generator cheap, and its own CPU share is measured and reported
(`process_time` over wall time) so a reader can check it was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True)
class Endpoint:
    """One way of reaching a model route: where, which path, which auth header."""

    host: str
    port: int
    path: str
    auth_header: tuple[str, str]

    def request(self, body: bytes) -> bytes:
        name, value = self.auth_header
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{name}: {value}\r\n\r\n"
        )
        return head.encode("latin-1") + body


class HttpError(Exception):
    """The server answered something the generator cannot use (non-200 or broken framing)."""


class Connection:
    """One keep-alive connection; reopened transparently when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 24)
        return self._reader, self._writer

    async def _head(self, reader: asyncio.StreamReader) -> tuple[int, int | None, bool, bool]:
        status_line = await reader.readline()
        if not status_line:
            raise HttpError("connection closed before the status line")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            lower = name.strip().lower()
            if lower == b"content-length":
                length = int(value.strip())
            elif lower == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif lower == b"connection" and b"close" in value.lower():
                close = True
        return status, length, chunked, close

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one pre-built request; return (status, body)."""
        reader, writer = await self._open()
        writer.write(raw)
        status, length, chunked, close = await self._head(reader)
        if length is not None:
            body = await reader.readexactly(length)
        elif chunked:
            parts: list[bytes] = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        else:
            body = await reader.read()
            close = True
        if close:
            await self.close()
        return status, body

    async def stream(self, raw: bytes) -> StreamTrace:
        """Send a streaming request and time every SSE event by the socket read that completed it."""
        reader, writer = await self._open()
        started = time.perf_counter()
        writer.write(raw)
        status, _, chunked, close = await self._head(reader)
        trace = StreamTrace(status=status, headers_at=time.perf_counter() - started)
        if not chunked:
            raise HttpError(f"stream answered {status} without chunked framing")
        # The body is de-chunked as it arrives and SSE events (ended by a blank line) are counted in the
        # payload, so a proxy that splits one event over several chunks is not miscounted; every event is
        # stamped with the time of the socket read that completed it.
        raw_buf = b""
        payload = b""
        data_left = crlf_left = 0  # of the current chunk; both 0 = a chunk-size line comes next
        done = False
        while not done:
            data = await reader.read(1 << 16)
            if not data:
                raise HttpError("connection closed inside a stream")
            now = time.perf_counter() - started
            trace.reads += 1
            raw_buf += data
            completed = 0
            while raw_buf and not done:
                if data_left:
                    take = raw_buf[:data_left]
                    raw_buf, data_left, payload = raw_buf[len(take) :], data_left - len(take), payload + take
                elif crlf_left:
                    n = min(crlf_left, len(raw_buf))
                    raw_buf, crlf_left = raw_buf[n:], crlf_left - n
                else:
                    line_end = raw_buf.find(b"\r\n")
                    if line_end < 0:
                        break
                    size = int(raw_buf[:line_end].split(b";")[0], 16)
                    raw_buf = raw_buf[line_end + 2 :]
                    done = size == 0
                    data_left, crlf_left = size, 2
            while (end := payload.find(b"\n\n")) >= 0:
                # LiteLLM ends its stream with extra blank lines after [DONE]: those are not events.
                completed += 1 if payload[:end].strip() else 0
                payload = payload[end + 2 :]
            if completed:
                trace.event_times.extend([now] * completed)
                if completed > 1:
                    trace.coalesced_reads += 1
        if close:
            await self.close()
        return trace

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


@dataclass
class StreamTrace:
    status: int
    headers_at: float
    reads: int = 0
    coalesced_reads: int = 0
    event_times: list[float] = field(default_factory=list)

    @property
    def first_event(self) -> float:
        return self.event_times[0] if self.event_times else float("nan")

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.event_times, self.event_times[1:], strict=False)]


@dataclass
class LoadResult:
    """Latencies (seconds) of successful requests, errors, and who spent the CPU."""

    latencies: list[float]
    errors: int
    wall: float
    client_cpu: float

    @property
    def client_cpu_share(self) -> float:
        """CPU the generator used, as a fraction of one core over the run."""
        return self.client_cpu / self.wall if self.wall > 0 else 0.0


async def closed_loop(
    endpoint: Endpoint, body: bytes, concurrency: int, count: int | None = None, duration: float | None = None
) -> LoadResult:
    """`concurrency` workers, each sending its next request when the previous answered, until `count`
    requests were sent or `duration` seconds passed (closed loop: measures service, not queueing)."""
    raw = endpoint.request(body)
    latencies: list[float] = []
    errors = 0
    issued = 0
    conns = [Connection(endpoint.host, endpoint.port) for _ in range(concurrency)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + duration if duration is not None else float("inf")

    async def worker(conn: Connection) -> None:
        nonlocal issued, errors
        while (count is None or issued < count) and time.perf_counter() < deadline:
            issued += 1
            t0 = time.perf_counter()
            try:
                status, _ = await conn.request(raw)
            except (OSError, HttpError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                await conn.close()
                continue
            if status == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    await asyncio.gather(*(worker(c) for c in conns))
    result = LoadResult(latencies, errors, time.perf_counter() - wall0, time.process_time() - cpu0)
    for conn in conns:
        await conn.close()
    return result


async def one_request(endpoint: Endpoint, body: bytes) -> tuple[int, float]:
    """A single request on a fresh connection: (status, seconds)."""
    conn = Connection(endpoint.host, endpoint.port)
    t0 = time.perf_counter()
    try:
        status, _ = await conn.request(endpoint.request(body))
    finally:
        await conn.close()
    return status, time.perf_counter() - t0


async def stream_traces(endpoint: Endpoint, body: bytes, count: int) -> list[StreamTrace]:
    """`count` streams one after another on one connection (c=1: the per-event timing is the point)."""
    conn = Connection(endpoint.host, endpoint.port)
    raw = endpoint.request(body)
    traces = []
    try:
        for _ in range(count):
            traces.append(await conn.stream(raw))
    finally:
        await conn.close()
    return traces


def embeddings_body(inputs: int = 60, chars: int = 1000) -> bytes:
    """60 distinct ~1,000-character inputs, base64 vectors: what an indexing client sends."""
    words = ["latency", "gateway", "vector", "index", "token", "stream", "azure", "codex", "proxy", "replica"]
    texts = []
    for i in range(inputs):
        text = f"chunk {i}: "
        j = i
        while len(text) < chars:
            text += words[j % len(words)] + " "
            j = j * 7 + 3
        texts.append(text[:chars])
    return orjson.dumps({"model": "text-embedding-3-small", "input": texts, "encoding_format": "base64"})


def chat_body() -> bytes:
    """A one-line chat completion on the codex model: the route LiteLLM bridges to the Responses API."""
    return orjson.dumps({"model": "gpt-5.3-codex", "messages": [{"role": "user", "content": "Say hi."}]})


def responses_body(stream: bool = False) -> bytes:
    payload: dict[str, object] = {"model": "gpt-5.3-codex", "input": "Write a haiku about network latency."}
    if stream:
        payload["stream"] = True
    return orjson.dumps(payload)

"""The chat bridge, loaded in the background while the replica already serves.

`import litellm` is most of a cold start (~1.5-2 s of CPU, ~3,100 modules), yet only chat completions
need it. So a worker thread imports it and builds the bridge while the direct routes (Responses,
embeddings, models) are served from the first second; a chat request that arrives earlier waits until
the bridge is ready (bounded, then 503 with Retry-After).

If the bridge fails to load, the replica reports itself dead (liveness 503) so the platform replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aigateway.proxy.asgi import Receive, Scope, Send, error_body, respond_json
from aigateway.proxy.downstream import retry_after_headers
from aigateway.proxy.telemetry import RequestRecord

log = logging.getLogger("aigateway.engine")

T = TypeVar("T")


class ChatHandler(Protocol):
    async def __call__(self, payload: dict[str, Any], receive: Receive, send: Send, record: RequestRecord) -> None: ...


class LiteLLMEngine:
    def __init__(
        self, load: Callable[[], ChatHandler], on_started: Callable[[ChatHandler], None], wait_seconds: float
    ) -> None:
        self._load = load  # runs in a worker thread: imports LiteLLM, returns the bridge
        self._on_started = on_started
        self._wait_seconds = wait_seconds
        self._bridge: ChatHandler | None = None
        self._started: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.failed = False

    def begin(self, lifespan_scope: Scope | None = None) -> None:
        """Start loading; returns at once (call from the front's lifespan start-up)."""
        self._started = asyncio.Event()
        self._task = asyncio.create_task(self._start())

    async def wait(self) -> None:
        """Until the bridge has loaded or failed (tests and start-up tooling)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _start(self) -> None:
        assert self._started is not None
        try:
            bridge = await _in_thread(self._load)
            self._on_started(bridge)
        except Exception as exc:
            self.failed = True
            log.error("The chat bridge failed to load (%s); this replica reports itself dead", type(exc).__name__)
            return
        self._bridge = bridge
        self._started.set()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def __call__(self, payload: dict[str, Any], receive: Receive, send: Send, record: RequestRecord) -> None:
        if self._bridge is None and self._started is not None and not self.failed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._started.wait(), self._wait_seconds)
        if self._bridge is None:
            record.error_source = "gateway"
            await _unavailable(send)
            return
        await self._bridge(payload, receive, send, record)


async def _in_thread(load: Callable[[], T]) -> T:
    """`asyncio.to_thread` without the default executor's pool: one named, daemon thread."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = load()
        except BaseException as exc:  # handed to the loop, which logs it
            loop.call_soon_threadsafe(_fail, done, exc)
        else:
            loop.call_soon_threadsafe(_succeed, done, result)

    threading.Thread(target=run, name="litellm-import", daemon=True).start()
    return await done


def _succeed(future: asyncio.Future[T], result: T) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[T], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def _unavailable(send: Send) -> None:
    message = "The gateway's chat bridge is still starting or failed to start; retry shortly."
    body = error_body(message, "service_unavailable", "bridge_unavailable")
    await respond_json(send, 503, body, retry_after_headers(5))

"""LiteLLM's proxy app, loaded in the background while the replica already serves.

Importing LiteLLM's proxy is most of a cold start (~6-9 s: thousands of modules), yet only the routes the
front hands to LiteLLM (chat completions, `/v1/model/info`) need it. So a worker thread imports it while
the direct routes (Responses, embeddings, models) are served from the first second; a request for
LiteLLM's routes waits until LiteLLM has started (bounded). After a scale-to-zero, Codex CLI and codebase
indexing are answered in about a second instead of about ten.

If LiteLLM fails to load, the replica reports itself dead (liveness 503) so the platform replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from aigateway.proxy.asgi import ASGIApp, Message, Receive, Scope, Send, error_body, respond_json

log = logging.getLogger("aigateway.engine")


class LiteLLMEngine:
    def __init__(self, load: Callable[[], ASGIApp], on_started: Callable[[ASGIApp], None], wait_seconds: float) -> None:
        self._load = load  # runs in a worker thread: imports LiteLLM, returns its ASGI app
        self._on_started = on_started
        self._wait_seconds = wait_seconds
        self._app: ASGIApp | None = None
        self._started: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._lifespan: asyncio.Future[None] | None = None
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.failed = False

    def begin(self, lifespan_scope: Scope) -> None:
        """Start loading; returns at once (call from the front's lifespan start-up)."""
        self._started = asyncio.Event()
        self._task = asyncio.create_task(self._start(lifespan_scope))

    async def wait(self) -> None:
        """Until LiteLLM has started (tests and start-up tooling)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _start(self, lifespan_scope: Scope) -> None:
        assert self._started is not None
        try:
            app = await _in_thread(self._load)
            # LiteLLM's own lifespan (config, router) runs in the event loop, driven as uvicorn would.
            self._lifespan = asyncio.ensure_future(app(lifespan_scope, self._to_app.get, self._from_app.put))
            await self._to_app.put({"type": "lifespan.startup"})
            answer = await self._from_app.get()
            if answer["type"] != "lifespan.startup.complete":
                raise RuntimeError(f"LiteLLM start-up failed: {answer.get('message', answer['type'])}")
            self._on_started(app)
        except Exception:
            self.failed = True
            log.exception("LiteLLM failed to start; this replica reports itself dead")
            return
        self._app = app
        self._started.set()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._lifespan is not None and self._app is not None:
            await self._to_app.put({"type": "lifespan.shutdown"})
            await self._from_app.get()
            await self._lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None and self._started is not None and not self.failed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._started.wait(), self._wait_seconds)
        if self._app is None:
            await _unavailable(send)
            return
        await self._app(scope, receive, send)


async def _in_thread(load: Callable[[], ASGIApp]) -> ASGIApp:
    """`asyncio.to_thread` without the default executor's pool: one named, daemon thread."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[ASGIApp] = loop.create_future()

    def run() -> None:
        try:
            result = load()
        except BaseException as exc:  # handed to the loop, which logs it
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, result, None)

    threading.Thread(target=run, name="litellm-import", daemon=True).start()
    return await done


def _settle(future: asyncio.Future[ASGIApp], result: ASGIApp | None, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert result is not None
        future.set_result(result)


async def _unavailable(send: Send) -> None:
    message = "The gateway's chat bridge is still starting or failed to start; retry shortly."
    body = error_body(message, "service_unavailable", "bridge_unavailable")
    await respond_json(send, 503, body, [(b"retry-after", b"5")])

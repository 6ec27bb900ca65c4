"""The front answers the health probes itself: ready only between LiteLLM's start-up and shutdown.

LiteLLM's app is replaced by a minimal ASGI lifespan handler here (the end-to-end tests run the real one),
so the window before start-up completes can be held open and observed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aigateway.proxy import runtime
from aigateway.proxy.front import GatewayFront
from aigateway.proxy.limits import Limiter, LocalWindows
from aigateway.settings import load_settings


async def probe(front: GatewayFront, path: str, method: str = "GET") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    await front(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_readiness_follows_litellm_lifespan_and_liveness_does_not() -> None:
    async def scenario() -> None:
        release_startup = asyncio.Event()

        async def litellm_lifespan(scope: Any, receive: Any, send: Any) -> None:
            assert (await receive())["type"] == "lifespan.startup"
            await release_startup.wait()
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})

        started: list[bool] = []
        rt = runtime.configure(load_settings({}))
        front = GatewayFront(
            litellm_lifespan, rt, Limiter(LocalWindows(), frozenset()), None, on_started=lambda: started.append(True)
        )
        to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        lifespan = asyncio.create_task(front({"type": "lifespan"}, to_app.get, from_app.put))
        await to_app.put({"type": "lifespan.startup"})
        await asyncio.sleep(0.01)

        assert await probe(front, "/health/readiness") == (503, b'{"status":"not ready"}')
        assert (await probe(front, "/health/liveliness"))[0] == 200
        assert not started

        release_startup.set()
        assert (await from_app.get())["type"] == "lifespan.startup.complete"
        assert started == [True], "the start-up hook ran before readiness turned 200"
        assert await probe(front, "/health/readiness") == (200, b'{"status":"ready"}')
        assert await probe(front, "/health/readiness", "HEAD") == (200, b"")
        assert (await probe(front, "/health/readiness", "POST"))[0] == 405

        await to_app.put({"type": "lifespan.shutdown"})
        assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
        assert (await probe(front, "/health/readiness"))[0] == 503
        await lifespan

    asyncio.run(scenario())

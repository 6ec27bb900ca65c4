"""Start-up and probes: the front serves at once while the chat bridge (LiteLLM) loads in a thread; chat waits.

The bridge is replaced by a minimal handler here (the end-to-end tests run the real one), so the window
while it "imports" can be held open and observed.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aigateway.proxy import runtime
from aigateway.proxy.engine import LiteLLMEngine
from aigateway.proxy.front import GatewayFront
from aigateway.proxy.limits import Limiter, LocalWindows
from aigateway.proxy.telemetry import RequestRecord
from aigateway.settings import load_settings


async def call(app: Any, path: str, method: str = "GET") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


class FakeBridge:
    """Answers 200 'bridged' to any chat request and records the models it was asked for."""

    def __init__(self) -> None:
        self.models: list[str] = []

    async def __call__(self, payload: dict[str, Any], receive: Any, send: Any, record: RequestRecord) -> None:
        self.models.append(payload["model"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"bridged"})


async def chat(engine: LiteLLMEngine) -> tuple[int, bytes]:
    """A chat request handed to the engine as the front hands it on (body parsed and checked)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    record = RequestRecord(request_id="r1", route="/v1/chat/completions", method="POST")
    await engine({"model": "gpt-5.3-codex", "messages": []}, receive, send, record)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def make_front(load: Any, started: list[Any]) -> GatewayFront:
    engine = LiteLLMEngine(load, started.append, wait_seconds=5)
    rt = runtime.configure(load_settings({}))
    return GatewayFront(engine, rt, Limiter(LocalWindows(), frozenset()), None)


def test_serves_while_litellm_loads_and_chat_waits_for_it() -> None:
    async def scenario() -> None:
        release = threading.Event()
        fake = FakeBridge()

        def load() -> FakeBridge:
            assert release.wait(5), "never released"
            return fake

        started: list[Any] = []
        front = make_front(load, started)
        assert (await call(front, "/health/readiness"))[0] == 503, "not ready before the lifespan started"
        to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        lifespan = asyncio.create_task(front({"type": "lifespan"}, to_app.get, from_app.put))
        await to_app.put({"type": "lifespan.startup"})
        assert (await from_app.get())["type"] == "lifespan.startup.complete"

        assert await call(front, "/health/readiness") == (200, b'{"status":"ready"}')
        assert await call(front, "/health/readiness", "HEAD") == (200, b"")
        assert (await call(front, "/health/readiness", "POST"))[0] == 405
        waiting = asyncio.create_task(chat(front.engine))
        await asyncio.sleep(0.05)
        assert not waiting.done() and not started, "chat waits while LiteLLM loads"

        release.set()
        assert await asyncio.wait_for(waiting, 5) == (200, b"bridged")
        assert started == [fake] and fake.models == ["gpt-5.3-codex"]

        await to_app.put({"type": "lifespan.shutdown"})
        assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
        assert (await call(front, "/health/readiness"))[0] == 503, "not ready while shutting down"
        await lifespan

    asyncio.run(scenario())


def test_litellm_failing_to_load_makes_the_replica_dead_and_its_routes_503() -> None:
    async def scenario() -> None:
        def load() -> Any:
            raise ImportError("broken install")

        front = make_front(load, [])
        to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        lifespan = asyncio.create_task(front({"type": "lifespan"}, to_app.get, from_app.put))
        await to_app.put({"type": "lifespan.startup"})
        await from_app.get()
        await front.engine.wait()
        assert (await call(front, "/health/liveliness"))[0] == 503
        status, body = await chat(front.engine)
        assert status == 503 and b"bridge_unavailable" in body
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await lifespan

    asyncio.run(scenario())


def test_a_probe_503_says_when_to_come_back_like_every_other_503() -> None:
    async def scenario() -> None:
        front = make_front(lambda: FakeBridge(), [])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/health/readiness", "headers": [], "query_string": b""}
        await front(scope, receive, send)
        headers = dict(sent[0]["headers"])
        assert sent[0]["status"] == 503
        assert 1 <= int(headers[b"retry-after"]) <= 59 and headers[b"retry-after-ms"] == b"5000"

    asyncio.run(scenario())

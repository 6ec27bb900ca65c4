"""Serving the emulator with uvicorn: blocking (`run`) or in a daemon thread (`start_in_thread`)."""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable

import uvicorn

from aigateway.emulator import embeddings
from aigateway.emulator.app import create_app
from aigateway.emulator.config import EmulatorConfig

STARTUP_TIMEOUT_S = 10.0


def _uvicorn_config(host: str, port: int, config: EmulatorConfig | None) -> uvicorn.Config:
    has = importlib.util.find_spec
    config = config or EmulatorConfig()
    embeddings.warm({d.dimensions for d in config.deployments.values() if d.dimensions})
    return uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        loop="uvloop" if has("uvloop") else "asyncio",
        http="httptools" if has("httptools") else "h11",
        lifespan="off",
        # Streams end with the last event; no reason for uvicorn to keep idle keep-alives forever.
        timeout_keep_alive=30,
    )


def run(host: str = "127.0.0.1", port: int = 4010, config: EmulatorConfig | None = None) -> None:
    """Serve until interrupted (the `aigateway emulator` command)."""
    server = uvicorn.Server(_uvicorn_config(host, port, config))
    logging.getLogger("aigateway.emulator").info("Azure OpenAI emulator on http://%s:%d", host, port)
    server.run()


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, config: EmulatorConfig | None = None
) -> tuple[str, Callable[[], None]]:
    """Start uvicorn in a daemon thread; return (base URL with the real port, stop function).

    Port 0 asks the OS for a free port, so tests and the gateway's embedded mode never collide.
    """
    server = uvicorn.Server(_uvicorn_config(host, port, config))
    thread = threading.Thread(target=server.run, name=f"aigateway-emulator-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the emulator did not start on {host}:{port}")
        time.sleep(0.01)
    sockets = [s for srv in server.servers for s in srv.sockets]
    real_port = sockets[0].getsockname()[1] if sockets else port
    url_host = f"[{host}]" if ":" in host else host

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)

    return f"http://{url_host}:{real_port}", stop

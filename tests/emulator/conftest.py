"""Fixtures: an in-process emulator (Starlette TestClient) and one real uvicorn emulator per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from aigateway.emulator import EmulatorConfig, create_app
from aigateway.emulator.server import start_in_thread

KEY = "emulator-key"
AUTH = {"api-key": KEY}
DATED = "2024-10-21"
RESPONSES_DATED = "2025-04-01-preview"


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def client(config: EmulatorConfig) -> Iterator[TestClient]:
    with TestClient(create_app(config)) as c:
        yield c


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    url, stop = start_in_thread("127.0.0.1", 0, EmulatorConfig())
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def live(live_url: str) -> Iterator[str]:
    """The module's real server, with faults, recorded requests, limits and stats reset for each test."""
    reset(live_url)
    yield live_url
    reset(live_url)


def reset(url: str) -> None:
    with httpx.Client(base_url=url, timeout=5) as c:
        c.put("/_emulator/faults", json={}).raise_for_status()
        c.delete("/_emulator/requests").raise_for_status()
        c.delete("/_emulator/stats").raise_for_status()


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse `event:`/`data:` frames strictly: every frame must have both lines."""
    out: list[tuple[str, dict[str, Any]]] = []
    for frame in text.split("\n\n"):
        if not frame:
            continue
        lines = frame.split("\n")
        assert lines[0].startswith("event: "), frame
        assert lines[1].startswith("data: "), frame
        out.append((lines[0][7:], orjson.loads(lines[1][6:])))
    return out


def sse_data(text: str) -> list[str]:
    return [frame[6:] for frame in text.split("\n\n") if frame]

"""Fixtures: a real emulator on 127.0.0.1 and real `aigateway serve` processes pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aigateway.emulator.config import EmulatorConfig
from aigateway.emulator.server import start_in_thread
from aigateway.launcher import GatewayProcess
from tests.helpers import GATEWAY_KEYS, Emulator

GatewayFactory = Callable[..., GatewayProcess]


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    config = EmulatorConfig()
    url, stop = start_in_thread("127.0.0.1", 0, config)
    yield Emulator(url=url, api_key=config.api_key)
    stop()


@pytest.fixture(scope="session")
def gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    """Start extra gateways with their own settings; all are stopped at the end of the session."""
    started: list[GatewayProcess] = []

    def start(env: dict[str, str], name: str = "gateway") -> GatewayProcess:
        log = Path(tmp_path_factory.mktemp(name)) / "output.log"
        process = GatewayProcess(env=env, output_path=log).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def azure_env(emulator: Emulator, **extra: str) -> dict[str, str]:
    """A gateway configured like production, with the emulator standing in for Azure."""
    return {
        "AZURE_OPENAI_ENDPOINT": emulator.url,
        "AZURE_OPENAI_API_KEY": emulator.api_key,
        "GATEWAY_KEYS": GATEWAY_KEYS,
        **extra,
    }


@pytest.fixture(scope="session")
def gateway(emulator: Emulator, gateway_factory: GatewayFactory) -> GatewayProcess:
    """The shared gateway: v1 Responses path, two projects, default limits."""
    return gateway_factory(azure_env(emulator), name="shared")


@pytest.fixture(autouse=True)
def _clean_emulator(request: pytest.FixtureRequest) -> None:
    """Every test that uses the emulator starts with no faults, no limits and an empty request log."""
    if "emulator" in request.fixturenames:
        emulator: Emulator = request.getfixturevalue("emulator")
        emulator.reset()

"""Limits across replicas: the gateway's windows live per process unless GATEWAY_REDIS_URL shares them.

Two real gateway processes, one real redis-server (Debian package, started here on a free loopback port).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from aigateway.launcher import GatewayProcess, free_port
from tests.conftest import azure_env
from tests.helpers import Emulator

pytestmark = pytest.mark.e2e

KEY = "sk-shared-limit-project-01"
RPM = 6


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server missing: python3 dev.py test installs it (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def start_pair(emulator: Emulator, tmp: Path, **extra: str) -> list[GatewayProcess]:
    env = azure_env(
        emulator,
        GATEWAY_KEYS=f"shared={KEY}",
        GATEWAY_PROJECT_LIMITS=json.dumps({"shared": {"rpm": RPM}}),
        **extra,
    )
    pair = [GatewayProcess(env=env, output_path=tmp / f"replica-{i}.log") for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda g: g.start(), pair))
    return pair


def spread_requests(replicas: list[GatewayProcess], count: int) -> list[int]:
    statuses = []
    for i in range(count):
        replica = replicas[i % len(replicas)]
        response = httpx.post(
            replica.url + "/v1/embeddings",
            json={"model": "text-embedding-3-small", "input": "x"},
            headers={"authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        statuses.append(response.status_code)
    return statuses


def test_without_redis_each_replica_counts_alone(emulator: Emulator, tmp_path: Path) -> None:
    replicas = start_pair(emulator, tmp_path)
    try:
        statuses = spread_requests(replicas, 2 * RPM)
    finally:
        for replica in replicas:
            replica.stop()
    assert statuses.count(200) == 2 * RPM, "per-replica counters: the project gets the limit once per replica"


def test_with_redis_the_limit_holds_across_replicas(emulator: Emulator, redis_url: str, tmp_path: Path) -> None:
    replicas = start_pair(emulator, tmp_path, GATEWAY_REDIS_URL=redis_url)
    try:
        statuses = spread_requests(replicas, 2 * RPM)
    finally:
        for replica in replicas:
            replica.stop()
    assert statuses.count(200) == RPM, statuses
    assert statuses.count(429) == RPM
    assert statuses[:RPM] == [200] * RPM, "the first RPM requests, on either replica, pass"
    assert len([r for r in emulator.requests() if r["path"].startswith("/openai/")]) == RPM


def test_redis_down_the_replica_counts_alone_and_keeps_serving(emulator: Emulator, tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    replica = GatewayProcess(
        env=azure_env(
            emulator,
            GATEWAY_KEYS=f"shared={KEY}",
            GATEWAY_PROJECT_LIMITS=json.dumps({"shared": {"rpm": RPM}}),
            GATEWAY_REDIS_URL=dead,
        ),
        output_path=tmp_path / "replica.log",
    )
    replica.start()
    try:
        statuses = spread_requests([replica], RPM + 2)
    finally:
        replica.stop()
    assert statuses == [200] * RPM + [429] * 2, statuses
    log = (tmp_path / "replica.log").read_text()
    assert log.count("redis unavailable for rate limits (ConnectionError)") == 1, "warned once, not per request"

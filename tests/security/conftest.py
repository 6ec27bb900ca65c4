"""Fixtures for the attack tests: a capturing fake Azure, a host that must never be reached, a recording proxy,
and a real gateway process pointed at them whose every outgoing connection is recorded.

The gateway runs under `strace -e trace=connect` when strace is installed (every connect(2) of every thread,
DNS lookups included, whatever library makes it), and always with HTTP_PROXY/HTTPS_PROXY set to the
recording proxy (what httpx-based clients, LiteLLM's among them, use for any host that is not loopback).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from aigateway.launcher import BASE_ENV, SERVE_COMMAND, GatewayProcess, _aigateway_executable
from tests.helpers import GATEWAY_KEYS
from tests.security.capture import CaptureAzure, RecordingProxy

ALIAS = "gpt-5.3-codex"
DEPLOYMENT = "codex-prod-deployment"  # differs from the alias, so a request can only name it by mapping
API_VERSION = "2025-04-01-preview"  # dated: its path and query show any api-version a client slipped in
AZURE_KEY = "azure-key-held-by-the-gateway-0001"
_CONNECT = re.compile(r'connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), .*?"([0-9a-f.:]+)"')


@dataclass(frozen=True)
class Connection:
    address: str
    port: int


class TracedGateway(GatewayProcess):
    """`aigateway serve` under `strace -f -e trace=connect` (when available): `connections()` lists every
    TCP/UDP connect the process attempted."""

    trace_path: Path | None = None
    _seen: int = 0  # connections before the current test (`mark`)

    def start(self, timeout: float = 60.0) -> TracedGateway:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "GATEWAY_", "LITELLM_"))},
            **BASE_ENV,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        command = [_aigateway_executable(), *SERVE_COMMAND[1:]]
        strace = shutil.which("strace")
        if strace is not None:
            self.trace_path = self.output_path.with_name("connect.trace")
            command = [strace, "--seccomp-bpf", "-f", "-qq", "-e", "trace=connect", "-e", "signal=none"]
            command += ["-o", str(self.trace_path), _aigateway_executable(), *SERVE_COMMAND[1:]]
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        with self.output_path.open("ab") as out:
            self.started_at = time.perf_counter()
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)
        return self

    def _server(self) -> psutil.Process:
        assert self.process is not None
        traced = psutil.Process(self.process.pid)
        return traced.children()[0] if self.trace_path is not None else traced

    def rss_bytes(self) -> int:
        return int(self._server().memory_info().rss)

    def _all_connections(self) -> list[Connection]:
        assert self.trace_path is not None
        found = _CONNECT.findall(self.trace_path.read_text(errors="replace")) if self.trace_path.exists() else []
        return [Connection(address, int(port)) for port, address in found]

    def mark(self) -> None:
        """Start counting connections afresh (each test sees only its own)."""
        if self.trace_path is not None:
            self._seen = len(self._all_connections())

    def connections(self) -> list[Connection] | None:
        """Every inet connect(2) since `mark` (DNS lookups included); None when strace is not installed."""
        if self.trace_path is None:
            return None
        return self._all_connections()[self._seen :]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if self.trace_path is not None:
            with contextlib.suppress(psutil.NoSuchProcess, IndexError):
                self._server().send_signal(signal.SIGTERM)  # the server, not strace: a graceful shutdown
        else:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def capture() -> Iterator[CaptureAzure]:
    server = CaptureAzure().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def elsewhere() -> Iterator[CaptureAzure]:
    """Another loopback HTTP server: what a steered `api_base` points at. It must never receive anything."""
    server = CaptureAzure("elsewhere").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def recording_proxy() -> Iterator[RecordingProxy]:
    proxy = RecordingProxy().start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def steered(
    capture: CaptureAzure, recording_proxy: RecordingProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TracedGateway]:
    """The gateway as configured for production (key auth, a deployment name that is not the alias, a dated
    api-version), with the capture as Azure and every way out of the process watched."""
    env = {
        "AZURE_OPENAI_ENDPOINT": capture.url,
        "AZURE_OPENAI_API_KEY": AZURE_KEY,
        "AZURE_OPENAI_RESPONSES_API_VERSION": API_VERSION,
        "GATEWAY_CODEX_MODEL": ALIAS,
        "GATEWAY_CODEX_DEPLOYMENT": DEPLOYMENT,
        "GATEWAY_KEYS": GATEWAY_KEYS,
        "HTTP_PROXY": recording_proxy.url,
        "HTTPS_PROXY": recording_proxy.url,
        "ALL_PROXY": recording_proxy.url,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    gateway = TracedGateway(env=env, output_path=Path(tmp_path_factory.mktemp("steered")) / "output.log")
    gateway.start(timeout=90)
    yield gateway
    gateway.stop()


@pytest.fixture(autouse=True)
def _fresh_observations(request: pytest.FixtureRequest) -> None:
    """Each test sees only what it caused: captures, proxy attempts and connections start empty."""
    for name in ("capture", "elsewhere"):
        if name in request.fixturenames:
            server: CaptureAzure = request.getfixturevalue(name)
            server.clear()
    if "recording_proxy" in request.fixturenames:
        proxy: RecordingProxy = request.getfixturevalue("recording_proxy")
        proxy.attempts.clear()
    if "steered" in request.fixturenames:
        gateway: TracedGateway = request.getfixturevalue("steered")
        gateway.mark()

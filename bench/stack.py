"""Start and stop the processes under test, each its own OS process on 127.0.0.1, stopped by pid.

- the emulator (`python -m aigateway.emulator`): a separate process so it never shares a GIL with the
  load generator or a proxy;
- the gateway exactly as the container runs it (`aigateway.launcher.GatewayProcess`), limits raised so the
  benchmark measures cost, not throttling;
- stock LiteLLM (`litellm --config`, same version) with the minimal config that routes the same two models.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from aigateway.launcher import GatewayProcess, free_port
from bench.load import Endpoint

EMULATOR_KEY = "emulator-key"
BENCH_KEY = "sk-bench-key-0000000001"
LITELLM_MASTER_KEY = "sk-bench-master-0000000001"
EMBEDDINGS_MODEL = "text-embedding-3-small"
CODEX_MODEL = "gpt-5.3-codex"
EMBEDDINGS_API_VERSION = "2024-10-21"
HOST = "127.0.0.1"

# Limits far above anything the benchmark sends: the gateway is measured as configured for production
# except that its throttles cannot shape the figures.
GATEWAY_BENCH_ENV = {
    "AZURE_OPENAI_API_KEY": EMULATOR_KEY,
    "GATEWAY_KEYS": f"bench={BENCH_KEY}",
    "GATEWAY_DEFAULT_RPM": "10000000",
    "GATEWAY_EMBEDDINGS_RPM": "10000000",
    "GATEWAY_DEFAULT_MAX_PARALLEL": "1000",
    "GATEWAY_MAX_CONCURRENCY": "1000",
}


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    # Nothing from the developer's shell may point a server at real Azure or change its settings.
    prefixes = ("AZURE_", "GATEWAY_", "LITELLM_", "EMULATOR_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


def _wait_http_ok(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # the same poll interval as aigateway.launcher, so cold starts compare fairly
    raise RuntimeError(f"{url} not ready within {timeout:.0f}s: {log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class Emulator:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Emulator:
        log = self.workdir / "emulator.log"
        # Recording requests costs the emulator CPU and memory on every call; the benchmark never reads them.
        env = _clean_env({"EMULATOR_MAX_RECORDED_REQUESTS": "0", "PYTHONUNBUFFERED": "1"})
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "aigateway.emulator", "--host", HOST, "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_http_ok(f"{self.url}/_emulator/health", self.process, 30, log)
        return self

    def set_stream_delay(self, ms: float) -> None:
        httpx.put(f"{self.url}/_emulator/faults", json={"stream_event_delay_ms": ms}, timeout=10).raise_for_status()

    def stop(self) -> None:
        _stop(self.process)


def write_litellm_config(path: Path, emulator_url: str) -> Path:
    """The minimal stock config routing the same models as the gateway (facts §9 / the issue)."""
    path.write_text(
        f"""model_list:
  - model_name: {EMBEDDINGS_MODEL}
    litellm_params:
      model: azure/{EMBEDDINGS_MODEL}
      api_base: {emulator_url}
      api_key: {EMULATOR_KEY}
      api_version: "{EMBEDDINGS_API_VERSION}"
  - model_name: {CODEX_MODEL}
    litellm_params:
      model: azure/responses/{CODEX_MODEL}
      api_base: {emulator_url}
      api_key: {EMULATOR_KEY}
      api_version: preview
    model_info:
      mode: responses
general_settings:
  master_key: {LITELLM_MASTER_KEY}
"""
    )
    return path


@dataclass
class StockLiteLLM:
    config: Path
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    ready_after: float = 0.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> StockLiteLLM:
        log = self.workdir / f"litellm-{self.port}.log"
        command = [str(Path(sys.executable).with_name("litellm")), "--config", str(self.config)]
        command += ["--host", HOST, "--port", str(self.port)]
        env = _clean_env({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1"})
        started = time.perf_counter()
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait_http_ok(f"{self.url}/health/readiness", self.process, 90, log)
        self.ready_after = time.perf_counter() - started
        return self

    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        _stop(self.process)


def start_gateway(emulator_url: str, workdir: Path) -> GatewayProcess:
    log = workdir / f"gateway-{time.monotonic_ns()}.log"
    return GatewayProcess(env={"AZURE_OPENAI_ENDPOINT": emulator_url, **GATEWAY_BENCH_ENV}, output_path=log).start(
        timeout=90
    )


def gateway_pid(gateway: GatewayProcess) -> int:
    assert gateway.process is not None
    return gateway.process.pid


def rss_bytes(pid: int) -> int:
    """RSS of the process and its children (a server that forks workers is measured whole)."""
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return int(total)


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@dataclass(frozen=True)
class Target:
    """One path to the models: direct (the emulator), the gateway, or stock LiteLLM."""

    name: str
    embeddings: Endpoint
    responses: Endpoint
    pid: int
    chat: Endpoint | None = None  # chat completions, bridged to the Responses API (proxies only: Azure has none)


def direct_target(emulator: Emulator) -> Target:
    auth = ("api-key", EMULATOR_KEY)
    path = f"/openai/deployments/{EMBEDDINGS_MODEL}/embeddings?api-version={EMBEDDINGS_API_VERSION}"
    assert emulator.process is not None
    return Target(
        "direct",
        Endpoint(HOST, emulator.port, path, auth),
        Endpoint(HOST, emulator.port, "/openai/v1/responses", auth),
        emulator.process.pid,
    )


def proxy_target(name: str, port: int, key: str, pid: int) -> Target:
    auth = ("Authorization", f"Bearer {key}")
    return Target(
        name,
        Endpoint(HOST, port, "/v1/embeddings", auth),
        Endpoint(HOST, port, "/v1/responses", auth),
        pid,
        Endpoint(HOST, port, "/v1/chat/completions", auth),
    )

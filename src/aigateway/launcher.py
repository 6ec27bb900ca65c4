"""Start and stop real gateway processes (`aigateway serve`) on loopback: for tests, benchmarks and CI.

The child runs exactly as in the container: the same command and `BASE_ENV` (the Dockerfile test checks
that the image matches), with its output captured to a file so tests can read every line it printed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aigateway.errors import StartupError

# Environment every gateway process runs with, locally, in tests and in the container image.
BASE_ENV: dict[str, str] = {
    # No network at start: LiteLLM would otherwise fetch its model cost map from GitHub.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
# The command the container image runs (see Dockerfile).
SERVE_COMMAND = ("aigateway", "serve")
READY_PATH = "/health/readiness"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _aigateway_executable() -> str:
    beside_python = Path(sys.executable).with_name("aigateway")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("aigateway")
    if found is None:
        raise StartupError("the aigateway command is not installed (run: python3 dev.py test)")
    return found


@dataclass
class GatewayProcess:
    """One `aigateway serve` child process on 127.0.0.1."""

    env: dict[str, str]
    output_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> GatewayProcess:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "GATEWAY_", "LITELLM_"))},
            **BASE_ENV,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        out = self.output_path.open("ab")
        self.started_at = time.perf_counter()
        command = [_aigateway_executable(), *SERVE_COMMAND[1:]]
        self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.wait_ready(timeout)
        self.ready_after = time.perf_counter() - self.started_at
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StartupError(f"gateway exited with {self.process.returncode}: {self.output()[-2000:]}")
            try:
                if httpx.get(self.url + READY_PATH, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise StartupError(f"gateway not ready within {timeout:.0f}s: {self.output()[-2000:]}")

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def rss_bytes(self) -> int:
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise StartupError("no VmRSS for the gateway process")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def __enter__(self) -> GatewayProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

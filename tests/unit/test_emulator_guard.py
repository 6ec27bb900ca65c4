"""No silent emulator in production: without AZURE_OPENAI_ENDPOINT the gateway runs its embedded emulator
only on a laptop-like setup (no project keys, loopback) or when asked for explicitly, and its banner shows
the address it really listens on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from aigateway.errors import SettingsError
from aigateway.launcher import GatewayProcess, free_port
from aigateway.server import _banner
from aigateway.settings import is_loopback_host, load_settings, require_upstream

PROJECT_KEY = "sk-guard-0123456789abcdef"
AIGATEWAY = str(Path(sys.executable).with_name("aigateway"))


def check(env: dict[str, str]) -> None:
    require_upstream(load_settings(env), env)


@pytest.mark.parametrize(
    "env",
    [
        {},  # python3 dev.py serve on a fresh machine
        {"GATEWAY_HOST": "localhost"},
        {"GATEWAY_HOST": "127.0.0.2"},
        {"GATEWAY_HOST": "::1"},
        {"GATEWAY_KEYS": ""},  # set but empty: no project key, the local one applies
        {"GATEWAY_EMULATOR": "true", "GATEWAY_KEYS": f"prod={PROJECT_KEY}", "GATEWAY_HOST": "0.0.0.0"},
        {
            "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
            "AZURE_OPENAI_API_KEY": "a" * 32,
            "GATEWAY_KEYS": f"prod={PROJECT_KEY}",
            "GATEWAY_HOST": "::",
        },
    ],
)
def test_the_emulator_or_azure_is_allowed(env: dict[str, str]) -> None:
    check(env)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"GATEWAY_KEYS": f"prod={PROJECT_KEY}"}, "project keys are configured"),
        ({"GATEWAY_KEY_PROD": PROJECT_KEY}, "project keys are configured"),
        ({"GATEWAY_HOST": "0.0.0.0"}, "GATEWAY_HOST '0.0.0.0' is not a loopback address"),
        ({"GATEWAY_HOST": "::"}, "GATEWAY_HOST '::' is not a loopback address"),
        ({"GATEWAY_HOST": "10.0.0.4"}, "is not a loopback address"),
        ({"GATEWAY_HOST": "gateway.internal"}, "is not a loopback address"),  # a name may resolve anywhere
        ({"GATEWAY_EMULATOR": "false", "GATEWAY_KEY_PROD": PROJECT_KEY}, "project keys are configured"),
    ],
)
def test_a_missing_endpoint_is_an_error_where_the_process_could_be_production(env: dict[str, str], reason: str) -> None:
    with pytest.raises(SettingsError) as caught:
        check(env)
    message = str(caught.value)
    assert message.startswith("AZURE_OPENAI_ENDPOINT is not set and ")
    assert reason in message and "GATEWAY_EMULATOR=true" in message
    assert PROJECT_KEY not in message, "a key never appears in an error"


def test_asking_for_the_emulator_and_azure_at_once_is_an_error() -> None:
    env = {"GATEWAY_EMULATOR": "true", "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"}
    with pytest.raises(SettingsError, match=r"^GATEWAY_EMULATOR: .*AZURE_OPENAI_ENDPOINT"):
        load_settings({**env, "AZURE_OPENAI_API_KEY": "a" * 32})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("LOCALHOST", True), ("0.0.0.0", False), ("", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_banner_shows_the_real_listen_address() -> None:
    emulator = "http://127.0.0.1:40123"
    assert _banner(load_settings({}), emulator)[0] == "aigateway: base URL  http://127.0.0.1:4000/v1"
    everywhere = _banner(load_settings({"GATEWAY_HOST": "0.0.0.0", "GATEWAY_EMULATOR": "1"}), emulator)
    assert everywhere[0].startswith("aigateway: base URL  http://0.0.0.0:4000/v1   (listening on every interface")
    assert "GATEWAY_EMULATOR: fake completions, not Azure" in everywhere[1]
    assert _banner(load_settings({"GATEWAY_HOST": "::", "GATEWAY_EMULATOR": "1"}), emulator)[0].startswith(
        "aigateway: base URL  http://[::]:4000/v1"
    )


# --- the real command -----------------------------------------------------------------------------------


def serve(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [AIGATEWAY, "serve", *args],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GATEWAY_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=20,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "env",
    [
        {"GATEWAY_KEYS": f"prod={PROJECT_KEY}"},
        {"GATEWAY_KEY_PROD": PROJECT_KEY, "GATEWAY_HOST": "0.0.0.0"},  # how the Container App injects keys
        {"GATEWAY_HOST": "0.0.0.0"},  # the image's own default, with no keys at all
    ],
)
def test_serve_without_an_endpoint_stops_within_seconds_naming_it(env: dict[str, str]) -> None:
    result, elapsed = serve(env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert elapsed < 10, f"took {elapsed:.1f}s"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aigateway: AZURE_OPENAI_ENDPOINT is not set")
    assert "base URL" not in result.stdout, "nothing was started"


def listen_addresses(pid: int, port: int) -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


@pytest.mark.e2e
def test_the_image_smoke_setup_starts_on_every_interface_and_says_so(tmp_path: Path) -> None:
    """What CI's image job runs: GATEWAY_HOST=0.0.0.0 (the image's), GATEWAY_EMULATOR=true, no keys, then smoke."""
    env = {"GATEWAY_HOST": "0.0.0.0", "GATEWAY_EMULATOR": "true"}
    with GatewayProcess(env=env, output_path=tmp_path / "out.log") as gateway:
        assert gateway.process is not None
        assert listen_addresses(gateway.process.pid, gateway.port) == {"0.0.0.0"}
        output = gateway.output()
        assert f"base URL  http://0.0.0.0:{gateway.port}/v1   (listening on every interface" in output
        assert "GATEWAY_EMULATOR: fake completions, not Azure" in output
        assert "key       sk-local-dev" in output
        smoke = subprocess.run(
            [AIGATEWAY, "smoke", "--base-url", gateway.url, "--key", "sk-local-dev", "--timeout", "20"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr


@pytest.mark.e2e
def test_the_emulator_flag_of_serve_asks_for_it_even_with_project_keys(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "out.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GATEWAY_PORT": str(port),
        "GATEWAY_KEYS": f"ci={PROJECT_KEY}",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    with log.open("wb") as out:
        process = subprocess.Popen([AIGATEWAY, "serve", "--emulator"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        ready = False
        while time.monotonic() < deadline and process.poll() is None and not ready:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/readiness", timeout=1).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready, log.read_text()
        assert "embedded Azure OpenAI emulator" in log.read_text()
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/responses",
            headers={"authorization": f"Bearer {PROJECT_KEY}"},
            json={"model": "gpt-5.3-codex", "input": "hi"},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
    finally:
        process.terminate()
        process.wait(timeout=15)

"""`aigateway serve` in its embedded default, dated api-versions, the smoke suite, and no leaks in output."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from openai import OpenAI

from aigateway.launcher import GatewayProcess, free_port
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, Emulator, request_lines

pytestmark = pytest.mark.e2e


def smoke(url: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aigateway.cli", "smoke", "--base-url", url, "--key", key, "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def embedded(gateway_factory: GatewayFactory) -> GatewayProcess:
    """Exactly what a newcomer runs: no Azure settings at all."""
    return gateway_factory({}, name="embedded")


def test_embedded_default_prints_url_and_local_key(embedded: GatewayProcess) -> None:
    output = embedded.output()
    assert f"base URL  http://127.0.0.1:{embedded.port}/v1" in output
    assert "key       sk-local-dev" in output
    assert "embedded Azure OpenAI emulator" in output
    client = OpenAI(base_url=embedded.url + "/v1", api_key="sk-local-dev", max_retries=0)
    assert client.responses.create(model="gpt-5.3-codex", input="hi").output_text


def test_smoke_passes_against_the_local_stack(embedded: GatewayProcess) -> None:
    result = smoke(embedded.url, "sk-local-dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed, 0 failed" in result.stdout
    assert "FAIL" not in result.stdout


def test_smoke_fails_clearly_with_a_wrong_key(embedded: GatewayProcess) -> None:
    result = smoke(embedded.url, "sk-not-the-key-000")
    assert result.returncode == 1
    assert "401: the gateway rejected the key (check --key)" in result.stdout
    assert "FAILED" in result.stderr


def test_smoke_fails_clearly_with_a_broken_upstream(gateway_factory: GatewayFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    broken = gateway_factory(
        {
            "AZURE_OPENAI_ENDPOINT": dead,
            "AZURE_OPENAI_API_KEY": "k" * 32,
            "GATEWAY_KEYS": f"team-a={TEAM_A_KEY}",
            "GATEWAY_RETRY_ATTEMPTS": "1",
        },
        name="broken",
    )
    result = smoke(broken.url, TEAM_A_KEY)
    assert result.returncode == 1
    table = result.stdout
    assert "readiness probe (no key)                       PASS" in table
    assert "responses.create                               FAIL" in table
    assert "embeddings base64                              FAIL" in table


def test_smoke_fails_when_nothing_listens() -> None:
    result = smoke(f"http://127.0.0.1:{free_port()}", TEAM_A_KEY)
    assert result.returncode == 1
    assert "cannot connect" in result.stdout or "ConnectError" in result.stdout


def test_dated_responses_api_version_uses_the_dated_path(gateway_factory: GatewayFactory, emulator: Emulator) -> None:
    dated = gateway_factory(azure_env(emulator, AZURE_OPENAI_RESPONSES_API_VERSION="2025-04-01-preview"), name="dated")
    client = OpenAI(base_url=dated.url + "/v1", api_key=TEAM_A_KEY, max_retries=0)
    assert client.responses.create(model="gpt-5.3-codex", input="hi").output_text
    chat = client.chat.completions.create(model="gpt-5.3-codex", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content
    upstream = [r for r in emulator.requests() if r["path"].startswith("/openai/")]
    assert [(r["path"], r["query"].get("api-version")) for r in upstream] == [
        ("/openai/responses", "2025-04-01-preview"),
        ("/openai/responses", "2025-04-01-preview"),
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEWAY_PORT": "eighty"}, "GATEWAY_PORT:"),
        ({"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"}, "AZURE_OPENAI_API_KEY is required"),
        ({"AZURE_OPENAI_RESPONSES_API_VERSION": "2024-10-21"}, "AZURE_OPENAI_RESPONSES_API_VERSION:"),
        ({"GATEWAY_KEYS": "team-a=short"}, "GATEWAY_KEYS:"),
        ({"GATEWAY_PROJECT_LIMITS": "{not json"}, "GATEWAY_PROJECT_LIMITS"),
    ],
)
def test_bad_settings_fail_at_start_with_one_line_naming_the_variable(env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aigateway.cli", "serve"],
        env={"PATH": "/usr/bin:/bin", "GATEWAY_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aigateway: ") and message in lines[0]


def test_no_prompt_completion_input_or_key_in_output(gateway: GatewayProcess, emulator: Emulator) -> None:
    canary = "CANARY-7f3a9c-prompt"
    reply = "CANARY-b41e-completion"
    client = OpenAI(base_url=gateway.url + "/v1", api_key=TEAM_A_KEY, max_retries=0)
    client.responses.create(model="gpt-5.3-codex", input=f"{canary} [[say:{reply}]]")
    with client.responses.stream(model="gpt-5.3-codex", input=f"{canary} [[say:{reply}]]") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
    assert reply in text  # the canary completion really went through the gateway
    client.chat.completions.create(
        model="gpt-5.3-codex", messages=[{"role": "user", "content": f"{canary} [[say:{reply}]]"}]
    )
    client.embeddings.create(model="text-embedding-3-small", input=[canary])
    emulator.set_faults(script=[{"status": 400}])
    httpx.post(
        gateway.url + "/v1/responses",
        headers={"authorization": f"Bearer {TEAM_A_KEY}"},
        json={"model": "gpt-5.3-codex", "input": canary},
        timeout=30,
    )
    httpx.post(
        gateway.url + "/v1/embeddings",
        headers={"authorization": f"Bearer {canary}"},
        json={"model": "text-embedding-3-small", "input": canary},
        timeout=30,
    )
    output = gateway.output()
    assert canary not in output and reply not in output
    assert TEAM_A_KEY not in output and emulator.api_key not in output
    assert len(request_lines(output)) > 0

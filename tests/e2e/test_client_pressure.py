"""Real clients under Azure throttling (issue 12, points 1-3): what they see, and how many Azure calls a
request of theirs costs. The clients are the official Python `openai` SDK and a Roo Code replica on the
openai npm package at Roo's version (tests/clients/roo_replica.mjs, installed by dev.py); Azure is the
emulator with a fault script; the gateway runs with its production retry defaults.

Why each test failed on the main this started from (9250868 + 29bd60e):
- three 429s with Retry-After 10: the gateway waited them out itself, its 15 s keepalive committed
  `200 text/event-stream`, and the final 429 went in-band: Roo's native provider saw an empty turn, the
  chat SDK an error without a status (no retry);
- sustained 429s: every client attempt cost up to 3 Azure calls (Python SDK 9, Roo native 12);
- the limiter's full window gave `Retry-After: 60`, and Azure's 90 s went through as 90: openai-node ignores
  both and gives up after two sub-second backoffs; no `retry-after-ms` was sent at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from aigateway.launcher import GatewayProcess
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, TEAM_B_KEY, Emulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REPLICA = ROOT / "tests" / "clients" / "roo_replica.mjs"
NODE_MODULES = ROOT / ".cache" / "npm" / "lib" / "node_modules"
CODEX = "gpt-5.3-codex"
EMBED = "text-embedding-3-small"
TIGHT_KEY = "sk-tight-project-000000001"


@pytest.fixture(scope="module")
def gw(emulator: Emulator, gateway_factory: GatewayFactory) -> GatewayProcess:
    """Production retry and keepalive defaults (3 attempts, Retry-After waited up to 20 s, 15 s keepalive)."""
    return gateway_factory(
        azure_env(
            emulator,
            GATEWAY_KEYS=f"team-a={TEAM_A_KEY},team-b={TEAM_B_KEY},tight={TIGHT_KEY}",
            GATEWAY_PROJECT_LIMITS=json.dumps({"tight": {"rpm": 1}}),
        ),
        name="pressure",
    )


def azure_calls(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"].startswith("/openai/")]


def roo(gw: GatewayProcess, mode: str) -> dict[str, Any]:
    """One Roo turn (`native`: Responses via the SDK, then Roo's fetch fallback; `compat`: chat)."""
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "openai" / "package.json").exists():
        pytest.fail("node and openai-node missing: python3 dev.py test installs openai@5.12.2 into .cache/npm")
    done = subprocess.run(
        [node, str(REPLICA), mode, gw.url, TEAM_A_KEY, CODEX],
        env={**os.environ, "ROO_OPENAI_NODE_MODULES": str(NODE_MODULES)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def assert_usable_retry_after(response: httpx.Response | openai.APIStatusError) -> int:
    """Retry-After of 1-59 whole seconds (openai-node ignores 60+) with a matching retry-after-ms."""
    headers: Mapping[str, str] = response.headers if isinstance(response, httpx.Response) else response.response.headers
    seconds = int(headers["retry-after"])
    assert 1 <= seconds <= 59, headers
    assert headers["retry-after-ms"] == str(seconds * 1000), headers
    return seconds


# --- acceptance: three 429s with Retry-After 10 --------------------------------------------------------


def test_roo_native_facing_three_429s_completes_its_turn(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 429, "retry_after": 10}] * 3)
    result = roo(gw, "native")
    assert result["outcome"] == "completed", result  # never "empty" (an in-band error after a 200)
    wire = [(w["status"], w["retryAfter"]) for w in result["wire"]]
    # The SDK saw real 429s it could honour (it waited 10 s twice), then Roo's fetch fallback got the answer.
    assert wire == [(429, "10"), (429, "10"), (429, "10"), (200, None)], wire
    assert result["seconds"] >= 19, result
    assert [c["status"] for c in azure_calls(emulator)] == [429, 429, 429, 200]


def test_roo_chat_facing_three_429s_gets_a_real_429_it_retried(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 429, "retry_after": 10}] * 3)
    result = roo(gw, "compat")
    assert result["outcome"] == "error" and result["status"] == 429, result
    assert [(w["status"], w["retryAfter"]) for w in result["wire"]] == [(429, "10")] * 3, result
    assert result["seconds"] >= 19, "the SDK honoured Retry-After between its attempts"
    assert len(azure_calls(emulator)) == 3


# --- calls per client request under sustained 429s -------------------------------------------------------


@pytest.mark.parametrize("route", ["responses", "chat"])
def test_python_sdk_with_default_retries_costs_at_most_3_azure_calls(
    gw: GatewayProcess, emulator: Emulator, route: str
) -> None:
    emulator.set_faults(error_rate=1.0, error_status=429)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=TEAM_A_KEY)  # max_retries: the default, 2

    def call() -> object:
        if route == "responses":
            return client.responses.create(model=CODEX, input="hi")
        return client.chat.completions.create(model=CODEX, messages=[{"role": "user", "content": "hi"}])

    with pytest.raises(openai.RateLimitError) as raised:
        call()
    assert_usable_retry_after(raised.value)
    assert len(azure_calls(emulator)) <= 3


def test_roo_native_request_costs_at_most_4_azure_calls(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(error_rate=1.0, error_status=429)
    result = roo(gw, "native")
    assert result["outcome"] == "error" and result["status"] == 429, result
    assert len(result["wire"]) == 4, "SDK: 1 + 2 retries; then Roo's fetch fallback"
    assert len(azure_calls(emulator)) <= 4


def test_roo_chat_request_costs_at_most_3_azure_calls(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(error_rate=1.0, error_status=429)
    result = roo(gw, "compat")
    assert result["outcome"] == "error" and result["status"] == 429, result
    assert len(azure_calls(emulator)) <= 3


def test_5xx_is_still_retried_for_a_client_that_retries_itself(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 500}])
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=TEAM_A_KEY, max_retries=0)
    assert client.responses.create(model=CODEX, input="hi").status == "completed"
    assert [c["status"] for c in azure_calls(emulator)] == [500, 200]


def test_a_client_without_its_own_retries_still_gets_the_gateways(gw: GatewayProcess, emulator: Emulator) -> None:
    emulator.set_faults(script=[{"status": 429, "retry_after": 1}])
    response = httpx.post(
        gw.url + "/v1/embeddings",
        json={"model": EMBED, "input": "retry me"},
        headers={"authorization": f"Bearer {TEAM_A_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert [c["status"] for c in azure_calls(emulator)] == [429, 200]


# --- Retry-After clients can use -------------------------------------------------------------------------


def test_no_429_or_503_carries_a_retry_after_outside_1_to_59(gw: GatewayProcess, emulator: Emulator) -> None:
    headers = {"authorization": f"Bearer {TIGHT_KEY}"}
    body = {"model": EMBED, "input": "x"}
    assert httpx.post(gw.url + "/v1/embeddings", json=body, headers=headers, timeout=30).status_code == 200
    window_full = httpx.post(gw.url + "/v1/embeddings", json=body, headers=headers, timeout=30)
    assert window_full.status_code == 429
    assert assert_usable_retry_after(window_full) == 59, "the limiter's exact 60 s becomes 59"
    assert "frees in 60 s" in window_full.json()["error"]["message"], "the message keeps the true wait"

    team_a = {"authorization": f"Bearer {TEAM_A_KEY}"}
    emulator.set_faults(script=[{"status": 429, "retry_after": 90}])
    azure_long = httpx.post(gw.url + "/v1/responses", json={"model": CODEX, "input": "a"}, headers=team_a, timeout=30)
    assert azure_long.status_code == 429 and assert_usable_retry_after(azure_long) == 59

    emulator.set_faults(script=[{"status": 503, "retry_after_ms": 120_000}])
    unavailable = httpx.post(gw.url + "/v1/embeddings", json={"model": EMBED, "input": "b"}, headers=team_a, timeout=30)
    assert unavailable.status_code == 503 and assert_usable_retry_after(unavailable) == 59

    emulator.set_faults(script=[{"status": 429, "retry_after": 75}])
    chat = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": CODEX, "messages": [{"role": "user", "content": "c"}], "stream": True},
        headers=team_a,
        timeout=30,
    )
    assert chat.status_code == 429 and assert_usable_retry_after(chat) == 59
    assert "75 s" in chat.json()["error"]["message"]

    emulator.set_faults(script=[{"status": 429, "retry_after_ms": 2500, "omit_retry_after": True}])
    short = httpx.post(
        gw.url + "/v1/responses",
        json={"model": CODEX, "input": "d", "stream": True},
        headers={**team_a, "x-stainless-retry-count": "1"},
        timeout=30,
    )
    assert short.status_code == 429 and assert_usable_retry_after(short) == 3

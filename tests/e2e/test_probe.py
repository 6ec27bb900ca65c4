"""`aigateway probe` as the pipeline runs it: the real CLI in a subprocess, key in the environment, against a
real gateway process and the emulator (strict, like Azure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aigateway.emulator.config import Deployment, EmulatorConfig, default_deployments
from aigateway.emulator.server import start_in_thread
from aigateway.launcher import GatewayProcess
from aigateway.probe.cases import CASE_NAMES
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, Emulator

pytestmark = pytest.mark.e2e

AIGATEWAY = str(Path(sys.executable).with_name("aigateway"))
# Every prompt the probe sends, in part: none may appear in its output.
PROMPT_FRAGMENTS = ("Reply with the single word", "List the files", "numbered list", "You are Roo", "You are Qoder")


def probe(
    base_url: str, *args: str, key: str = TEAM_A_KEY, variable: str = "GATEWAY_SMOKE_KEY"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_SMOKE_KEY", "AIGATEWAY_KEY")}
    if key:
        env[variable] = key
    return subprocess.run(
        [AIGATEWAY, "probe", "--base-url", base_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def rows(stdout: str) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(stdout)}


def test_every_case_passes_against_the_local_stack(gateway: GatewayProcess, emulator: Emulator) -> None:
    done = probe(gateway.url + "/v1")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in CASE_NAMES:
        row = next(line for line in lines if line.startswith(name + " "))
        assert " PASS " in row and " 200 " in row, row
    assert f"{len(CASE_NAMES)} passed, 0 failed" in done.stdout

    # What reached Azure (after the gateway fitted it): the tool loop's replay, the indexing batch.
    sent = [r for r in emulator.requests() if r["path"].startswith("/openai/")]
    codex_turns = [r["body"]["input"] for r in sent if r["path"] == "/openai/v1/responses"][:3]
    second = [item.get("type") for item in codex_turns[1]]
    assert second[-3:] == ["reasoning", "function_call", "function_call_output"], second
    assert codex_turns[1][-3]["encrypted_content"], "the reasoning item is replayed with its blob"
    assert codex_turns[2][-1]["role"] == "user", "turn 3 adds a user message after turn 2's output"
    embedded = next(r["body"] for r in sent if r["path"].endswith("/embeddings"))
    assert len(embedded["input"]) == 60 and embedded["encoding_format"] == "base64"


def test_json_rows_carry_status_and_the_gateways_request_id(gateway: GatewayProcess) -> None:
    done = probe(gateway.url, "--json", "--case", "qoder", "--case", "embeddings", variable="AIGATEWAY_KEY")
    assert done.returncode == 0, done.stdout + done.stderr
    found = rows(done.stdout)
    assert set(found) == {"qoder", "embeddings"}
    for row in found.values():
        assert row["ok"] and row["status"] == 200 and row["code"] is None
        assert len(row["request_id"]) == 16, "the gateway's x-request-id, for its telemetry line"


def test_a_missing_key_is_a_usage_error(gateway: GatewayProcess) -> None:
    done = probe(gateway.url, key="")
    assert done.returncode == 2
    assert "GATEWAY_SMOKE_KEY" in done.stderr and done.stdout == ""


def test_a_wrong_key_fails_every_case_with_the_gateways_code(gateway: GatewayProcess) -> None:
    canary = "sk-probe-canary-7f3a9c1e5b"
    done = probe(gateway.url, "--case", "roo-chat", "--case", "embeddings", key=canary)
    assert done.returncode == 1
    assert canary not in done.stdout + done.stderr
    assert done.stdout.count(" FAIL ") == 2 and " 401 " in done.stdout


def refuse_next_responses_request(emulator: Emulator, message: str, param: str, code: str) -> None:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    emulator.set_faults(script=[{"status": 400, "route": "responses", "body": {"error": error}}])


def test_output_holds_no_prompt_and_no_key(emulator: Emulator, gateway_factory: GatewayFactory) -> None:
    """A key planted as canary, and an upstream failure whose message quotes the prompt: neither is printed."""
    canary = "sk-canary-probe-5e1d0c2b7a"
    gw = gateway_factory(azure_env(emulator, GATEWAY_KEYS=f"team-c={canary}"), name="probe-canary")
    quoted = "Invalid prompt: 'Reply with the single word: ok.' quoted back"
    for output in ([], ["--json"]):
        refuse_next_responses_request(emulator, quoted, "input", "invalid_prompt")
        done = probe(gw.url, *output, "--case", "roo-native", "--case", "qoder", key=canary)
        assert done.returncode == 1
        text = done.stdout + done.stderr
        assert "invalid_prompt" in text, "the failure shows, by its code"
        assert canary not in text
        assert not any(fragment in text for fragment in PROMPT_FRAGMENTS)
        assert "Hello from the Azure OpenAI emulator" not in text, "no answer text either"


def test_a_flipped_rule_names_the_client_that_sends_it(gateway: GatewayProcess, emulator: Emulator) -> None:
    """Azure refusing one field of one client's body (scripted: the next Responses request, Codex's turn 1)
    shows in that client's row with Azure's code and param; the other clients still pass."""
    refuse_next_responses_request(emulator, "Unknown parameter: 'input[2].id'.", "input[2].id", "unknown_parameter")
    done = probe(gateway.url, "--json")
    assert done.returncode == 1
    found = rows(done.stdout)
    assert not found["codex"]["ok"]
    assert (found["codex"]["status"], found["codex"]["code"], found["codex"]["param"]) == (
        400,
        "unknown_parameter",
        "input[2].id",
    )
    assert found["codex"]["detail"].startswith("turn 1:")
    assert [name for name, row in found.items() if not row["ok"]] == ["codex"]


@pytest.fixture
def picky_emulator() -> Iterator[Emulator]:
    """An Azure whose codex deployment takes only high efforts: the gateway's model profile is wrong for it."""
    deployments = default_deployments()
    codex = deployments["gpt-5.3-codex"].model_dump()
    deployments["gpt-5.3-codex"] = Deployment.model_validate({**codex, "efforts": ["high", "xhigh"]})
    config = EmulatorConfig(deployments=deployments)
    url, stop = start_in_thread("127.0.0.1", 0, config)
    yield Emulator(url=url, api_key=config.api_key)
    stop()


def test_a_strict_rule_the_gateway_does_not_know_fails_exactly_the_clients_that_send_it(
    picky_emulator: Emulator, gateway_factory: GatewayFactory
) -> None:
    gw = gateway_factory(azure_env(picky_emulator), name="probe-picky")
    done = probe(gw.url, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    found = rows(done.stdout)
    failing = {name for name, row in found.items() if not row["ok"]}
    # Roo's native request and Qoder send reasoning.effort "medium"; Codex (as recorded), Roo's chat
    # request (no reasoning_effort by default) and the long stream send no effort.
    assert failing == {"roo-native", "roo-native-priority", "qoder"}, done.stdout
    for name in failing:
        assert (found[name]["status"], found[name]["code"]) == (400, "unsupported_value"), found[name]
        assert found[name]["param"] == "reasoning.effort"
    assert found["embeddings"]["ok"] and found["codex"]["ok"]


def test_long_pauses_carry_keepalives(emulator: Emulator, gateway_factory: GatewayFactory) -> None:
    emulator.set_faults(stream_event_delay_ms=700, routes=["responses"])
    quick = gateway_factory(azure_env(emulator, GATEWAY_KEEPALIVE_SECONDS="0.25"), name="probe-keepalive")
    done = probe(quick.url, "--json", "--case", "long-stream", "--keepalive-seconds", "0.25")
    assert done.returncode == 0, done.stdout + done.stderr
    detail = rows(done.stdout)["long-stream"]["detail"]
    assert "no gap needed one" not in detail and "keepalive(s)" in detail, detail


def test_long_pauses_without_keepalives_fail(emulator: Emulator, gateway_factory: GatewayFactory) -> None:
    emulator.set_faults(stream_event_delay_ms=700, routes=["responses"])
    silent = gateway_factory(azure_env(emulator, GATEWAY_KEEPALIVE_SECONDS="0"), name="probe-no-keepalive")
    done = probe(silent.url, "--json", "--case", "long-stream", "--keepalive-seconds", "0.25")
    assert done.returncode == 1
    row = rows(done.stdout)["long-stream"]
    assert not row["ok"] and row["status"] == 200 and row["detail"].startswith("silent for"), row

"""The real Codex CLI (npm @openai/codex, installed by dev.py) against the local stack.

Codex >= 0.118 first tries a WebSocket on /v1/responses when the provider says it supports one; stock
LiteLLM answers 101 and leaves it waiting. The gateway refuses the upgrade at once (426), so Codex falls
back to HTTP streaming. These tests run `codex exec` for real and time the fallback side by side.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from aigateway import client_config
from aigateway.launcher import GatewayProcess
from tests.codex import codex_binary, environment, write_config
from tests.helpers import TEAM_A_KEY, Emulator

pytestmark = pytest.mark.e2e


def run_codex(
    gateway: GatewayProcess, home: Path, workdir: Path, prompt: str, websockets: bool, resume: bool = False
) -> tuple[float, str, str]:
    write_config(home, gateway.url, websockets=websockets)
    env = environment(home)
    started = time.perf_counter()
    # `exec resume` takes no sandbox flag: it keeps the session's (read-only, from the first turn).
    options = ["--json", "--skip-git-repo-check", "-m", "gpt-5.3-codex"]
    command = (
        [codex_binary(), "exec", "resume", "--last", *options]
        if resume
        else [codex_binary(), "exec", *options, "-s", "read-only"]
    )
    result = subprocess.run(
        [*command, prompt],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stdout + result.stderr
    return elapsed, result.stdout, result.stderr


def test_websocket_upgrade_is_refused_at_once(gateway: GatewayProcess) -> None:
    headers = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "authorization": f"Bearer {TEAM_A_KEY}",
    }
    started = time.perf_counter()
    response = httpx.get(gateway.url + "/v1/responses", headers=headers, timeout=5)
    assert time.perf_counter() - started < 0.5
    assert response.status_code == 426
    assert "SSE" in response.json()["error"]["message"]


def test_codex_exec_completes_with_a_tool_round_trip(
    gateway: GatewayProcess, emulator: Emulator, tmp_path: Path
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    _, stdout, _ = run_codex(gateway, home, work, "List the files [[call:exec_command]]", websockets=False)
    assert '"type":"turn.completed"' in stdout
    assert "Hello from the Azure OpenAI emulator." in stdout
    bodies = [r["body"] for r in emulator.requests() if r["path"] == "/openai/v1/responses"]
    assert len(bodies) == 2, "a tool call, then the turn with its output"
    assert any(item.get("type") == "function_call_output" for item in bodies[1]["input"])
    assert bodies[0]["stream"] is True and "tools" in bodies[0]


def test_codex_three_turn_tool_loop_passes_the_strict_emulator(
    gateway: GatewayProcess, emulator: Emulator, tmp_path: Path
) -> None:
    """Three user turns, each a tool call and its answer: every later request replays the whole stateless
    history (Codex's ids on every item, encrypted reasoning, client_metadata), which real Azure refuses
    unless the gateway fits it (proxy/azure_fit.py). The emulator is strict by default, as Azure is."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for turn in range(3):
        _, stdout, _ = run_codex(
            gateway, home, work, f"Turn {turn}: list the files [[call:exec_command]]", False, resume=turn > 0
        )
        assert '"type":"turn.completed"' in stdout, stdout[-2000:]
    calls = [r for r in emulator.requests() if r["path"] == "/openai/v1/responses"]
    assert [r["status"] for r in calls] == [200] * 6, "a tool call and an answer per turn, none refused"
    last = calls[-1]["body"]["input"]
    assert sum(item.get("type") == "function_call_output" for item in last) == 3, "the whole history is replayed"
    reasoning = [item for item in last if item.get("type") == "reasoning"]
    assert reasoning and all(item["id"].startswith("rs_") and item["encrypted_content"] for item in reasoning)
    assert all("id" not in item for item in last if item.get("type") != "reasoning")
    assert "client_metadata" not in calls[-1]["body"]


def test_codex_with_the_printed_config_compacts_its_history_through_the_gateway(
    gateway: GatewayProcess, emulator: Emulator, tmp_path: Path
) -> None:
    """`aigateway client-config codex` names the provider neutrally, so Codex compacts a long history itself
    (a summary request, then the summary as history). Named "azure", Codex 0.169 switches to its remote
    compaction instead, which expects an OpenAI-only `compaction` output item and fails the turn (measured
    through the gateway; docs/clients.md). A tiny auto-compact limit makes every turn compact."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    printed = client_config.render("codex", gateway.url, "gpt-5.3-codex", "text-embedding-3-small")
    (home / "config.toml").write_text("model_auto_compact_token_limit = 2000\n" + printed)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CODEX_HOME": str(home), "PVC_GATEWAY_KEY": TEAM_A_KEY}
    for turn in range(3):
        command = [codex_binary(), "exec", *(["resume", "--last"] if turn else []), "--json", "--skip-git-repo-check"]
        result = subprocess.run(
            [*command, f"Turn {turn} [[call:exec_command]]"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0 and '"type":"turn.completed"' in result.stdout, result.stdout[-2000:]
    calls = [r for r in emulator.requests() if r["path"] == "/openai/v1/responses"]
    assert all(r["status"] == 200 for r in calls)
    summaries = [r for r in calls if not r["body"].get("tools")]
    assert summaries, "Codex compacted its history with an ordinary Responses request"


def test_websocket_fallback_costs_under_a_second(gateway: GatewayProcess, tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    plain, with_ws, stderr_ws = [], [], ""
    for _ in range(3):  # alternate, so machine noise hits both sides alike
        plain.append(run_codex(gateway, home, work, "Say hello", websockets=False)[0])
        elapsed, stdout, stderr_ws = run_codex(gateway, home, work, "Say hello", websockets=True)
        assert '"type":"turn.completed"' in stdout
        with_ws.append(elapsed)
    assert "Responses WebSocket" in stderr_ws, "Codex really tried the WebSocket first"
    cost = statistics.median(with_ws) - statistics.median(plain)
    print(f"codex exec median: http {statistics.median(plain):.3f}s, websocket-first {statistics.median(with_ws):.3f}s")
    assert cost < 1.0, f"WebSocket fallback cost {cost:.2f}s"

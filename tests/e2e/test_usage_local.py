"""`aigateway usage --file` on the captured stdout of a real local gateway used by two projects."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from aigateway.launcher import GatewayProcess
from tests.conftest import GatewayFactory
from tests.helpers import GATEWAY_KEYS, TEAM_A_KEY, TEAM_B_KEY, request_lines

pytestmark = pytest.mark.e2e


def usage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aigateway.cli", "usage", *args], capture_output=True, text=True, timeout=60
    )


def wait_for_lines(gateway: GatewayProcess, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(request_lines(gateway.output())) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(request_lines(gateway.output())) == count, gateway.output()[-2000:]


@pytest.fixture(scope="module")
def used(gateway_factory: GatewayFactory) -> tuple[GatewayProcess, dict[str, dict[str, Any]]]:
    """A gateway on the embedded emulator with two project keys, and what each project's client saw."""
    gateway = gateway_factory({"GATEWAY_KEYS": GATEWAY_KEYS, "GATEWAY_EMULATOR": "true"}, name="usage")
    seen: dict[str, dict[str, Any]] = {}
    for project, key, chats, embeddings in (("team-a", TEAM_A_KEY, 3, 1), ("team-b", TEAM_B_KEY, 1, 2)):
        client = OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
        tokens_in = tokens_out = 0
        for i in range(chats):
            response = client.responses.create(model="gpt-5.3-codex", input=f"say hi {i}")
            assert response.usage is not None
            tokens_in, tokens_out = tokens_in + response.usage.input_tokens, tokens_out + response.usage.output_tokens
        for i in range(embeddings):
            vectors = client.embeddings.create(model="text-embedding-3-small", input=f"index chunk {i}")
            tokens_in += vectors.usage.prompt_tokens
        seen[project] = {"requests": chats + embeddings, "input_tokens": tokens_in, "output_tokens": tokens_out}
    with pytest.raises(openai.BadRequestError):  # a client error counted for team-b
        OpenAI(base_url=gateway.url + "/v1", api_key=TEAM_B_KEY, max_retries=0).responses.create(
            model="gpt-5.3-codex", input="hi", temperature=7.0
        )
    seen["team-b"]["requests"] += 1
    with pytest.raises(openai.AuthenticationError):  # no project: counted under (none)
        OpenAI(base_url=gateway.url + "/v1", api_key="sk-not-a-project-key", max_retries=0).models.list()
    wait_for_lines(gateway, 4 + 4 + 1)
    return gateway, seen


def test_usage_json_counts_requests_and_tokens_per_project(
    used: tuple[GatewayProcess, dict[str, dict[str, Any]]],
) -> None:
    gateway, seen = used
    result = usage("--file", str(gateway.output_path), "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["project"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"team-a", "team-b", "(none)"}
    for project in ("team-a", "team-b"):
        row = rows[project]
        assert seen[project]["input_tokens"] > 0
        assert (row["requests"], row["input_tokens"], row["output_tokens"]) == (
            seen[project]["requests"],
            seen[project]["input_tokens"],
            seen[project]["output_tokens"],
        )
        assert row["p50_ms"] > 0 and row["p95_ms"] >= row["p50_ms"]
    assert (rows["team-a"]["errors"], rows["team-b"]["errors"], rows["team-b"]["client_errors"]) == (0, 1, 1)
    assert (rows["(none)"]["requests"], rows["(none)"]["client_errors"]) == (1, 1)
    assert sum(row["throttled"] + row["server_errors"] for row in rows.values()) == 0
    # --json round-trips: parsing and printing again gives the same document.
    assert json.dumps(json.loads(result.stdout), indent=2) == result.stdout.rstrip("\n")


def test_usage_table_and_csv_agree_with_json(used: tuple[GatewayProcess, dict[str, dict[str, Any]]]) -> None:
    gateway, seen = used
    table = usage("--file", str(gateway.output_path))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].split()[:3] == ["project", "requests", "errors"]
    team_a = next(line for line in lines if line.startswith("team-a"))
    assert team_a.split()[1] == str(seen["team-a"]["requests"])
    csv_out = usage("--file", str(gateway.output_path), "--csv", "--since", "1h")
    assert csv_out.returncode == 0, csv_out.stderr
    assert csv_out.stdout.splitlines()[0].startswith("project,requests,errors,client_errors,throttled")
    assert len(csv_out.stdout.splitlines()) == 4


def test_usage_time_range_excludes_everything_before_it(
    used: tuple[GatewayProcess, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    gateway, _ = used
    result = usage("--file", str(gateway.output_path), "--json", "--from", "2999-01-01T00:00:00Z", "--to", "2999-01-02")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    missing = usage("--file", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and missing.stderr.strip().startswith("aigateway: telemetry file not found")

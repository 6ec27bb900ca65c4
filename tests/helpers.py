"""Helpers shared by the end-to-end tests: the emulator's control API and the gateway's telemetry lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

# The one key every end-to-end gateway accepts per project; the canary proves none is ever printed.
TEAM_A_KEY = "sk-team-a-0123456789abcdef"
TEAM_B_KEY = "sk-team-b-fedcba9876543210"
GATEWAY_KEYS = f"team-a={TEAM_A_KEY},team-b={TEAM_B_KEY}"


@dataclass
class Emulator:
    url: str
    api_key: str

    def requests(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/_emulator/requests", timeout=10).json())

    def clear(self) -> None:
        httpx.delete(f"{self.url}/_emulator/requests", timeout=10).raise_for_status()
        httpx.delete(f"{self.url}/_emulator/stats", timeout=10).raise_for_status()

    def set_faults(self, **faults: Any) -> None:
        httpx.put(f"{self.url}/_emulator/faults", json=faults, timeout=10).raise_for_status()

    def set_limits(self, limits: dict[str, dict[str, int | None]]) -> None:
        httpx.put(f"{self.url}/_emulator/limits", json=limits, timeout=10).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/_emulator/stats", timeout=10).json())

    def reset(self) -> None:
        self.set_faults()
        self.set_limits({name: {"rpm": None, "tpm": None} for name in self.deployments()})
        self.clear()

    def deployments(self) -> list[str]:
        return list(httpx.get(f"{self.url}/_emulator/limits", timeout=10).json())


def request_lines(output: str) -> list[dict[str, Any]]:
    """The gateway's telemetry lines (one JSON object per client request) from its captured output."""
    lines = []
    for line in output.splitlines():
        if line.startswith('{"event":"gateway_request"'):
            lines.append(json.loads(line))
    return lines

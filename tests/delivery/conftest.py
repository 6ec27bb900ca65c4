"""Fixtures for the delivery tests: the fake `az`/`gh` on PATH and a runner for the bootstrap scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.delivery import fake_az

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


@dataclass
class FakeCli:
    bin_dir: Path
    state_path: Path
    log_path: Path

    def state(self) -> dict[str, Any]:
        state = fake_az.empty_state()
        if self.state_path.exists():
            state.update(json.loads(self.state_path.read_text()))
        return state

    def save(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state))

    def update(self, change: Callable[[dict[str, Any]], None]) -> None:
        state = self.state()
        change(state)
        self.save(state)

    def calls(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def writes(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls() if c["write"]]

    def reset_log(self) -> None:
        self.log_path.unlink(missing_ok=True)

    def install_gh(self) -> None:
        (self.bin_dir / "gh").symlink_to(self.bin_dir / "az")

    def env(self, path: str | None = None) -> dict[str, str]:
        return {
            "PATH": str(self.bin_dir) if path is None else path,
            fake_az.ENV_VAR: str(self.state_path),
            fake_az.LOG_VAR: str(self.log_path),
            "PYTHONPATH": str(ROOT),
            "HOME": str(self.bin_dir.parent),
        }

    def az(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the fake `az` itself (as the deploy scripts will)."""
        return subprocess.run(
            [str(self.bin_dir / "az"), *args], capture_output=True, text=True, env=self.env(), timeout=60, check=False
        )

    def run(
        self, script: str, *args: str, stdin: str | None = None, path: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPTS / script), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=self.env(path),
            timeout=120,
            check=False,
        )


@pytest.fixture
def fake_cli(tmp_path: Path) -> FakeCli:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_az.install(bin_dir)
    cli = FakeCli(bin_dir, tmp_path / "state.json", tmp_path / "calls.jsonl")
    cli.save(fake_az.empty_state())
    return cli

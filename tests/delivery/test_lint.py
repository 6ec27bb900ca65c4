"""scripts/ and tests/delivery are project code: ruff and mypy --strict clean, like src/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.delivery.conftest import ROOT

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "ruff"), "check", "scripts", "tests/delivery"],
        [str(BIN / "ruff"), "format", "--check", "scripts", "tests/delivery"],
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "delivery"),
            "scripts",
            "tests/delivery",
        ],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_clean(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

"""infra/offline is project code: ruff and mypy --strict clean, like src/."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.infra.conftest import INFRA, REPO

pytestmark = pytest.mark.infra

BIN = REPO / ".venv" / "bin"


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "ruff"), "check", "infra/offline", "tests/infra"],
        [str(BIN / "ruff"), "format", "--check", "infra/offline", "tests/infra"],
        [sys.executable, "-m", "mypy", "--strict", str(INFRA / "offline" / "azurerm_offline")],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_offline_package_is_clean(command: list[str]) -> None:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

"""The real Codex CLI (npm @openai/codex, installed by dev.py) as the end-to-end tests run it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import TEAM_A_KEY

ROOT = Path(__file__).resolve().parents[1]
KEY_VARIABLE = "GW_API_KEY"


def codex_binary() -> str:
    local = ROOT / ".cache" / "npm" / "bin" / "codex"
    found = str(local) if local.exists() else shutil.which("codex")
    if found is None:
        pytest.fail("Codex CLI missing: python3 dev.py test installs it (npm @openai/codex)")
    return found


def write_config(home: Path, gateway_url: str, *, websockets: bool = False, extra: str = "") -> None:
    """A provider for the gateway as a test names it ("gateway": Codex's stateless mode), key from the env."""
    (home / "config.toml").write_text(
        f"""model = "gpt-5.3-codex"
model_provider = "gw"
[model_providers.gw]
name = "gateway"
base_url = "{gateway_url}/v1"
env_key = "{KEY_VARIABLE}"
wire_api = "responses"
supports_websockets = {"true" if websockets else "false"}
{extra}"""
    )


def environment(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "CODEX_HOME": str(home), KEY_VARIABLE: TEAM_A_KEY}

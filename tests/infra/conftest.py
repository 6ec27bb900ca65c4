"""Offline Terraform fixtures: the schema-only azurerm mirror and throw-away copies of infra/.

Terraform runs on copies (no .terraform/, no lock file) so nothing is written into the work tree and a
committed lock file with the real provider's hashes could never clash with the offline provider.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MODULE = INFRA / "modules" / "aigateway_aca"
ENVS = ("dev", "uat", "prod")
sys.path.insert(0, str(INFRA / "offline"))

from azurerm_offline import OfflineMirror, prepare_mirror  # noqa: E402

TERRAFORM = shutil.which("terraform") or "/usr/local/bin/terraform"


@dataclass(frozen=True)
class TfResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


TfRunner = Callable[..., TfResult]


@pytest.fixture(scope="session")
def offline_mirror() -> OfflineMirror:
    """Fetch/cache the cdktn wheel, rebuild the azurerm 5.10.0 schema once, lay out the mirror."""
    if not Path(TERRAFORM).exists():
        pytest.fail("terraform is not installed (expected on PATH or at /usr/local/bin/terraform)")
    return prepare_mirror()


@pytest.fixture(scope="session")
def tf(offline_mirror: OfflineMirror) -> TfRunner:
    env = offline_mirror.env()

    def run(*args: str, cwd: Path, timeout: float = 240) -> TfResult:
        proc = subprocess.run(
            [TERRAFORM, *args, "-no-color"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return TfResult(proc.returncode, proc.stdout, proc.stderr)

    return run


def copy_infra(dest: Path) -> Path:
    """infra/modules and infra/env copied to dest/infra without Terraform's working files.

    The environment roots' links into infra/env/shared stay links, so a change to a shared file in the
    copy reaches every root, as it does in the repository."""
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*", "*_override.tf")
    for part in ("modules", "env"):
        shutil.copytree(INFRA / part, dest / "infra" / part, ignore=ignore, symlinks=True)
    return dest / "infra"


@pytest.fixture
def infra_copy(tmp_path: Path) -> Path:
    return copy_infra(tmp_path)

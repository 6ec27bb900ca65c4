"""GitHub Actions: linters clean, actions pinned, least privilege, and the promotion rules of deploy.yml."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+")


def load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in the venv (python3 dev.py test installs it)")
    return str(path)


def deploy() -> dict[Any, Any]:
    return load(ROOT / ".github" / "workflows" / "deploy.yml")


def steps_text(job: dict[str, Any]) -> list[str]:
    return [str(step.get("run", "")) + str(step.get("uses", "")) for step in job["steps"]]


# ------------------------------------------------------------------------------------------------- linters


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml"}


def test_actionlint_reports_nothing() -> None:
    # shellcheck beside actionlint on PATH: actionlint also lints every run: script.
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_reports_nothing() -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--persona=auditor", "--no-progress", ".github"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_shellcheck_on_shell_scripts() -> None:
    scripts = [ROOT / ".ci" / "run", *ROOT.glob("scripts/**/*.sh"), *ROOT.glob(".github/**/*.sh")]
    scripts = [s for s in scripts if s.exists()]
    assert scripts, "expected at least .ci/run"
    result = subprocess.run(
        [tool("shellcheck"), *map(str, scripts)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------- hygiene


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_commit_sha_with_a_version_comment(path: Path) -> None:
    uses_lines = [line.strip() for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert uses_lines
    for line in uses_lines:
        ref = line.split("uses:", 1)[1].strip()
        assert SHA_PIN.fullmatch(ref), f"{path.name}: not pinned to a 40-hex SHA with '# vX.Y.Z': {ref}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_hygiene(path: Path) -> None:
    workflow = load(path)
    text = path.read_text()
    assert workflow["permissions"] == {}, "top-level permissions must be {}"
    for name, job in workflow["jobs"].items():
        assert "timeout-minutes" in job, f"{name}: no timeout-minutes"
        perms = job.get("permissions", {})
        uses_oidc = any("azure/login" in str(s.get("uses", "")) for s in job["steps"]) or "ARM_USE_OIDC" in str(
            job.get("env", {})
        ) + str(workflow.get("env", {}))
        if perms.get("id-token") == "write":
            assert uses_oidc, f"{name}: id-token: write without OIDC use"
        elif any("azure/login" in str(s.get("uses", "")) for s in job["steps"]):
            pytest.fail(f"{name}: azure/login without id-token: write")
        assert set(perms.values()) <= {"read", "write"}
        for step in job["steps"]:
            if "actions/checkout" in str(step.get("uses", "")):
                assert step.get("with", {}).get("persist-credentials") is False, f"{name}: persist-credentials"
            assert "${{" not in str(step.get("run", "")), f"{name}: expression inside run: {step.get('name')}"
    # every job-level grant carries a comment saying why
    for line in text.splitlines():
        if re.match(r"\s+(contents|id-token|pull-requests|packages|actions|checks): (read|write)\s*$", line):
            pytest.fail(f"{path.name}: permission without a comment: {line.strip()}")
    assert "secrets: inherit" not in text
    assert "toJson(secrets)" not in text


# ------------------------------------------------------------------------------------------------- promotion


def test_dev_deploys_on_push_to_main_and_builds_once() -> None:
    workflow = deploy()
    on = workflow[True] if True in workflow else workflow["on"]  # PyYAML reads `on:` as True
    assert on["push"]["branches"] == ["main"]
    dev = workflow["jobs"]["dev"]
    assert dev["environment"] == "dev"
    assert "needs" not in dev
    builds = [s for s in dev["steps"] if "docker/build-push-action" in str(s.get("uses", ""))]
    assert len(builds) == 1
    assert builds[0]["with"]["push"] is True
    assert "github.event_name == 'push'" in builds[0]["if"]
    all_builds = [
        s
        for j in workflow["jobs"].values()
        for s in j["steps"]
        if "build-push-action" in str(s.get("uses", "")) or "docker build" in str(s.get("run", ""))
    ]
    assert len(all_builds) == 1, "the image is built once, in the dev job"
    assert dev["outputs"]["digest"] == "${{ steps.digest.outputs.digest }}"


@pytest.mark.parametrize(("env", "previous"), [("uat", "dev"), ("prod", "uat")])
def test_uat_and_prod_promote_the_dev_digest_through_protected_environments(env: str, previous: str) -> None:
    workflow = deploy()
    job = workflow["jobs"][env]
    assert job["environment"] == env
    needs = job["needs"] if isinstance(job["needs"], list) else [job["needs"]]
    assert previous in needs
    assert "dev" in needs
    assert job["env"]["DIGEST"] == "${{ needs.dev.outputs.digest }}", "the digest comes from the dev job"
    texts = steps_text(job)
    assert not any("build-push-action" in t or "docker build" in t for t in texts), "no rebuild after dev"
    assert any("az acr import" in t and "${DIGEST}" in t for t in texts), "promotion imports the digest"
    assert any(re.search(r"\^sha256:\[0-9a-f\]\{64\}\$", t) for t in texts), "digest validated before use"
    if env == "prod":
        condition = job["if"]
        assert "needs.uat.result == 'success'" in condition
        assert "github.event_name == 'push'" in condition


def test_dispatch_inputs_go_through_env_and_are_validated_against_dev() -> None:
    workflow = deploy()
    on = workflow[True] if True in workflow else workflow["on"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"environment", "digest"}
    assert inputs["environment"]["options"] == ["dev", "uat", "prod"]
    dev = workflow["jobs"]["dev"]
    assert dev["env"]["INPUT_DIGEST"] == "${{ inputs.digest }}"
    texts = "\n".join(steps_text(dev))
    assert 'if ! [[ "${INPUT_DIGEST}" =~ ^sha256:[0-9a-f]{64}$ ]]' in texts
    assert "az acr repository show" in texts, "dispatch digest must exist in the dev registry"
    assert "az containerapp revision list --all" in texts, "dispatch digest must have run in dev"


@pytest.mark.parametrize("env", ["dev", "uat", "prod"])
def test_smoke_runs_after_every_apply_with_a_masked_key_vault_key(env: str) -> None:
    job = deploy()["jobs"][env]
    texts = steps_text(job)
    applies = [i for i, t in enumerate(texts) if "terraform apply" in t and "tfplan" in t]
    smokes = [i for i, t in enumerate(texts) if "aigateway smoke" in t]
    assert applies, f"{env}: no terraform apply of a saved plan"
    assert smokes, f"{env}: no smoke step"
    assert max(applies) < min(smokes), f"{env}: smoke must follow the apply"
    smoke = texts[smokes[-1]]
    assert "az keyvault secret show" in smoke
    assert "gateway-key-smoke" in smoke
    assert smoke.index("::add-mask::") < smoke.index("aigateway smoke")
    assert "image_digest=${DIGEST}" in "\n".join(texts)


@pytest.mark.parametrize("env", ["dev", "uat", "prod"])
def test_applies_on_one_environment_never_overlap(env: str) -> None:
    job = deploy()["jobs"][env]
    assert job["concurrency"]["group"] == f"deploy-{env}"
    assert job["concurrency"]["cancel-in-progress"] is False


def test_ci_runs_the_readme_test_command_plans_every_environment_and_smokes_the_image() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    on = ci[True] if True in ci else ci["on"]
    assert "pull_request" in on
    assert "push" in on
    jobs = ci["jobs"]
    assert any("python3 dev.py test" in t for t in steps_text(jobs["test"]))
    plan = jobs["terraform"]
    assert [m["env"] for m in plan["strategy"]["matrix"]["include"]] == ["dev", "uat", "prod"]
    assert "environment" not in plan, "plan jobs use the pull_request/main subject, not an environment"
    plan_text = "\n".join(steps_text(plan))
    assert "terraform validate" in plan_text
    assert "-lock=false" in plan_text
    assert "GITHUB_STEP_SUMMARY" in plan_text
    assert "<details>" in plan_text
    assert "openssl rand -hex" in plan_text
    image = "\n".join(steps_text(jobs["image"]))
    assert "docker run -d" in image
    assert "-p 4000:4000" in image
    assert "aigateway smoke --base-url http://127.0.0.1:4000 --key sk-local-dev" in image


def test_dependabot_covers_every_ecosystem_with_a_cooldown() -> None:
    config = load(ROOT / ".github" / "dependabot.yml")
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip", "docker", "terraform"}
    for update in ecosystems.values():
        assert update["cooldown"]["default-days"] >= 7

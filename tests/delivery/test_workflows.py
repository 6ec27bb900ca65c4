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
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml", "plan.yml", "drift.yml"}


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
        if ref.startswith("$/.github/workflows/"):
            continue  # a workflow of this repository, at the same commit
        assert SHA_PIN.fullmatch(ref), f"{path.name}: not pinned to a 40-hex SHA with '# vX.Y.Z': {ref}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_hygiene(path: Path) -> None:
    workflow = load(path)
    text = path.read_text()
    assert workflow["permissions"] == {}, "top-level permissions must be {}"
    for name, job in workflow["jobs"].items():
        if "uses" in job:  # a reusable workflow: its own jobs are checked in their file
            assert set(job.get("permissions", {}).values()) <= {"read", "write"}
            continue
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


def workflow_on(workflow: dict[Any, Any]) -> dict[str, Any]:
    on: dict[str, Any] = workflow[True] if True in workflow else workflow["on"]  # PyYAML reads `on:` as True
    return on


def runs(*names: str) -> list[str]:
    return [
        str(step["run"])
        for name in names
        for job in load(ROOT / ".github" / "workflows" / name)["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


@pytest.mark.parametrize("name", ["deploy.yml", "plan.yml", "drift.yml"])
def test_pipeline_workflows_only_call_the_scripts(name: str) -> None:
    # Every decision (which environments, which image, is it new, did it serve, roll back) is
    # scripts/deploy.py's; a run: line is one command, with no shell logic of its own.
    for text in runs(name):
        command = " ".join(text.split())
        assert command.startswith(("python3 scripts/deploy.py ", "az acr login ")), command
        for construct in ("if ", "[[", "[ ", "case ", "for ", "while ", "||", "&&", "grep", "$(", ";"):
            assert construct not in command, f"{name}: shell logic ({construct!r}) in: {command}"


def test_deploy_runs_only_after_ci_passed_on_main() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    job = ci["jobs"]["deploy"]
    assert job["uses"] == "$/.github/workflows/deploy.yml"
    assert set(job["needs"]) == {"test", "terraform", "image"}, "deploy waits for every CI job"
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert set(workflow_on(deploy())) == {"workflow_call", "workflow_dispatch"}, "no trigger that skips CI"


def test_the_image_is_built_once_in_dev_and_passed_on_by_reference() -> None:
    workflow = deploy()
    builds = [
        (name, s)
        for name, j in workflow["jobs"].items()
        for s in j.get("steps", [])
        if "build-push-action" in str(s.get("uses", "")) or "docker build" in str(s.get("run", ""))
    ]
    assert [name for name, _ in builds] == ["dev"], "the image is built once, in the dev job"
    assert builds[0][1]["with"]["push"] is True
    dev = workflow["jobs"]["dev"]
    assert dev["environment"] == "dev"
    assert dev["needs"] == "route"
    assert dev["outputs"]["image"] == "${{ steps.deploy.outputs.image }}"
    assert "--built-digest" in "\n".join(runs("deploy.yml"))


@pytest.mark.parametrize(("env", "previous"), [("uat", "dev"), ("prod", "uat")])
def test_uat_and_prod_show_a_plan_before_the_approval_and_apply_only_that_plan(env: str, previous: str) -> None:
    jobs = deploy()["jobs"]
    plan, apply = jobs[f"{env}-plan"], jobs[env]
    assert plan["uses"] == "$/.github/workflows/plan.yml"
    assert plan["with"]["environment"] == f"{env}-plan", "plans run in the main-only <env>-plan environment"
    assert plan["with"]["image"] == f"${{{{ needs.{previous}.outputs.image }}}}", "the digest of the stage before"
    assert previous in plan["needs"]
    assert apply["environment"] == env, "the approval gate is the environment's required reviewers"
    assert apply["needs"] == f"{env}-plan"
    assert apply["env"]["APPROVED_PLAN"] == f"${{{{ needs.{env}-plan.outputs.fingerprint }}}}"
    assert apply["env"]["IMAGE"] == f"${{{{ needs.{env}-plan.outputs.image }}}}"
    (command,) = [s["run"] for s in apply["steps"] if "run" in s]
    assert (
        command
        == f'python3 scripts/deploy.py deploy --env {env} --image "${{IMAGE}}" --approved-plan "${{APPROVED_PLAN}}"'
    )
    assert apply["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
    reusable = load(ROOT / ".github" / "workflows" / "plan.yml")["jobs"]["plan"]
    assert reusable["environment"] == "${{ inputs.environment }}"
    assert reusable["outputs"]["fingerprint"] == "${{ steps.plan.outputs.fingerprint }}"


def test_dispatch_inputs_reach_the_scripts_through_env_only() -> None:
    workflow = deploy()
    inputs = workflow_on(workflow)["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"environment", "digest"}
    assert inputs["environment"]["options"] == ["dev", "uat", "prod"]
    route = workflow["jobs"]["route"]
    assert route["env"]["INPUT_ENVIRONMENT"] == "${{ inputs.environment }}"
    assert any("deploy.py targets" in t for t in steps_text(route))
    for name in ("dev", "uat-plan", "prod-plan"):
        assert f"needs.route.outputs.{name.split('-')[0]} == 'true'" in workflow["jobs"][name]["if"]


def test_ci_plans_dev_and_uat_for_pull_requests_never_prod() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    assert "pull_request" in workflow_on(ci)
    jobs = ci["jobs"]
    assert any("python3 dev.py test" in t for t in steps_text(jobs["test"]))
    plan = jobs["terraform"]
    matrix = {m["env"]: m for m in plan["strategy"]["matrix"]["include"]}
    assert list(matrix) == ["dev", "uat", "prod"]
    assert matrix["prod"]["client_id"] == "", "no identity can plan prod from a pull request"
    assert "environment" not in plan, "pull request plans use the pull_request subject, not an environment"
    text = "\n".join(steps_text(plan))
    assert "terraform" in text and "validate" in text
    assert 'python3 scripts/deploy.py plan --env "${TARGET_ENV}" --keep-image' in text
    image = "\n".join(steps_text(jobs["image"]))
    # The image listens on 0.0.0.0, where a missing endpoint stops the gateway unless the emulator is asked for.
    assert "docker run -d --name gateway -p 4000:4000 -e GATEWAY_EMULATOR=true aigateway:ci" in image
    assert "aigateway smoke --base-url http://127.0.0.1:4000 --key sk-local-dev" in image


def test_drift_is_checked_nightly_in_every_environment_without_applying() -> None:
    drift = load(ROOT / ".github" / "workflows" / "drift.yml")
    assert "schedule" in workflow_on(drift)
    job = drift["jobs"]["drift"]
    assert job["strategy"]["matrix"]["env"] == ["dev", "uat", "prod"]
    assert job["environment"] == "${{ matrix.env }}-plan", "the read-only plan identity, never the deploy one"
    assert runs("drift.yml") == ['python3 scripts/deploy.py drift --env "${TARGET_ENV}"']


def test_dependabot_covers_every_ecosystem_with_a_cooldown() -> None:
    config = load(ROOT / ".github" / "dependabot.yml")
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip", "docker", "terraform"}
    for update in ecosystems.values():
        assert update["cooldown"]["default-days"] >= 7

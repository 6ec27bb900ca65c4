"""The first deploy on an empty subscription, rehearsed offline, end to end.

The real scripts (bootstrap_shared, bootstrap_env, gateway_secrets, deploy) run against the fake `az`, and
real Terraform 1.11 applies every root on local state through the offline provider's fake-Azure mode. Both
share one JSON "subscription" (infra/offline/azurerm_offline/fake_azure.py), so Terraform's data sources find
what the bootstrap made and `az containerapp revision list` shows what Terraform applied. The sequence is the
one docs/deploy.md gives a newcomer:

    bootstrap -> first deploy of dev on empty state -> a new digest -> an infrastructure-only deploy
    -> a digest whose revision never becomes healthy (rolled back) -> the same digest to uat and prod,
       each through a read-only plan and the fingerprint a reviewer approved

Mutations of scripts/deploy.py (an inverted first-deploy check, a plan without the image) must break it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azurerm_offline import OfflineMirror

from tests.delivery import fake_az
from tests.infra.conftest import REPO, TERRAFORM, copy_infra

pytestmark = [pytest.mark.infra, pytest.mark.slow]

OPERATORS = "0c0c0c0c-1111-2222-3333-444444444444"
OPENAI = (
    f"/subscriptions/{fake_az.SUB}/resourceGroups/pvc-openai-rg"
    "/providers/Microsoft.CognitiveServices/accounts/pvc-openai"
)
DIGESTS = {n: "sha256:" + str(n) * 64 for n in range(1, 4)}
APP = "module.aigateway.azurerm_container_app.this"
PROTECTED = ("azurerm_container_app", "azurerm_container_app_environment", "azurerm_log_analytics_workspace")


@dataclass
class Stage:
    """One subscription, one copy of infra/ and scripts/, and the environment every command runs in."""

    tmp: Path
    infra: Path
    scripts: Path
    env: dict[str, str]
    state_path: Path
    outputs: Path
    log: list[str] = field(default_factory=list)

    def fake(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_path.read_text())
        return state

    def edit(self, change: Any) -> None:
        state = self.fake()
        change(state)
        self.state_path.write_text(json.dumps(state))

    def script(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        self.outputs.write_text("")
        proc = subprocess.run(
            [sys.executable, str(self.scripts / name), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        self.log.append(f"$ {name} {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-3000:]}")
        return proc

    def github_outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.outputs.read_text().splitlines() if "=" in line)

    @property
    def registry(self) -> str:
        (registry,) = [r for group in self.fake()["registries"].values() for r in group]
        return str(registry["loginServer"])

    def image(self, n: int) -> str:
        return f"{self.registry}/aigateway@{DIGESTS[n]}"

    def push(self, n: int, *, broken: bool = False) -> None:
        """What the dev job's build step does: the image lands in the shared registry."""
        name = self.registry.split(".")[0]

        def change(state: dict[str, Any]) -> None:
            fake_az.add_image(state, name, f"aigateway@{DIGESTS[n]}")
            if broken:
                state["failing_images"].append(self.image(n))

        self.edit(change)

    def deploy(self, env: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.script(
            "deploy.py",
            "deploy",
            "--env",
            env,
            *self.where(env),
            "--no-smoke",
            "--wait-seconds",
            "5",
            "--poll-seconds",
            "0.05",
            *args,
        )

    def plan(self, env: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.script("deploy.py", "plan", "--env", env, *self.where(env), *args)

    def where(self, env: str) -> list[str]:
        return [
            "--root",
            str(self.infra / "env" / env),
            "--local-state",
            str(self.tmp / "state"),
            "--registry",
            self.registry,
        ]

    def tf_state(self, env: str) -> dict[str, Any]:
        path = self.tmp / "state" / f"{env}.tfstate"
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded

    def state_image(self, env: str) -> str:
        for resource in self.tf_state(env)["resources"]:
            if resource.get("module") == "module.aigateway" and resource["type"] == "azurerm_container_app":
                return str(resource["instances"][0]["attributes"]["template"][0]["container"][0]["image"])
        raise AssertionError(f"no Container App in {env}'s state")

    def app(self, env: str) -> dict[str, Any]:
        app: dict[str, Any] = self.fake()["containerapps"][f"pvc-{env}-aigateway-ca-san"]
        return app

    def serving(self, env: str) -> list[str]:
        return [r["image"] for r in self.app(env)["revisions"] if r["active"]]

    def protected_ids(self) -> dict[str, str]:
        return {rid: r["type"] for rid, r in self.fake()["resources"].items() if r["type"] in PROTECTED}

    def explain(self) -> str:
        return "\n".join(self.log[-4:])


def make_stage(tmp: Path, mirror: OfflineMirror, scripts: Path | None = None) -> Stage:
    infra = copy_infra(tmp)
    scripts_copy = tmp / "scripts"
    shutil.copytree(scripts or REPO / "scripts", scripts_copy, ignore=shutil.ignore_patterns("__pycache__"))
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    fake_az.install(bin_dir)
    state_path = tmp / "azure.json"
    state_path.write_text(json.dumps(fake_az.empty_state()))
    outputs = tmp / "github_output"
    env = mirror.env(
        {
            "PATH": f"{bin_dir}:{Path(TERRAFORM).parent}:/usr/bin:/bin",
            "HOME": str(tmp),
            fake_az.ENV_VAR: str(state_path),
            fake_az.LOG_VAR: str(tmp / "az-calls.jsonl"),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        }
    )
    stage = Stage(tmp, infra, scripts_copy, env, state_path, outputs)

    def prepare(state: dict[str, Any]) -> None:
        fake_az.add_ad_group(state, OPERATORS, "aigateway-operators")
        fake_az.add_resource(state, OPENAI, "Microsoft.CognitiveServices/accounts")

    stage.edit(prepare)
    return stage


def bootstrap(stage: Stage, *envs: str) -> None:
    """docs/deploy.md steps 1-3: the shared layer, each environment's foundation, its secrets."""
    assert stage.script("bootstrap_shared.py", "--no-gh").returncode == 0, stage.explain()
    for env in envs:
        result = stage.script(
            "bootstrap_env.py",
            "--org",
            "contoso",
            "--repo",
            "ai-gateway",
            "--env",
            env,
            "--operators-group",
            OPERATORS,
            "--openai-resource-id",
            OPENAI,
            "--no-gh",
        )
        assert result.returncode == 0, stage.explain()
        assert stage.script("gateway_secrets.py", "init", "--env", env, "--project", "roo-team").returncode == 0, (
            stage.explain()
        )


@pytest.fixture(scope="module")
def rehearsed(offline_mirror: OfflineMirror, tmp_path_factory: pytest.TempPathFactory) -> Stage:
    stage = make_stage(tmp_path_factory.mktemp("rehearsal"), offline_mirror)
    bootstrap(stage, "dev", "uat", "prod")
    return stage


# ------------------------------------------------------------------------------------------------ dev


def test_1_first_deploy_of_dev_on_empty_state_creates_everything_and_a_serving_app(rehearsed: Stage) -> None:
    stage = rehearsed
    assert stage.fake()["containerapps"] == {}
    stage.push(1)
    result = stage.deploy("dev", "--built-digest", DIGESTS[1])
    assert result.returncode == 0, stage.explain()
    assert "first deploy" in result.stderr
    assert stage.serving("dev") == [stage.image(1)]
    types = {r["type"] for r in stage.fake()["resources"].values() if r["resourceGroup"] == "pvc-dev-aigateway-rg-san"}
    assert {
        "azurerm_log_analytics_workspace",
        "azurerm_container_app_environment",
        "azurerm_container_app",
        "azurerm_monitor_scheduled_query_rules_alert_v2",
        "azurerm_monitor_action_group",
        "azurerm_application_insights_workbook",
        "azurerm_application_insights_standard_web_test",
        "azurerm_monitor_metric_alert",
        "azurerm_monitor_diagnostic_setting",
    } <= types
    assert "dev: dashboard https://portal.azure.com/#resource/subscriptions/" in result.stderr
    assert stage.state_image("dev") == stage.image(1)
    assert stage.github_outputs()["image"] == stage.image(1)


def test_2_a_new_digest_rolls_the_same_app_forward(rehearsed: Stage) -> None:
    stage = rehearsed
    before = stage.protected_ids()
    stage.push(2)
    result = stage.deploy("dev", "--built-digest", DIGESTS[2])
    assert result.returncode == 0, stage.explain()
    assert f"serving now: {stage.image(1)}" in result.stderr
    assert stage.serving("dev") == [stage.image(2)]
    assert [r["image"] for r in stage.app("dev")["revisions"]] == [stage.image(1), stage.image(2)], (
        "same app, no replace"
    )
    assert stage.protected_ids() == before, "no protected resource was deleted or replaced"


def test_3_an_infrastructure_only_deploy_keeps_the_image_and_the_app(rehearsed: Stage) -> None:
    stage = rehearsed
    before = stage.protected_ids()
    tfvars = stage.infra / "env" / "dev" / "terraform.tfvars"
    tfvars.write_text(
        tfvars.read_text().replace("max_replicas                 = 2", "max_replicas                 = 3")
    )
    plan = stage.plan("dev", "--keep-image")
    assert plan.returncode == 0, stage.explain()
    assert stage.github_outputs()["image"] == stage.image(2), "an infrastructure-only plan keeps the image that runs"
    result = stage.deploy("dev", "--image", stage.image(2))
    assert result.returncode == 0, stage.explain()
    assert stage.serving("dev") == [stage.image(2)]
    assert stage.protected_ids() == before
    assert len(stage.app("dev")["revisions"]) == 3, "the scale change made a revision of the same app"


def test_4_a_revision_that_never_serves_is_rolled_back_and_the_old_one_keeps_serving(rehearsed: Stage) -> None:
    stage = rehearsed
    stage.push(3, broken=True)
    result = stage.deploy("dev", "--built-digest", DIGESTS[3])
    assert result.returncode == 1, stage.explain()
    assert "did not become healthy" in result.stderr
    assert f"rolled back to {stage.image(2)}, which serves" in result.stderr
    assert stage.serving("dev") == [stage.image(2)]
    assert stage.state_image("dev") == stage.image(2), "state records what serves again"
    assert "image" not in stage.github_outputs(), "a failed deploy hands no image to uat"


# ------------------------------------------------------------------------------------------------ promotion


@pytest.mark.parametrize("env", ["uat", "prod"])
def test_5_the_digest_built_is_promoted_through_a_read_only_plan_and_the_approved_fingerprint(
    rehearsed: Stage, env: str
) -> None:
    stage = rehearsed
    promoted = stage.image(2)
    plan = stage.plan(env, "--image", promoted)
    assert plan.returncode == 0, stage.explain()
    assert "no Terraform state yet" in plan.stderr, "a new environment is planned from empty state, read-only"
    assert not (stage.tmp / "state" / f"{env}.tfstate").exists(), "the plan wrote no state"
    approved = stage.github_outputs()
    assert approved["image"] == promoted
    summary = (stage.tmp / "summary.md").read_text()
    assert f"terraform plan: {env}" in summary and approved["fingerprint"][:16] in summary

    result = stage.deploy(env, "--image", approved["image"], "--approved-plan", approved["fingerprint"])
    assert result.returncode == 0, stage.explain()
    assert stage.serving(env) == [promoted], "the digest promoted is the digest built"
    assert stage.state_image(env) == promoted


def test_6_prod_shares_its_limits_through_redis_signed_in_with_the_identity(rehearsed: Stage) -> None:
    stage = rehearsed
    resources = {
        r["type"] for r in stage.fake()["resources"].values() if r["resourceGroup"] == "pvc-prod-aigateway-rg-san"
    }
    assert "azurerm_managed_redis" in resources
    app = next(r for r in stage.tf_state("prod")["resources"] if r["type"] == "azurerm_container_app")
    env = {e["name"]: e["value"] for e in app["instances"][0]["attributes"]["template"][0]["container"][0]["env"]}
    assert env["GATEWAY_REDIS_URL"] == "rediss://pvc-prod-aigateway-redis-san.southafricanorth.redis.azure.net:10000"
    assert env["GATEWAY_REDIS_AUTH"] == "entra"
    assert not any("password" in (v or "").lower() or "key=" in (v or "").lower() for v in env.values())
    (redis,) = [r for r in stage.tf_state("prod")["resources"] if r["type"] == "azurerm_managed_redis"]
    database = redis["instances"][0]["attributes"]["default_database"][0]
    assert database["access_keys_authentication_enabled"] is False
    assert database["primary_access_key"] == database["secondary_access_key"] == "", "no Redis key in state"


def test_7_a_plan_that_changed_after_the_approval_is_refused(rehearsed: Stage) -> None:
    stage = rehearsed
    plan = stage.plan("uat", "--keep-image")
    assert plan.returncode == 0, stage.explain()
    approved = stage.github_outputs()
    tfvars = stage.infra / "env" / "uat" / "terraform.tfvars"
    tfvars.write_text(
        tfvars.read_text().replace("max_replicas                 = 3", "max_replicas                 = 4")
    )
    revisions = len(stage.app("uat")["revisions"])
    result = stage.deploy("uat", "--image", approved["image"], "--approved-plan", approved["fingerprint"])
    assert result.returncode == 1
    assert "differs from the approved one" in result.stderr
    assert len(stage.app("uat")["revisions"]) == revisions, "nothing was applied"


def test_8_no_step_ever_deleted_a_protected_resource(rehearsed: Stage) -> None:
    calls = [json.loads(line) for line in (rehearsed.tmp / "az-calls.jsonl").read_text().splitlines()]
    assert not any(c["argv"][:2] == ["keyvault", "delete"] for c in calls)
    assert not any(c["argv"][:2] == ["containerapp", "delete"] for c in calls)
    assert len(rehearsed.protected_ids()) == 9, "app, environment and workspace in each of the three environments"


# ------------------------------------------------------------------------------------------------ mutations


MUTATIONS = {
    # (text in scripts/deploy.py, its mutation, what the failed first deploy must say)
    "inverted_first_deploy_check": ("first_deploy = app is None", "first_deploy = app is not None", "AssertionError"),
    "plan_without_the_image": (', "-var", f"image={image}"]', "]", "No value for required variable"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_the_rehearsal_fails_when_the_script_is_broken(
    offline_mirror: OfflineMirror, tmp_path: Path, name: str
) -> None:
    old, new, symptom = MUTATIONS[name]
    scripts = tmp_path / "mutated"
    shutil.copytree(REPO / "scripts", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    source = scripts / "deploy.py"
    assert old in source.read_text(), f"mutation {name} no longer applies: update it"
    source.write_text(source.read_text().replace(old, new, 1))
    stage = make_stage(tmp_path / "stage", offline_mirror, scripts)
    bootstrap(stage, "dev")
    stage.push(1)
    result = stage.deploy("dev", "--built-digest", DIGESTS[1])
    assert result.returncode != 0, f"{name}: the first deploy still passed:\n{stage.explain()}"
    assert symptom in result.stderr, stage.explain()
    assert stage.fake()["containerapps"] == {}, f"{name}: an app was created anyway"

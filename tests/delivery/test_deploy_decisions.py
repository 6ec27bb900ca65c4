"""The decisions of scripts/deploy.py, one function at a time (the whole sequence: tests/infra/test_rehearsal.py)."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.conftest import SCRIPTS

sys.path.insert(0, str(SCRIPTS))
import _az
import deploy

REGISTRY = "pvcsharedaigatewaycrsanabc123.azurecr.io"
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
IMAGE1 = f"{REGISTRY}/aigateway@{D1}"
IMAGE2 = f"{REGISTRY}/aigateway@{D2}"


def revision(name: str, image: str, **props: Any) -> dict[str, Any]:
    base = {
        "active": True,
        "trafficWeight": 100,
        "healthState": "Healthy",
        "provisioningState": "Provisioned",
        "runningState": "Running",
        "template": {"containers": [{"image": image}]},
    }
    return {"name": name, "properties": {**base, **props}}


def retired(name: str, image: str) -> dict[str, Any]:
    return revision(name, image, active=False, trafficWeight=0, runningState="Stopped")


# --------------------------------------------------------------------------------------------- routing


def test_a_push_deploys_every_environment_and_a_dispatch_only_the_one_it_names() -> None:
    assert deploy.targets("push", "") == {"dev": True, "uat": True, "prod": True}
    assert deploy.targets("workflow_dispatch", "uat") == {"dev": False, "uat": True, "prod": False}
    with pytest.raises(deploy.DeployError, match="must name one of"):
        deploy.targets("workflow_dispatch", "")
    with pytest.raises(deploy.DeployError, match="not on 'pull_request'"):
        deploy.targets("pull_request", "")


def test_exactly_one_image_source_and_only_digests() -> None:
    assert deploy.resolve_image(REGISTRY, built=D1) == IMAGE1
    assert deploy.resolve_image(REGISTRY, requested=D2) == IMAGE2
    assert deploy.resolve_image("", image=IMAGE1) == IMAGE1
    for kwargs in ({}, {"built": D1, "requested": D2}, {"image": IMAGE1, "requested": D1}):
        with pytest.raises(deploy.DeployError, match="exactly one"):
            deploy.resolve_image(REGISTRY, **kwargs)
    with pytest.raises(deploy.DeployError, match="64 lower-case hex"):
        deploy.resolve_image(REGISTRY, requested="sha256:ABC")
    with pytest.raises(deploy.DeployError, match=r"<registry>/<repository>@sha256"):
        deploy.resolve_image("", image=f"{REGISTRY}/aigateway:latest")
    with pytest.raises(deploy.DeployError, match="REGISTRY_LOGIN_SERVER"):
        deploy.resolve_image("", built=D1)


# --------------------------------------------------------------------------------------------- plans


def change(address: str, rtype: str, *actions: str, after: Any = None) -> dict[str, Any]:
    return {
        "address": address,
        "type": rtype,
        "mode": "managed",
        "change": {"actions": list(actions), "before": None, "after": after, "after_unknown": {}},
    }


APP = "module.aigateway.azurerm_container_app.this"


@pytest.mark.parametrize(
    ("actions", "unsafe"),
    [
        (("update",), False),
        (("create",), False),
        (("no-op",), False),
        (("delete",), True),
        (("delete", "create"), True),
        (("create", "delete"), True),
    ],
)
def test_a_plan_that_deletes_or_replaces_the_app_is_refused(actions: tuple[str, ...], unsafe: bool) -> None:
    plan = {"resource_changes": [change(APP, "azurerm_container_app", *actions)]}
    found = deploy.unsafe_changes(deploy.plan_changes(plan))
    assert bool(found) is unsafe
    if unsafe:
        assert APP in found[0]


def test_removing_an_alert_is_allowed_but_not_the_environment_or_workspace() -> None:
    plan = {
        "resource_changes": [
            change(
                'module.aigateway.azurerm_monitor_scheduled_query_rules_alert_v2.this["x"]',
                "azurerm_monitor_scheduled_query_rules_alert_v2",
                "delete",
            ),
            change(
                "module.aigateway.azurerm_container_app_environment.this",
                "azurerm_container_app_environment",
                "delete",
                "create",
            ),
            change(
                "module.aigateway.azurerm_log_analytics_workspace.this", "azurerm_log_analytics_workspace", "delete"
            ),
        ]
    }
    found = deploy.unsafe_changes(deploy.plan_changes(plan))
    assert [f.split(" ")[0] for f in found] == [
        "module.aigateway.azurerm_container_app_environment.this",
        "module.aigateway.azurerm_log_analytics_workspace.this",
    ]


def test_the_fingerprint_changes_with_any_change_and_with_the_provider_lock() -> None:
    plan = {"resource_changes": [change(APP, "azurerm_container_app", "update", after={"image": IMAGE1})]}
    same = {"resource_changes": [change(APP, "azurerm_container_app", "update", after={"image": IMAGE1})]}
    other = {"resource_changes": [change(APP, "azurerm_container_app", "update", after={"image": IMAGE2})]}
    base = deploy.plan_fingerprint(plan, "lock-a")
    assert base == deploy.plan_fingerprint(same, "lock-a")
    assert base != deploy.plan_fingerprint(other, "lock-a")
    assert base != deploy.plan_fingerprint(plan, "lock-b")


def test_the_secrets_the_app_references_come_from_the_plan() -> None:
    secrets = [
        {"name": n, "key_vault_secret_id": f"https://pvc-dev-aigw-kv-1a2b.vault.azure.net/secrets/{n}"}
        for n in ("gateway-key-smoke", "gateway-key-roo-team")
    ]
    plan = {"resource_changes": [change(APP, "azurerm_container_app", "create", after={"secret": secrets})]}
    assert deploy.referenced_secrets(plan) == ("pvc-dev-aigw-kv-1a2b", {"gateway-key-smoke", "gateway-key-roo-team"})
    assert deploy.referenced_secrets({"resource_changes": []}) == (None, set())


def test_the_app_in_state_and_its_image() -> None:
    app = {"name": "pvc-dev-aigateway-ca-san", "template": [{"container": [{"image": IMAGE1}]}]}
    state = {
        "values": {
            "root_module": {
                "child_modules": [
                    {
                        "resources": [
                            {"address": "module.aigateway.azurerm_container_app_environment.this", "values": {}},
                            {"address": APP, "values": app},
                        ]
                    }
                ]
            }
        }
    }
    assert deploy.state_container_app(state) == app
    assert deploy.app_image(app) == IMAGE1
    assert deploy.state_container_app({}) is None, "an empty state (terraform show -json of nothing) has no app"


# --------------------------------------------------------------------------------------------- rollout


def test_serving_is_the_active_healthy_revision_not_the_latest_template() -> None:
    revisions = [
        revision("a", IMAGE1),
        revision("b", IMAGE2, active=False, trafficWeight=0, healthState="Unhealthy", provisioningState="Failed"),
    ]
    serving = deploy.serving_revision(revisions)
    assert serving is not None and serving["name"] == "a"
    assert deploy.serving_revision([retired("a", IMAGE1)]) is None


@pytest.mark.parametrize(
    ("revisions", "status"),
    [
        ([retired("a", IMAGE1), revision("b", IMAGE2)], "ready"),
        ([revision("a", IMAGE1)], "pending"),  # the new revision is not there yet
        (
            [
                revision("a", IMAGE1),
                revision(
                    "b", IMAGE2, active=False, trafficWeight=0, provisioningState="Provisioning", healthState="None"
                ),
            ],
            "pending",
        ),
        (
            [revision("a", IMAGE1), revision("b", IMAGE2, active=False, trafficWeight=0, provisioningState="Failed")],
            "failed",
        ),
        (
            [revision("a", IMAGE1), revision("b", IMAGE2, active=False, trafficWeight=0, healthState="Unhealthy")],
            "failed",
        ),
        ([revision("a", IMAGE1), revision("b", IMAGE2, runningState="Degraded")], "failed"),
    ],
    ids=["serving", "not-created", "provisioning", "failed-provisioning", "unhealthy", "degraded"],
)
def test_rollout_status_reads_the_revisions(revisions: list[dict[str, Any]], status: str) -> None:
    assert deploy.rollout_status(revisions, IMAGE2) == status


def test_smoke_needs_a_runner_inside_the_allowlist() -> None:
    assert deploy.smoke_allowed([], runner_inside_allowlist=False)
    assert not deploy.smoke_allowed(["203.0.113.0/24"], runner_inside_allowlist=False)
    assert deploy.smoke_allowed(["203.0.113.0/24"], runner_inside_allowlist=True)


def test_the_smoke_key_never_reaches_argv() -> None:
    cmd = deploy.smoke_command(IMAGE1, "https://gw.example")
    assert cmd[:5] == ["docker", "run", "--rm", "--env", "GATEWAY_SMOKE_KEY"], "passed by name from the environment"
    assert cmd[5] == IMAGE1 and cmd[-2:] == ["--base-url", "https://gw.example"]
    assert not any(part.startswith("GATEWAY_SMOKE_KEY=") for part in cmd)


def test_plan_summary_cannot_be_closed_by_the_plan_text() -> None:
    text = deploy.plan_summary(
        "uat", [deploy.Change(APP, "azurerm_container_app", ("update",))], "f" * 64, "line\n~~~~~~\n<details>injected"
    )
    fence_lines = [line for line in text.splitlines() if line == "~~~~~~"]
    assert len(fence_lines) == 2, "the plan's own fence line is indented, only ours open and close"
    assert "0 to create, 1 to update, 0 to replace, 0 to delete" in text


def test_the_probe_runs_from_the_deployed_image_and_its_key_never_reaches_argv() -> None:
    cmd = deploy.probe_command(IMAGE1, "https://gw.example")
    assert cmd[:5] == ["docker", "run", "--rm", "--env", "GATEWAY_SMOKE_KEY"], "passed by name from the environment"
    assert cmd[5] == IMAGE1 and cmd[6:8] == ["aigateway", "probe"]
    assert cmd[-2:] == ["--base-url", "https://gw.example"]
    assert not any("=" in part for part in cmd), "no VAR=value, no --key"


@pytest.mark.parametrize("closer", ["~~~~~~", "~~~~~~~~", "   ~~~~~~", "~~~~~~  "])
def test_nothing_in_the_probe_matrix_closes_its_fence(closer: str) -> None:
    matrix = f"case  result\ncodex  FAIL\n{closer}\n# injected heading\n<details>"
    text = deploy.probe_summary("dev", matrix, passed=False)
    lines = text.splitlines()
    opened = lines.index(deploy.FENCE)
    closed = len(lines) - 1 - lines[::-1].index(deploy.FENCE)
    inside = lines[opened + 1 : closed]
    assert "# injected heading" in inside and "<details>" in inside, "the matrix stays inside the fence"
    assert not any(line.strip().startswith("~~~~~~") and len(line) - len(line.lstrip()) < 4 for line in inside)
    assert "a client's request failed" in text and text.startswith("### Client probe: dev")


def test_a_passing_probe_says_so() -> None:
    text = deploy.probe_summary("prod", "7 passed, 0 failed\n", passed=True)
    assert "every client's request passed" in text and "7 passed, 0 failed\n~~~~~~" in text


# --------------------------------------------------------------------------------------------- probe step

PROBE_KEY = "sk-smoke-probe-canary-42"
FAKE_DOCKER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "key_in_env": os.environ.get("GATEWAY_SMOKE_KEY")}) + "\\n")
print("case   result\\ncodex  " + os.environ["FAKE_PROBE_RESULT"] + "\\n~~~~~~\\n1 case")
sys.exit(0 if os.environ["FAKE_PROBE_RESULT"] == "PASS" else 1)
"""


class KeyVault(_az.Az):
    """`az` as the probe step uses it: only the smoke key's read."""

    def read(self, args: Sequence[str], *, missing_ok: bool = False) -> Any:
        assert list(args[:3]) == ["keyvault", "secret", "show"] and deploy.SMOKE_SECRET in args
        return PROBE_KEY


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker.log"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    return tmp_path


def probe_env() -> Any:
    return deploy.Environment("dev", Path("."), KeyVault(dry_run=False), "", None, dry_run=False)


OUTPUTS = {"gateway_url": "https://gw.example", "key_vault_name": "pvc-dev-kv", "ingress_allowed_ip_ranges": []}


@pytest.mark.parametrize("result", ["PASS", "FAIL"])
def test_the_probe_step_passes_the_key_by_environment_and_summarises_the_matrix(
    fake_docker: Path, monkeypatch: pytest.MonkeyPatch, result: str
) -> None:
    monkeypatch.setenv("FAKE_PROBE_RESULT", result)
    failure = deploy.probe(probe_env(), IMAGE1, OUTPUTS, runner_inside_allowlist=False)
    assert (failure is None) is (result == "PASS")
    if failure is not None:
        assert "client probe failed (exit 1)" in failure
    [call] = [json.loads(line) for line in (fake_docker / "docker.log").read_text().splitlines()]
    assert call["key_in_env"] == PROBE_KEY and PROBE_KEY not in " ".join(call["argv"])
    assert call["argv"][-3:] == ["probe", "--base-url", "https://gw.example"]
    summary = (fake_docker / "summary.md").read_text()
    assert f"codex  {result}" in summary and "\n    ~~~~~~\n" in summary, "the matrix, fenced, its fence line indented"
    assert PROBE_KEY not in summary


def test_the_probe_is_skipped_loudly_behind_an_allowlist(fake_docker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PROBE_RESULT", "FAIL")
    outputs = {**OUTPUTS, "ingress_allowed_ip_ranges": ["203.0.113.0/24"]}
    assert deploy.probe(probe_env(), IMAGE1, outputs, runner_inside_allowlist=False) is None
    assert not (fake_docker / "docker.log").exists()
    assert "probe skipped" in (fake_docker / "summary.md").read_text()


def test_a_failing_probe_fails_the_deploy_without_rolling_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the probe finds is how Azure treats a client's body: the previous image would meet it too."""
    applied: list[str] = []
    outputs = {**OUTPUTS, "container_app_name": "app", "resource_group_name": "rg"}
    app = {"name": "app", "resource_group_name": "rg"}

    def apply_image(env: Any, image: str, **_: Any) -> dict[str, Any]:
        applied.append(image)
        return outputs

    monkeypatch.setattr(deploy, "check_image_exists", lambda az, image: None)
    monkeypatch.setattr(deploy.Environment, "init", lambda self, read_only: None)
    monkeypatch.setattr(deploy.Environment, "state", lambda self: {})
    monkeypatch.setattr(deploy, "state_container_app", lambda state: app)
    monkeypatch.setattr(deploy.Environment, "revisions", lambda self, a, g: [revision("a", IMAGE1)])
    monkeypatch.setattr(deploy, "apply_image", apply_image)
    monkeypatch.setattr(deploy, "wait_for_rollout", lambda *a: "ready")
    monkeypatch.setattr(deploy, "smoke", lambda *a, **k: None)
    monkeypatch.setattr(deploy, "probe", lambda *a, **k: "client probe failed (exit 1)")
    args = argparse.Namespace(
        approved_plan=None,
        wait_seconds=1,
        poll_seconds=1,
        no_smoke=False,
        no_probe=False,
        runner_inside_allowlist=True,
    )
    with pytest.raises(deploy.DeployError, match=r"client probe failed.*not rolled back"):
        deploy.deploy(probe_env(), IMAGE2, args)
    assert applied == [IMAGE2], "the new image stays: no second apply of the previous one"

    monkeypatch.setattr(deploy, "probe", lambda *a, **k: pytest.fail("--no-probe runs no probe"))
    assert deploy.deploy(probe_env(), IMAGE2, argparse.Namespace(**{**vars(args), "no_probe": True})) == 0

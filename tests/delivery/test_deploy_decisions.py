"""The decisions of scripts/deploy.py, one function at a time (the whole sequence: tests/infra/test_rehearsal.py)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.delivery.conftest import SCRIPTS

sys.path.insert(0, str(SCRIPTS))
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

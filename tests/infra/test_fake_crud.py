"""Fake-Azure mode of the offline provider (azurerm_offline.fake_crud): real terraform against a JSON subscription.

Each test lays out a throw-away root in tmp_path, seeds a fake subscription with what the bootstrap makes
(a resource group, ...) and runs real ``terraform init / plan -out / apply tfplan / show -json / output``
with ``FAKE_AZURE_STATE`` set, so the provider plans, applies and reads instead of refusing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azurerm_offline import OfflineMirror, fake_azure
from azurerm_offline.fake_crud import (
    Block,
    FakeAzureServicer,
    block_from_pb,
    conform_block,
    inventory,
    is_unknown,
    parse_arm_id,
    requires_replace,
    unknown_computed,
)
from azurerm_offline.provider import OFFLINE_ERROR, SchemaOnlyServicer, make_servicer

from tests.infra.conftest import TERRAFORM, TfResult

pytestmark = pytest.mark.infra

SUB = fake_azure.SUBSCRIPTION
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-test"

HEADER = """
terraform {
  required_providers {
    azurerm = { source = "hashicorp/azurerm", version = "5.10.0" }
  }
}

provider "azurerm" {
  features {}
}
"""

STACK = (
    HEADER
    + """
variable "image" {
  type    = string
  default = "acr.example/gateway@sha256:aaaa"
}

variable "app_name" {
  type    = string
  default = "ca-test"
}

variable "with_app" {
  type    = bool
  default = true
}

data "azurerm_resource_group" "rg" {
  name = "rg-test"
}

resource "azurerm_log_analytics_workspace" "law" {
  name                = "law-test"
  location            = data.azurerm_resource_group.rg.location
  resource_group_name = data.azurerm_resource_group.rg.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
}

resource "azurerm_container_app_environment" "env" {
  name                       = "cae-test"
  location                   = data.azurerm_resource_group.rg.location
  resource_group_name        = data.azurerm_resource_group.rg.name
  logs_destination           = "log-analytics"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.law.id
}

resource "azurerm_container_app" "app" {
  count = var.with_app ? 1 : 0

  name                         = var.app_name
  resource_group_name          = data.azurerm_resource_group.rg.name
  container_app_environment_id = azurerm_container_app_environment.env.id
  revision_mode                = "Single"

  identity {
    type = "SystemAssigned"
  }

  secret {
    name  = "api-key"
    value = "not-a-secret"
  }

  ingress {
    external_enabled = true
    target_port      = 4000

    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }

  template {
    container {
      name   = "gateway"
      image  = var.image
      cpu    = 0.5
      memory = "1Gi"

      startup_probe {
        transport = "HTTP"
        port      = 4000
      }
    }
  }
}

output "rg_id" {
  value = data.azurerm_resource_group.rg.id
}

output "workspace_customer_id" {
  value = azurerm_log_analytics_workspace.law.workspace_id
}

output "environment_id" {
  value = azurerm_container_app_environment.env.id
}

output "default_domain" {
  value = azurerm_container_app_environment.env.default_domain
}

output "app_id" {
  value = one(azurerm_container_app.app[*].id)
}

output "fqdn" {
  value = one(azurerm_container_app.app[*].ingress[0].fqdn)
}

output "revision" {
  value = one(azurerm_container_app.app[*].latest_revision_name)
}

output "principal_id" {
  value = one(azurerm_container_app.app[*].identity[0].principal_id)
}
"""
)

APP_ID = f"{RG_ID}/providers/Microsoft.App/containerApps/ca-test"
ENV_ID = f"{RG_ID}/providers/Microsoft.App/managedEnvironments/cae-test"
LAW_ID = f"{RG_ID}/providers/Microsoft.OperationalInsights/workspaces/law-test"


def seeded_state() -> dict[str, Any]:
    """What the bootstrap leaves: the group, the app's identity, the vault and the registry."""
    state = fake_azure.empty_state()
    state["groups"]["rg-test"] = {"id": RG_ID, "name": "rg-test", "location": "westeurope", "tags": {"env": "test"}}
    state["identities"]["id-test"] = {
        "id": f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-test",
        "name": "id-test",
        "resourceGroup": "rg-test",
        "principalId": "11111111-1111-1111-1111-111111111111",
        "clientId": "22222222-2222-2222-2222-222222222222",
        "tenantId": fake_azure.TENANT,
    }
    state["vaults"]["kv-test"] = {
        "id": f"{RG_ID}/providers/Microsoft.KeyVault/vaults/kv-test",
        "name": "kv-test",
        "resourceGroup": "rg-test",
        "location": "westeurope",
        "properties": {
            "vaultUri": "https://kv-test.vault.azure.net/",
            "enableRbacAuthorization": True,
            "enablePurgeProtection": True,
            "softDeleteRetentionInDays": 7,
        },
        "secrets": {},
    }
    state["registries"]["rg-test"] = [
        {
            "id": f"{RG_ID}/providers/Microsoft.ContainerRegistry/registries/acrtest",
            "name": "acrtest",
            "loginServer": "acrtest.azurecr.io",
            "images": [],
        }
    ]
    return state


@dataclass
class FakeRoot:
    """A Terraform root in a temporary directory, run against its own fake subscription."""

    path: Path
    state_path: Path
    env: dict[str, str]

    def run(self, *args: str) -> TfResult:
        proc = subprocess.run(
            [TERRAFORM, *args, "-no-color"],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        return TfResult(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str) -> TfResult:
        result = self.run(*args)
        assert result.returncode == 0, f"terraform {' '.join(args)}:\n{result.output}"
        return result

    def apply(self, *variables: str) -> None:
        self.ok("apply", "-auto-approve", *variables)

    def plan_json(self, *variables: str) -> dict[str, Any]:
        """``plan -out tfplan`` then ``show -json tfplan``."""
        self.ok("plan", "-out", "tfplan", *variables)
        plan: dict[str, Any] = json.loads(self.ok("show", "-json", "tfplan").stdout)
        return plan

    def outputs(self) -> dict[str, Any]:
        return {k: v["value"] for k, v in json.loads(self.ok("output", "-json").stdout).items()}

    def state(self) -> dict[str, Any]:
        return fake_azure.read_state(str(self.state_path))


def actions(plan: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {c["address"]: tuple(c["change"]["actions"]) for c in plan.get("resource_changes", [])}


MakeRoot = Callable[..., FakeRoot]


@pytest.fixture
def make_root(offline_mirror: OfflineMirror, tmp_path: Path) -> MakeRoot:
    """``make_root(main_tf)``: an initialised root whose provider runs in fake-Azure mode."""

    def make(main_tf: str = STACK, name: str = "root") -> FakeRoot:
        root = tmp_path / name
        root.mkdir()
        (root / "main.tf").write_text(main_tf)
        state_path = tmp_path / f"{name}-azure.json"
        state_path.write_text(json.dumps(seeded_state()))
        env = offline_mirror.env()
        env[fake_azure.ENV_VAR] = str(state_path)
        fake = FakeRoot(root, state_path, env)
        fake.ok("init")
        return fake

    return make


def revisions(root: FakeRoot, app: str = "ca-test") -> list[tuple[str, bool, str, int]]:
    return [
        (r["image"], r["active"], r["healthState"], r["trafficWeight"])
        for r in root.state()["containerapps"][app]["revisions"]
    ]


# --------------------------------------------------------------------------------- real terraform


def test_plan_apply_outputs_then_no_op(make_root: MakeRoot) -> None:
    root = make_root()
    plan = root.plan_json()
    assert set(actions(plan).values()) == {("create",)}
    assert plan["resource_changes"][0]["change"]["after_unknown"]["id"] is True

    root.ok("apply", "tfplan")
    out = root.outputs()
    assert out["rg_id"] == RG_ID
    assert out["app_id"] == APP_ID
    assert out["environment_id"] == ENV_ID
    assert out["fqdn"].startswith("ca-test.fake-")
    assert out["fqdn"].endswith(".westeurope.azurecontainerapps.io")
    assert out["fqdn"] == f"ca-test.{out['default_domain']}"
    assert len(out["workspace_customer_id"]) == 36 and len(out["principal_id"]) == 36

    state = root.state()
    assert state["resources"][APP_ID] == {
        "type": "azurerm_container_app",
        "name": "ca-test",
        "resourceGroup": "rg-test",
        "location": "westeurope",
        "tags": {},
    }
    assert {LAW_ID, ENV_ID} <= set(state["resources"])
    assert out["revision"] == state["containerapps"]["ca-test"]["revisions"][0]["name"]
    assert revisions(root) == [("acr.example/gateway@sha256:aaaa", True, "Healthy", 100)]

    again = root.plan_json()
    assert set(actions(again).values()) == {("no-op",)}
    assert root.outputs() == out  # nothing re-faked


def test_image_change_makes_a_revision_and_a_failing_image_keeps_the_old_one(make_root: MakeRoot) -> None:
    root = make_root()
    root.apply("-var", "image=acr.example/gateway@sha256:aaaa")
    plan = root.plan_json("-var", "image=acr.example/gateway@sha256:bbbb")
    assert actions(plan)["azurerm_container_app.app[0]"] == ("update",)
    assert actions(plan)["azurerm_container_app_environment.env"] == ("no-op",)
    root.ok("apply", "tfplan")
    assert revisions(root) == [
        ("acr.example/gateway@sha256:aaaa", False, "Healthy", 0),
        ("acr.example/gateway@sha256:bbbb", True, "Healthy", 100),
    ]
    assert root.outputs()["revision"] == root.state()["containerapps"]["ca-test"]["revisions"][-1]["name"]

    with fake_azure.locked(str(root.state_path)) as state:
        state["failing_images"].append("acr.example/gateway@sha256:dead")
    root.apply("-var", "image=acr.example/gateway@sha256:dead")
    assert revisions(root)[1:] == [
        ("acr.example/gateway@sha256:bbbb", True, "Healthy", 100),
        ("acr.example/gateway@sha256:dead", False, "Unhealthy", 0),
    ]


def test_name_change_plans_a_replacement(make_root: MakeRoot) -> None:
    root = make_root()
    root.apply()
    plan = root.plan_json("-var", "app_name=ca-renamed")
    change = next(c for c in plan["resource_changes"] if c["address"] == "azurerm_container_app.app[0]")
    assert change["change"]["actions"] in (["delete", "create"], ["create", "delete"])
    assert change["change"]["replace_paths"] == [["name"]]
    root.ok("apply", "tfplan")
    state = root.state()
    assert list(state["containerapps"]) == ["ca-renamed"]
    assert APP_ID not in state["resources"]
    assert APP_ID.replace("ca-test", "ca-renamed") in state["resources"]


def test_removed_resource_is_planned_for_delete_and_removed(make_root: MakeRoot) -> None:
    root = make_root()
    root.apply()
    plan = root.plan_json("-var", "with_app=false")
    assert actions(plan)["azurerm_container_app.app[0]"] == ("delete",)
    root.ok("apply", "tfplan")
    state = root.state()
    assert APP_ID not in state["resources"]
    assert state["containerapps"] == {}
    assert {LAW_ID, ENV_ID} <= set(state["resources"])


def test_resource_deleted_out_of_band_is_recreated(make_root: MakeRoot) -> None:
    root = make_root()
    root.apply()
    with fake_azure.locked(str(root.state_path)) as state:
        del state["resources"][APP_ID]
    plan = root.plan_json()
    assert actions(plan)["azurerm_container_app.app[0]"] == ("create",)


DATA_SOURCES = (
    HEADER
    + """
data "azurerm_client_config" "current" {}

data "azurerm_user_assigned_identity" "app" {
  name                = "id-test"
  resource_group_name = "rg-test"
}

data "azurerm_key_vault" "kv" {
  name                = "kv-test"
  resource_group_name = "rg-test"
}

data "azurerm_container_registry" "acr" {
  name                = "acrtest"
  resource_group_name = "rg-test"
}

data "azurerm_resources" "vaults" {
  resource_group_name = "rg-test"
  type                = "Microsoft.KeyVault/vaults"
}

data "azurerm_resources" "all" {
  resource_group_name = "rg-test"
}

output "client" {
  value = data.azurerm_client_config.current
}

output "identity" {
  value = data.azurerm_user_assigned_identity.app
}

output "vault" {
  value = data.azurerm_key_vault.kv
}

output "login_server" {
  value = data.azurerm_container_registry.acr.login_server
}

output "vaults" {
  value = data.azurerm_resources.vaults.resources
}

output "all_types" {
  value = sort(data.azurerm_resources.all.resources[*].type)
}
"""
)


def test_data_sources_answer_from_the_bootstrap(make_root: MakeRoot) -> None:
    root = make_root(DATA_SOURCES)
    root.apply()
    out = root.outputs()
    assert out["client"]["tenant_id"] == fake_azure.TENANT
    assert out["client"]["subscription_id"] == SUB
    assert out["identity"]["principal_id"] == "11111111-1111-1111-1111-111111111111"
    assert out["identity"]["client_id"] == "22222222-2222-2222-2222-222222222222"
    assert out["identity"]["location"] == "westeurope"
    assert out["vault"]["vault_uri"] == "https://kv-test.vault.azure.net/"
    assert out["vault"]["rbac_authorization_enabled"] is True
    assert out["vault"]["purge_protection_enabled"] is True
    assert out["vault"]["access_policy"] == []
    assert out["login_server"] == "acrtest.azurecr.io"
    assert out["vaults"] == [
        {
            "id": f"{RG_ID}/providers/Microsoft.KeyVault/vaults/kv-test",
            "name": "kv-test",
            "type": "Microsoft.KeyVault/vaults",
            "location": "westeurope",
            "resource_group_name": "rg-test",
            "tags": {},
        }
    ]
    assert out["all_types"] == [
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.KeyVault/vaults",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
    ]


MISSING = (
    HEADER
    + """
data "azurerm_resource_group" "missing" {
  name = "rg-missing"
}

data "azurerm_key_vault" "missing" {
  name                = "kv-missing"
  resource_group_name = "rg-test"
}

data "azurerm_storage_account" "unsupported" {
  name                = "st"
  resource_group_name = "rg-test"
}
"""
)


def test_missing_objects_fail_like_azurerm(make_root: MakeRoot) -> None:
    root = make_root(MISSING)
    result = root.run("plan")
    assert result.returncode != 0
    text = " ".join(result.output.split())
    assert 'Resource Group "rg-missing" was not found' in text
    assert 'Key Vault "kv-missing" (Resource Group "rg-test") was not found' in text
    assert "fake Azure does not implement data source azurerm_storage_account" in text


def test_without_fake_state_the_provider_still_refuses(make_root: MakeRoot) -> None:
    root = make_root()
    root.env.pop(fake_azure.ENV_VAR)
    result = root.run("plan")
    assert result.returncode != 0
    assert OFFLINE_ERROR in " ".join(result.output.split())


# --------------------------------------------------------------------------------- the helpers


@pytest.fixture(scope="module")
def servicer(offline_mirror: OfflineMirror, tmp_path_factory: pytest.TempPathFactory) -> FakeAzureServicer:
    state = tmp_path_factory.mktemp("fake") / "azure.json"
    made = make_servicer(offline_mirror.schema.with_suffix(".pb"), {fake_azure.ENV_VAR: str(state)})
    assert isinstance(made, FakeAzureServicer)
    return made


def test_servicer_selection(offline_mirror: OfflineMirror) -> None:
    plain = make_servicer(offline_mirror.schema.with_suffix(".pb"), {})
    assert type(plain) is SchemaOnlyServicer


def test_conform_and_unknowns_follow_the_schema(servicer: FakeAzureServicer) -> None:
    app: Block = servicer.block("azurerm_container_app")
    config = {
        "name": "ca",
        "ingress": [{"target_port": 80, "traffic_weight": [{"percentage": 100}]}],
        "template": [{"container": [{"name": "c", "image": "i", "cpu": 0.5, "memory": "1Gi"}]}],
    }
    value = conform_block(config, app)
    assert set(value) == set(app.attributes) | set(app.blocks)
    assert value["secret"] == [] and value["tags"] is None
    assert value["ingress"][0]["cors"] == [] and value["ingress"][0]["fqdn"] is None

    planned = unknown_computed(value, value, app)
    assert is_unknown(planned["id"]) and is_unknown(planned["latest_revision_fqdn"])
    assert is_unknown(planned["ingress"][0]["fqdn"])
    assert is_unknown(planned["template"][0]["container"][0]["ephemeral_storage"])
    assert not is_unknown(planned["ingress"][0]["target_port"])
    assert planned["identity"] == []  # absent blocks are never made unknown


def test_requires_replace_and_arm_ids(servicer: FakeAzureServicer) -> None:
    env = servicer.block("azurerm_container_app_environment")
    prior = {"name": "e", "location": "West Europe", "log_analytics_workspace_id": "a", "tags": {}}
    assert requires_replace("azurerm_container_app_environment", prior, {**prior, "location": "westeurope"}, env) == []
    changed = {**prior, "log_analytics_workspace_id": "b", "tags": {"x": "y"}}
    assert requires_replace("azurerm_container_app_environment", prior, changed, env) == ["log_analytics_workspace_id"]
    assert parse_arm_id(APP_ID) == ("rg-test", "Microsoft.App/containerApps", "ca-test")
    assert parse_arm_id(f"{LAW_ID}/savedSearches/q") == (
        "rg-test",
        "Microsoft.OperationalInsights/workspaces/savedSearches",
        "q",
    )
    assert parse_arm_id(RG_ID) == ("rg-test", "Microsoft.Resources/resourceGroups", "rg-test")
    assert block_from_pb(servicer.schema().resource_schemas["azurerm_container_app"].block) == servicer.block(
        "azurerm_container_app"
    )


def test_inventory_lists_top_level_resources_only() -> None:
    state = seeded_state()
    state["resources"] = {
        RG_ID: {"type": "azurerm_resource_group", "name": "rg-test", "resourceGroup": None},
        APP_ID: {"type": "azurerm_container_app", "name": "ca-test", "resourceGroup": "rg-test"},
        f"{LAW_ID}/savedSearches/q": {"type": "azurerm_log_analytics_saved_search", "name": "q"},
        f"{RG_ID}/providers/Microsoft.Authorization/locks/l": {"type": "azurerm_management_lock", "name": "l"},
        f"{APP_ID}|diag": {"type": "azurerm_monitor_diagnostic_setting", "name": "diag"},
    }
    listed = {r["id"]: r for r in inventory(state)}
    assert set(listed) == {
        APP_ID,
        state["identities"]["id-test"]["id"],
        state["vaults"]["kv-test"]["id"],
        state["registries"]["rg-test"][0]["id"],
    }
    assert listed[APP_ID]["location"] == "westeurope"  # the group's

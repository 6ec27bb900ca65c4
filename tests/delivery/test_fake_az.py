"""The fake `az` itself: the commands the deploy script calls, and that it fails where Azure would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.delivery import fake_az
from tests.delivery.conftest import FakeCli
from tests.delivery.fake_az import SUB

GROUP = "pvc-dev-aigateway-rg-san"
APP = "pvc-dev-aigateway-ca-san"
REGISTRY = "pvcsharedaigatewaycrsanabc123"
DIGEST = "sha256:" + "ab" * 32
VAULT = "pvc-dev-aigw-kv-1a2b"


def world(state: dict[str, Any]) -> None:
    group_id = f"/subscriptions/{SUB}/resourceGroups/{GROUP}"
    state["groups"][GROUP] = {"id": group_id, "name": GROUP, "location": "southafricanorth", "tags": {}}
    state["registries"]["pvc-shared-aigateway-rg-san"] = [
        {
            "id": f"/subscriptions/{SUB}/resourceGroups/pvc-shared-aigateway-rg-san/providers/"
            f"Microsoft.ContainerRegistry/registries/{REGISTRY}",
            "name": REGISTRY,
            "resourceGroup": "pvc-shared-aigateway-rg-san",
            "loginServer": f"{REGISTRY}.azurecr.io",
            "sku": "Basic",
            "images": [],
        }
    ]
    state["vaults"][VAULT] = {
        "id": f"{group_id}/providers/Microsoft.KeyVault/vaults/{VAULT}",
        "name": VAULT,
        "resourceGroup": GROUP,
        "location": "southafricanorth",
        "properties": {"vaultUri": f"https://{VAULT}.vault.azure.net/", "enableRbacAuthorization": True},
        "secrets": {"gateway-key-smoke": {"versions": 1, "sha256": "0" * 64}},
    }
    state["storage"]["pvcsharedaigwstsanabc123"] = {
        "id": f"/subscriptions/{SUB}/resourceGroups/pvc-shared-aigateway-rg-san/providers/"
        "Microsoft.Storage/storageAccounts/pvcsharedaigwstsanabc123",
        "name": "pvcsharedaigwstsanabc123",
        "resourceGroup": "pvc-shared-aigateway-rg-san",
    }
    state["blobs"] = {"pvcsharedaigwstsanabc123": {"tfstate-dev": ["aigateway.tfstate"]}}


@pytest.fixture
def cli(fake_cli: FakeCli) -> FakeCli:
    fake_cli.update(world)
    return fake_cli


def ok(cli: FakeCli, *args: str) -> Any:
    proc = cli.az(*args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def test_containerapp_show_revisions_and_update(cli: FakeCli) -> None:
    missing = cli.az("containerapp", "show", "--name", APP, "--resource-group", GROUP)
    assert missing.returncode == 3
    assert "ResourceNotFound" in missing.stderr

    old, new = f"{REGISTRY}.azurecr.io/aigateway@sha256:{'1' * 64}", f"{REGISTRY}.azurecr.io/aigateway@{DIGEST}"
    cli.update(lambda s: fake_az.fake_azure.apply_container_app(s, APP, GROUP, old, "t1"))
    view = ok(cli, "containerapp", "show", "--name", APP, "--resource-group", GROUP)
    assert view["properties"]["template"]["containers"][0]["image"] == old
    assert view["properties"]["latestReadyRevisionName"] == view["properties"]["latestRevisionName"]
    other_group = cli.az("containerapp", "show", "--name", APP, "--resource-group", "pvc-uat-aigateway-rg-san")
    assert other_group.returncode == 3

    updated = ok(cli, "containerapp", "update", "--name", APP, "--resource-group", GROUP, "--image", new)
    assert updated["properties"]["template"]["containers"][0]["image"] == new
    revisions = ok(cli, "containerapp", "revision", "list", "--name", APP, "--resource-group", GROUP, "--all")
    assert [r["properties"]["active"] for r in revisions] == [False, True]
    assert revisions[-1]["properties"]["template"]["containers"][0]["image"] == new
    # the same image again is the same template: no new revision
    ok(cli, "containerapp", "update", "--name", APP, "--resource-group", GROUP, "--image", new)
    assert len(ok(cli, "containerapp", "revision", "list", "--name", APP, "--resource-group", GROUP, "--all")) == 2
    assert [c["write"] for c in cli.calls() if c["argv"][:2] == ["containerapp", "update"]] == [True, True]


def test_acr_repository_show_and_login(cli: FakeCli) -> None:
    image = f"aigateway@{DIGEST}"
    missing = cli.az("acr", "repository", "show", "--name", REGISTRY, "--image", image)
    assert missing.returncode == 1
    assert "manifest unknown" in missing.stderr.lower()

    cli.update(lambda s: fake_az.add_image(s, REGISTRY, image))
    found = ok(cli, "acr", "repository", "show", "--name", REGISTRY, "--image", image)
    assert found["digest"] == DIGEST
    assert ok(cli, "acr", "login", "--name", REGISTRY) is None
    assert cli.az("acr", "login", "--name", "nosuchregistry").returncode == 3
    assert cli.az("acr", "repository", "show", "--name", "nosuchregistry", "--image", image).returncode == 3
    with pytest.raises(KeyError):
        fake_az.add_image(cli.state(), "nosuchregistry", image)


def test_keyvault_secret_show_and_list(cli: FakeCli) -> None:
    args = ["keyvault", "secret", "show", "--vault-name", VAULT, "--name", "gateway-key-smoke"]
    shown = cli.az(*args, "--query", "value", "--output", "tsv")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "fake-gateway-key-smoke\n"
    assert ok(cli, *args)["value"] == "fake-gateway-key-smoke"
    missing = cli.az("keyvault", "secret", "show", "--vault-name", VAULT, "--name", "nope", "--query", "value")
    assert missing.returncode == 3
    listed = ok(cli, "keyvault", "secret", "list", "--vault-name", VAULT)
    assert [s["name"] for s in listed] == ["gateway-key-smoke"]
    assert cli.az("keyvault", "secret", "list", "--vault-name", "pvc-dev-aigw-kv-none").returncode == 1
    cli.update(lambda s: s.setdefault("kv_forbidden", []).append(VAULT))
    forbidden = cli.az("keyvault", "secret", "list", "--vault-name", VAULT)
    assert forbidden.returncode == 1
    assert "Forbidden" in forbidden.stderr


def test_storage_blob_exists(cli: FakeCli) -> None:
    base = ["storage", "blob", "exists", "--account-name", "pvcsharedaigwstsanabc123", "--auth-mode", "login"]
    assert ok(cli, *base, "--container-name", "tfstate-dev", "--name", "aigateway.tfstate") == {"exists": True}
    assert ok(cli, *base, "--container-name", "tfstate-uat", "--name", "aigateway.tfstate") == {"exists": False}
    other = cli.az(*base[:3], "--account-name", "nosuchaccount", "--container-name", "c", "--name", "k")
    assert other.returncode == 1


def test_role_assignments_fail_where_azure_would(cli: FakeCli) -> None:
    cli.update(lambda s: fake_az.add_ad_group(s, "11111111-2222-3333-4444-555555555555", "ops"))
    vault_id = cli.state()["vaults"][VAULT]["id"]
    create = ["role", "assignment", "create", "--assignee-principal-type", "Group", "--role"]
    group = ["--assignee-object-id", "11111111-2222-3333-4444-555555555555"]

    no_scope = cli.az(*create, "Reader", "--scope", vault_id + "x", *group)
    assert no_scope.returncode == 3
    no_role = cli.az(*create, "Made Up", "--scope", vault_id, *group)
    assert no_role.returncode == 1
    nobody = cli.az(
        *create, "Reader", "--scope", vault_id, "--assignee-object-id", "00000000-0000-0000-0000-00000000dead"
    )
    assert "PrincipalNotFound" in nobody.stderr

    made = ok(cli, *create, "Key Vault Secrets Officer", "--scope", vault_id, *group)
    assert made["principalType"] == "Group"
    assert made["id"].startswith(f"{vault_id}/providers/Microsoft.Authorization/roleAssignments/")
    twice = cli.az(*create, "Key Vault Secrets Officer", "--scope", vault_id, *group)
    assert "RoleAssignmentExists" in twice.stderr

    listed = ok(cli, "role", "assignment", "list", "--assignee", group[1], "--all")
    assert [a["roleDefinitionName"] for a in listed] == ["Key Vault Secrets Officer"]
    assert ok(cli, "role", "assignment", "list", "--assignee", group[1]) == []  # subscription scope only
    assert cli.state()["role_assignments"] == [made]


def test_group_level_commands_need_the_group(cli: FakeCli) -> None:
    for args in (
        ["lock", "list", "--resource-group", "nope"],
        ["keyvault", "list", "--resource-group", "nope"],
        ["identity", "create", "--name", "x", "--resource-group", "nope"],
        ["acr", "list", "--resource-group", "nope"],
    ):
        result = cli.az(*args)
        assert result.returncode == 3, args
        assert "ResourceGroupNotFound" in result.stderr


def test_unknown_commands_exit_99_and_failures_change_nothing(cli: FakeCli) -> None:
    before = cli.state()
    assert cli.az("vm", "create", "--name", "x").returncode == 99
    assert cli.az("keyvault", "create", "--name", VAULT, "--resource-group", GROUP, "-l", "x").returncode == 1
    assert cli.state() == before
    assert [c["write"] for c in cli.calls()] == [True, True]


def test_parse_accumulates_repeated_options_and_keeps_a_lone_dash() -> None:
    words, opts = fake_az.parse(["api", "repos/o/r/x", "--input", "-", "-f", "name=main", "-f", "type=branch"])
    assert words == ["api", "repos/o/r/x"]
    assert opts == {"input": ["-"], "f": ["name=main", "type=branch"]}

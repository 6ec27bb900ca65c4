"""bootstrap_shared.py then bootstrap_env.py --env all on an empty fake subscription: least privilege, per env.

What issue 10 asked for, checked on the fake subscription the scripts leave behind: every role is scoped to
one environment's group, vault or state container, or to the shared registry or the given Azure OpenAI
account; nothing at subscription scope; no custom role, no role that grants Container Apps listSecrets to a
plan identity; no identity of one environment reaches another's; federated subjects exactly as designed;
operators can write secrets; prod is locked and purge-protected; a second run and a dry run write nothing.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.delivery import fake_az
from tests.delivery.conftest import SCRIPTS, FakeCli
from tests.delivery.fake_az import SUB, TENANT

sys.path.insert(0, str(SCRIPTS))
import _az

ENVS = ("dev", "uat", "prod")
ORG_REPO = ["--org", "contoso", "--repo", "ai-gateway"]
REPO = "repo:contoso/ai-gateway"
OPERATORS = "11111111-2222-3333-4444-555555555555"
OPENAI = f"/subscriptions/{SUB}/resourceGroups/pvc-ai-rg/providers/Microsoft.CognitiveServices/accounts/pvc-openai-san"
SHARED_GROUP = "pvc-shared-aigateway-rg-san"
LIST_SECRETS = "Microsoft.App/containerApps/listSecrets/action"

# Control-plane actions of the built-in roles the design uses (Azure's built-in role definitions).
BUILTIN_ACTIONS = {
    "Contributor": ["*"],
    "Reader": ["*/read"],
    "Storage Blob Data Contributor": [
        "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ],
    "Storage Blob Data Reader": [
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ],
    "Key Vault Secrets User": [],
    "Key Vault Secrets Officer": [
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
        "Microsoft.KeyVault/checkNameAvailability/read",
        "Microsoft.KeyVault/deletedVaults/read",
        "Microsoft.KeyVault/locations/*/read",
        "Microsoft.KeyVault/vaults/*/read",
        "Microsoft.KeyVault/operations/read",
    ],
    "AcrPull": ["Microsoft.ContainerRegistry/registries/pull/read"],
    "AcrPush": [
        "Microsoft.ContainerRegistry/registries/pull/read",
        "Microsoft.ContainerRegistry/registries/push/write",
    ],
    "Cognitive Services OpenAI User": [
        "Microsoft.CognitiveServices/*/read",
        "Microsoft.Authorization/roleAssignments/read",
        "Microsoft.Authorization/roleDefinitions/read",
    ],
}
PRIVILEGED = {"Owner", "User Access Administrator", "Role Based Access Control Administrator"}


def grants(role: str, action: str) -> bool:
    return any(fnmatch.fnmatch(action.lower(), pattern.lower()) for pattern in BUILTIN_ACTIONS[role])


def prepare(state: dict[str, Any]) -> None:
    """What exists before the bootstrap: the operators group and the Azure OpenAI account."""
    fake_az.add_ad_group(state, OPERATORS, "aigw-operators")
    fake_az.add_resource(state, OPENAI, "Microsoft.CognitiveServices/accounts")


@dataclass
class Env:
    """One environment's objects in the fake state."""

    name: str
    group_id: str
    vault: dict[str, Any]
    container_id: str
    app: str  # principal ids
    deploy: str
    plan: str
    deploy_app_id: str
    plan_app_id: str

    @property
    def own_scopes(self) -> set[str]:
        return {self.group_id.lower(), self.vault["id"].lower(), self.container_id.lower()}


def environments(state: dict[str, Any]) -> dict[str, Env]:
    account = state["storage"][_az.state_storage_account_name(SUB)]
    apps = {a["displayName"]: a["appId"] for a in state["apps"]}
    sps = {s["appId"]: s["id"] for s in state["sps"]}
    found = {}
    for env in ENVS:
        group = _az.resource_group_name(env)
        [vault] = [v for v in state["vaults"].values() if v["resourceGroup"] == group]
        deploy_app, plan_app = apps[f"pvc-{env}-aigateway-ghdeploy-san"], apps[f"pvc-{env}-aigateway-ghplan-san"]
        found[env] = Env(
            env,
            state["groups"][group]["id"],
            vault,
            f"{account['id']}/blobServices/default/containers/tfstate-{env}",
            state["identities"][f"pvc-{env}-aigateway-id-san"]["principalId"],
            sps[deploy_app],
            sps[plan_app],
            deploy_app,
            plan_app,
        )
    return found


def roles(state: dict[str, Any], principal: str) -> set[tuple[str, str]]:
    return {(a["roleDefinitionName"], a["scope"]) for a in state["role_assignments"] if a["principalId"] == principal}


def registry_id(state: dict[str, Any]) -> str:
    [registry] = state["registries"][SHARED_GROUP]
    found: str = registry["id"]
    return found


@dataclass
class Bootstrapped:
    cli: FakeCli
    shared_stdout: str
    env_stdout: str
    env_stderr: str


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Bootstrapped:
    """One empty fake subscription, bootstrapped once for the whole module (the checks only read it)."""
    tmp = tmp_path_factory.mktemp("bootstrapped")
    (tmp / "bin").mkdir()
    fake_az.install(tmp / "bin", gh=True)
    cli = FakeCli(tmp / "bin", tmp / "state.json", tmp / "calls.jsonl")
    state = fake_az.empty_state()
    prepare(state)
    cli.save(state)
    shared = cli.run("bootstrap_shared.py", *ORG_REPO)
    assert shared.returncode == 0, shared.stderr
    args = [*ORG_REPO, "--env", "all", "--operators-group", OPERATORS, "--openai-resource-id", OPENAI]
    result = cli.run("bootstrap_env.py", *args)
    assert result.returncode == 0, result.stderr
    return Bootstrapped(cli, shared.stdout, result.stdout, result.stderr)


# ------------------------------------------------------------------------------------------------- scopes


def test_every_role_is_scoped_to_one_environment_the_shared_registry_or_the_openai_account(
    bootstrapped: Bootstrapped,
) -> None:
    state = bootstrapped.cli.state()
    envs = environments(state)
    allowed_shared = {registry_id(state).lower(), OPENAI.lower()}
    owner_of = {p: e for e in envs.values() for p in (e.app, e.deploy, e.plan)}
    assert state["role_assignments"]
    for assignment in state["role_assignments"]:
        scope = assignment["scope"].lower()
        assert scope != f"/subscriptions/{SUB}".lower(), assignment
        assert assignment["roleDefinitionName"] not in PRIVILEGED, assignment
        assert assignment["roleDefinitionName"] in BUILTIN_ACTIONS, assignment
        assert assignment["condition"] is None
        if assignment["principalId"] == OPERATORS:
            assert assignment["principalType"] == "Group"
            assert scope in {s.lower() for e in envs.values() for s in (e.vault["id"], e.group_id)}, assignment
        else:
            assert assignment["principalType"] == "ServicePrincipal"
            env = owner_of[assignment["principalId"]]
            assert scope in env.own_scopes | allowed_shared, assignment
    assert state["role_definitions"] == []


def test_no_identity_of_one_environment_reaches_another(bootstrapped: Bootstrapped) -> None:
    state = bootstrapped.cli.state()
    envs = environments(state)
    for mine in envs.values():
        for other in envs.values():
            if other is mine:
                continue
            for principal in (mine.app, mine.deploy, mine.plan):
                for _, scope in roles(state, principal):
                    for theirs in other.own_scopes:
                        assert not (scope.lower() == theirs or scope.lower().startswith(theirs + "/")), (
                            f"{mine.name} principal {principal} has a role on {other.name}'s {scope}"
                        )


def test_no_plan_app_or_operator_role_grants_list_secrets(bootstrapped: Bootstrapped) -> None:
    state = bootstrapped.cli.state()
    envs = environments(state)
    deploy_groups = {(e.deploy, e.group_id) for e in envs.values()}
    for assignment in state["role_assignments"]:
        if grants(assignment["roleDefinitionName"], LIST_SECRETS):
            # Contributor ("*") grants every action: only each deploy identity has it, on its own group only.
            assert (assignment["principalId"], assignment["scope"]) in deploy_groups, assignment
    for env in envs.values():
        for role, _ in roles(state, env.plan) | roles(state, env.app):
            assert not grants(role, LIST_SECRETS), (env.name, role)


# ------------------------------------------------------------------------------------------------- per identity


@pytest.mark.parametrize("env", ENVS)
def test_exact_roles_of_each_identity(bootstrapped: Bootstrapped, env: str) -> None:
    state = bootstrapped.cli.state()
    e = environments(state)[env]
    registry = registry_id(state)
    assert roles(state, e.app) == {
        ("Key Vault Secrets User", e.vault["id"]),
        ("AcrPull", registry),
        ("Cognitive Services OpenAI User", OPENAI),
    }
    assert roles(state, e.deploy) == {
        ("Contributor", e.group_id),
        ("Storage Blob Data Contributor", e.container_id),
        ("Key Vault Secrets User", e.vault["id"]),
        ("AcrPush" if env == "dev" else "AcrPull", registry),
        ("Reader", registry),
    }
    assert roles(state, e.plan) == {("Reader", e.group_id), ("Storage Blob Data Reader", e.container_id)}
    assert ("Key Vault Secrets Officer", e.vault["id"]) in roles(state, OPERATORS)


def test_operators_get_secrets_officer_on_every_vault_and_reader_on_its_group(bootstrapped: Bootstrapped) -> None:
    state = bootstrapped.cli.state()
    envs = environments(state).values()
    assert roles(state, OPERATORS) == {("Key Vault Secrets Officer", e.vault["id"]) for e in envs} | {
        ("Reader", e.group_id) for e in envs
    }


@pytest.mark.parametrize("env", ENVS)
def test_federated_subjects_are_exactly_the_design(bootstrapped: Bootstrapped, env: str) -> None:
    state = bootstrapped.cli.state()
    e = environments(state)[env]
    deploy = [c["subject"] for c in state["fics"][e.deploy_app_id]]
    plan = sorted(c["subject"] for c in state["fics"][e.plan_app_id])
    assert deploy == [f"{REPO}:environment:{env}"]
    expected = [f"{REPO}:environment:{env}-plan"] + ([f"{REPO}:pull_request"] if env != "prod" else [])
    assert plan == sorted(expected)
    for credential in state["fics"][e.deploy_app_id] + state["fics"][e.plan_app_id]:
        assert credential["issuer"] == "https://token.actions.githubusercontent.com"
        assert credential["audiences"] == ["api://AzureADTokenExchange"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{3,120}", credential["name"])


def test_identity_names_follow_the_rules(bootstrapped: Bootstrapped) -> None:
    state = bootstrapped.cli.state()
    assert sorted(a["displayName"] for a in state["apps"]) == sorted(
        f"pvc-{e}-aigateway-gh{p}-san" for e in ENVS for p in ("deploy", "plan")
    )
    assert len(state["sps"]) == 6
    assert sorted(state["identities"]) == sorted(f"pvc-{e}-aigateway-id-san" for e in ENVS)
    for name, identity in state["identities"].items():
        assert identity["resourceGroup"] == name.replace("-id-san", "-rg-san")
        assert {"id", "name", "resourceGroup", "principalId", "clientId", "tenantId"} <= set(identity)
        assert identity["tenantId"] == TENANT


# ------------------------------------------------------------------------------------------------- resources


def test_groups_vaults_and_the_prod_lock(bootstrapped: Bootstrapped) -> None:
    state = bootstrapped.cli.state()
    envs = environments(state)
    assert set(state["groups"]) == {SHARED_GROUP, *(f"pvc-{e}-aigateway-rg-san" for e in ENVS)}
    assert all(g["location"] == "southafricanorth" for g in state["groups"].values())
    assert [lock["level"] for lock in state["locks"]["pvc-prod-aigateway-rg-san"]] == ["CanNotDelete"]
    assert "pvc-dev-aigateway-rg-san" not in state["locks"]
    assert "pvc-uat-aigateway-rg-san" not in state["locks"]

    names = [e.vault["name"] for e in envs.values()]
    assert len(set(names)) == 3
    for env in envs.values():
        vault, props = env.vault, env.vault["properties"]
        assert vault["name"] == _az.key_vault_name(env.name, _az.vault_suffix(SUB, env.name))
        assert re.fullmatch(rf"pvc-{env.name}-aigw-kv-[0-9a-f]{{4}}", vault["name"])
        assert len(vault["name"]) <= 24
        assert vault["location"] == "southafricanorth"
        assert props["vaultUri"] == f"https://{vault['name']}.vault.azure.net/"
        assert props["enableRbacAuthorization"] is True
        assert props["publicNetworkAccess"] == "Enabled"
        if env.name == "prod":
            assert props["enablePurgeProtection"] is True
            assert props["softDeleteRetentionInDays"] == 90
        else:
            assert not props["enablePurgeProtection"]
            assert props["softDeleteRetentionInDays"] == 7


def test_github_environments_branch_policies_and_variables(bootstrapped: Bootstrapped) -> None:
    state = bootstrapped.cli.state()
    envs = environments(state)
    assert sorted(state["gh_envs"]) == sorted([*ENVS, *(f"{e}-plan" for e in ENVS)])
    settings = state["gh_env_settings"]
    main_only = {"protected_branches": False, "custom_branch_policies": True}
    for name in ("uat", "prod", "dev-plan", "uat-plan", "prod-plan"):
        assert settings[name]["deployment_branch_policy"] == main_only, name
        assert [(p["name"], p["type"]) for p in settings[name]["branch_policies"]] == [("main", "branch")], name
    assert settings["dev"]["deployment_branch_policy"] is None

    account = _az.state_storage_account_name(SUB)
    for env in envs.values():
        common = {"AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": SUB, "TFSTATE_STORAGE_ACCOUNT": account}
        assert state["gh_vars"][env.name] == {"AZURE_CLIENT_ID": env.deploy_app_id, **common}
        assert state["gh_vars"][f"{env.name}-plan"] == {"AZURE_CLIENT_ID": env.plan_app_id, **common}
    assert state["gh_vars"]["<repo>"] == {
        "TFSTATE_STORAGE_ACCOUNT": account,
        "REGISTRY_LOGIN_SERVER": f"{_az.shared_registry_name(SUB)}.azurecr.io",
        "AZURE_TENANT_ID": TENANT,
        "AZURE_PLAN_CLIENT_ID_DEV": envs["dev"].plan_app_id,
        "AZURE_SUBSCRIPTION_ID_DEV": SUB,
        "AZURE_PLAN_CLIENT_ID_UAT": envs["uat"].plan_app_id,
        "AZURE_SUBSCRIPTION_ID_UAT": SUB,
    }


def test_summary_names_what_was_made_and_what_comes_next(bootstrapped: Bootstrapped) -> None:
    state = bootstrapped.cli.state()
    out = bootstrapped.env_stdout
    for env in environments(state).values():
        assert f"  Key Vault:        {env.vault['name']}" in out
        client = state["identities"][f"pvc-{env.name}-aigateway-id-san"]["clientId"]
        assert f"(client id {client})" in out
        assert f"Next: python3 scripts/gateway_secrets.py init --env {env.name}" in out
    assert "deferred" not in out  # --openai-resource-id was given
    assert "required reviewers" in out
    assert "stale" not in bootstrapped.env_stderr


def test_second_run_of_both_scripts_writes_nothing(bootstrapped: Bootstrapped) -> None:
    cli = bootstrapped.cli
    before = cli.state()
    cli.reset_log()
    shared = cli.run("bootstrap_shared.py", *ORG_REPO)
    assert shared.returncode == 0, shared.stderr
    args = [*ORG_REPO, "--env", "all", "--operators-group", OPERATORS, "--openai-resource-id", OPENAI]
    again = cli.run("bootstrap_env.py", *args)
    assert again.returncode == 0, again.stderr
    assert cli.writes() == []
    assert "made 0 Azure change(s) and 0 GitHub change(s)" in again.stderr
    assert cli.state()["role_assignments"] == before["role_assignments"]
    assert again.stdout == bootstrapped.env_stdout


def test_secrets_script_works_on_the_bootstrapped_vault(bootstrapped: Bootstrapped) -> None:
    cli = bootstrapped.cli
    result = cli.run("gateway_secrets.py", "init", "--env", "uat")
    assert result.returncode == 0, result.stderr
    vault = environments(cli.state())["uat"].vault["name"]
    assert set(cli.state()["vaults"][vault]["secrets"]) == {"gateway-key-smoke"}


# ------------------------------------------------------------------------------------------------- dry runs


def test_dry_run_on_an_empty_subscription_writes_nothing(fake_cli: FakeCli) -> None:
    fake_cli.update(prepare)
    fake_cli.install_gh()
    shared = fake_cli.run("bootstrap_shared.py", *ORG_REPO, "--dry-run")
    assert shared.returncode == 0, shared.stderr
    args = [*ORG_REPO, "--env", "all", "--operators-group", OPERATORS, "--dry-run"]
    result = fake_cli.run("bootstrap_env.py", *args)
    assert result.returncode == 0, result.stderr
    assert fake_cli.writes() == []
    assert fake_cli.state()["groups"] == {}
    assert "run scripts/bootstrap_shared.py first" in result.stderr
    would = [line for line in result.stderr.splitlines() if line.startswith("[dry-run, would run] ")]
    assert sum(" group create " in line for line in would) == 3
    assert sum(" keyvault create " in line for line in would) == 3
    assert sum(" identity create " in line for line in would) == 3
    assert sum(" ad app create " in line for line in would) == 6
    assert sum(" lock create " in line for line in would) == 1
    # app: 2 (+ OpenAI deferred), operators: 2, deploy: 5, plan: 2 per environment
    assert sum(" role assignment create " in line for line in would) == 33
    assert any("gh api repos/contoso/ai-gateway/environments/prod-plan --method PUT" in line for line in would)


def test_dry_run_after_the_shared_layer_writes_nothing(fake_cli: FakeCli) -> None:
    fake_cli.update(prepare)
    assert fake_cli.run("bootstrap_shared.py", "--no-gh").returncode == 0
    fake_cli.reset_log()
    args = [*ORG_REPO, "--env", "prod", "--operators-group", OPERATORS, "--no-gh", "--dry-run"]
    result = fake_cli.run("bootstrap_env.py", *args, "--openai-resource-id", OPENAI)
    assert result.returncode == 0, result.stderr
    assert fake_cli.writes() == []
    would = [line for line in result.stderr.splitlines() if line.startswith("[dry-run, would run] ")]
    assert sum(" role assignment create " in line for line in would) == 12
    prod_vault = _az.key_vault_name("prod", _az.vault_suffix(SUB, "prod"))
    assert any(
        f" keyvault create --name {prod_vault} " in line
        and "--enable-purge-protection true" in line
        and "--retention-days 90" in line
        and "--enable-rbac-authorization true" in line
        for line in would
    )


# ------------------------------------------------------------------------------------------------- one env


@pytest.fixture
def shared_done(fake_cli: FakeCli) -> FakeCli:
    fake_cli.update(prepare)
    assert fake_cli.run("bootstrap_shared.py", "--no-gh").returncode == 0
    fake_cli.reset_log()
    return fake_cli


def env_args(env: str, *extra: str) -> list[str]:
    return [*ORG_REPO, "--env", env, "--operators-group", OPERATORS, "--no-gh", *extra]


def test_without_openai_resource_id_the_openai_role_is_deferred(shared_done: FakeCli) -> None:
    result = shared_done.run("bootstrap_env.py", *env_args("dev"))
    assert result.returncode == 0, result.stderr
    assert "deferred:" in result.stdout
    assert "keyless (entra) mode needs it" in result.stdout
    state = shared_done.state()
    assert not any(a["roleDefinitionName"] == "Cognitive Services OpenAI User" for a in state["role_assignments"])
    # only dev was asked for
    assert set(state["groups"]) == {SHARED_GROUP, "pvc-dev-aigateway-rg-san"}


def test_without_the_shared_layer_points_to_bootstrap_shared(fake_cli: FakeCli) -> None:
    fake_cli.update(prepare)
    result = fake_cli.run("bootstrap_env.py", *env_args("dev"))
    assert result.returncode == 1
    assert "run scripts/bootstrap_shared.py first" in result.stderr.strip().splitlines()[-1]
    assert fake_cli.writes() == []


def test_an_old_shared_layer_without_per_environment_containers_is_refused(shared_done: FakeCli) -> None:
    shared_done.update(lambda s: s["containers"].update({_az.state_storage_account_name(SUB): ["tfstate"]}))
    result = shared_done.run("bootstrap_env.py", *env_args("dev"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "state container tfstate-dev not found" in last and "bootstrap_shared.py" in last


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--operators-group", "aigw-operators"], "--operators-group must be the group's object id"),
        (["--openai-resource-id", "/subscriptions/x/resourceGroups/y"], "--openai-resource-id must look like"),
        (["--vault-suffix", "Bad!"], "--vault-suffix must be"),
    ],
)
def test_bad_arguments_are_usage_errors(fake_cli: FakeCli, args: list[str], message: str) -> None:
    base = [*ORG_REPO, "--env", "dev", "--no-gh", "--operators-group", OPERATORS]
    result = fake_cli.run("bootstrap_env.py", *base, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert fake_cli.calls() == []


def test_unknown_operators_group_or_openai_account_is_a_clear_error(shared_done: FakeCli) -> None:
    other = "99999999-2222-3333-4444-555555555555"
    result = shared_done.run("bootstrap_env.py", *ORG_REPO, "--env", "dev", "--no-gh", "--operators-group", other)
    assert result.returncode == 1
    assert f"Entra group {other} not found" in result.stderr
    missing = OPENAI.replace("pvc-openai-san", "nope")
    result = shared_done.run("bootstrap_env.py", *env_args("dev", "--openai-resource-id", missing))
    assert result.returncode == 1
    assert "Azure OpenAI account" in result.stderr and "not found" in result.stderr
    assert shared_done.writes() == []


def test_a_name_held_by_a_soft_deleted_vault_stops_with_advice(shared_done: FakeCli) -> None:
    name = _az.key_vault_name("uat", _az.vault_suffix(SUB, "uat"))
    shared_done.update(lambda s: fake_az.add_deleted_vault(s, name, "someone-elses-rg"))
    result = shared_done.run("bootstrap_env.py", *env_args("uat"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert f"Key Vault name {name} is held by a soft-deleted vault" in last
    assert "--vault-suffix" in last
    assert "recover" not in last
    assert not any(w[:2] == ["keyvault", "create"] for w in shared_done.writes())

    shared_done.update(lambda s: fake_az.add_deleted_vault(s, name, "pvc-uat-aigateway-rg-san"))
    own = shared_done.run("bootstrap_env.py", *env_args("uat"))
    assert own.returncode == 1
    assert f"az keyvault recover --name {name}" in own.stderr.strip().splitlines()[-1]

    moved = shared_done.run("bootstrap_env.py", *env_args("uat", "--vault-suffix", "b2"))
    assert moved.returncode == 0, moved.stderr
    assert "pvc-uat-aigw-kv-b2" in shared_done.state()["vaults"]


def test_a_globally_taken_vault_name_suggests_vault_suffix(shared_done: FakeCli) -> None:
    name = _az.key_vault_name("dev", _az.vault_suffix(SUB, "dev"))
    shared_done.update(lambda s: s.setdefault("taken_vault_names", []).append(name))
    result = shared_done.run("bootstrap_env.py", *env_args("dev"))
    assert result.returncode == 1
    assert "--vault-suffix" in result.stderr.strip().splitlines()[-1]


def test_an_existing_vault_is_found_by_listing_and_repaired_not_recreated(shared_done: FakeCli) -> None:
    assert shared_done.run("bootstrap_env.py", *env_args("prod")).returncode == 0
    prod_vault = _az.key_vault_name("prod", _az.vault_suffix(SUB, "prod"))

    def drift(state: dict[str, Any]) -> None:
        vault = state["vaults"].pop(prod_vault)
        vault["name"] = "pvc-prod-aigw-kv-old1"  # e.g. made with --vault-suffix on another laptop
        vault["id"] = vault["id"].replace(prod_vault, "pvc-prod-aigw-kv-old1")
        vault["properties"]["enablePurgeProtection"] = None
        state["vaults"]["pvc-prod-aigw-kv-old1"] = vault
        for assignment in state["role_assignments"]:
            assignment["scope"] = assignment["scope"].replace(prod_vault, "pvc-prod-aigw-kv-old1")

    shared_done.update(drift)
    shared_done.reset_log()
    result = shared_done.run("bootstrap_env.py", *env_args("prod", "--vault-suffix", "zz"))
    assert result.returncode == 0, result.stderr
    assert "--vault-suffix is ignored" in result.stderr
    assert shared_done.writes() == [
        [
            "keyvault",
            "update",
            "--name",
            "pvc-prod-aigw-kv-old1",
            "--resource-group",
            "pvc-prod-aigateway-rg-san",
            "--enable-purge-protection",
            "true",
            "--subscription",
            SUB,
            "--output",
            "json",
        ]
    ]
    assert "Key Vault:        pvc-prod-aigw-kv-old1" in result.stdout


def test_grants_from_the_old_design_are_reported_stale_never_deleted(shared_done: FakeCli) -> None:
    assert shared_done.run("bootstrap_env.py", *env_args("dev")).returncode == 0
    state = shared_done.state()
    env = environments_partial(state, "dev")

    def old_design(state: dict[str, Any]) -> None:
        state["role_assignments"].append(
            {
                "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/old",
                "principalId": env["deploy"],
                "principalType": "ServicePrincipal",
                "roleDefinitionName": "Contributor",
                "scope": f"/subscriptions/{SUB}",
                "condition": None,
            }
        )
        state["fics"][env["plan_app_id"]].append(
            {"name": "github-ref-refs-heads-main", "subject": f"{REPO}:ref:refs/heads/main", "issuer": "x"}
        )

    shared_done.update(old_design)
    shared_done.reset_log()
    result = shared_done.run("bootstrap_env.py", *env_args("dev"))
    assert result.returncode == 0, result.stderr
    assert shared_done.writes() == []
    stale = [line for line in result.stderr.splitlines() if line.startswith("stale: ")]
    assert len(stale) == 2
    assert any(
        f"has Contributor on /subscriptions/{SUB}," in line and "az role assignment delete --ids" in line
        for line in stale
    )
    assert any("ref:refs/heads/main" in line and "federated-credential delete" in line for line in stale)


def environments_partial(state: dict[str, Any], env: str) -> dict[str, str]:
    apps = {a["displayName"]: a["appId"] for a in state["apps"]}
    sps = {s["appId"]: s["id"] for s in state["sps"]}
    return {
        "deploy": sps[apps[f"pvc-{env}-aigateway-ghdeploy-san"]],
        "plan_app_id": apps[f"pvc-{env}-aigateway-ghplan-san"],
    }


def test_existing_github_environment_keeps_its_reviewers_when_restricted_to_main(shared_done: FakeCli) -> None:
    shared_done.install_gh()

    def reviewed_prod(state: dict[str, Any]) -> None:
        state["gh_envs"].append("prod")
        state["gh_env_settings"] = {
            "prod": {
                "deployment_branch_policy": None,
                "branch_policies": [],
                "protection_rules": [
                    {"type": "required_reviewers", "reviewers": [{"type": "Team", "reviewer": {"id": 7}}]}
                ],
            }
        }

    shared_done.update(reviewed_prod)
    result = shared_done.run("bootstrap_env.py", *[a for a in env_args("prod") if a != "--no-gh"])
    assert result.returncode == 0, result.stderr
    prod = shared_done.state()["gh_env_settings"]["prod"]
    assert prod["deployment_branch_policy"] == {"protected_branches": False, "custom_branch_policies": True}
    assert prod["protection_rules"] == [
        {"type": "required_reviewers", "reviewers": [{"type": "Team", "reviewer": {"id": 7}}]}
    ]
    assert [p["name"] for p in prod["branch_policies"]] == ["main"]


def test_without_gh_installed_the_variables_are_printed(shared_done: FakeCli, tmp_path: Path) -> None:
    assert shutil.which("gh", path=str(shared_done.bin_dir)) is None
    args = [a for a in env_args("dev") if a != "--no-gh"]
    result = shared_done.run("bootstrap_env.py", *args)
    assert result.returncode == 0, result.stderr
    assert "gh is not installed" in result.stderr
    assert "# GitHub environment 'dev-plan' variables (only main may use it)" in result.stdout
    assert "AZURE_PLAN_CLIENT_ID_DEV=" in result.stdout

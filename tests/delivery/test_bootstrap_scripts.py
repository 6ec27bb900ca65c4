"""Bootstrap scripts against the fake `az`: idempotent, dry-run writes nothing, names follow the rules."""

from __future__ import annotations

import hashlib
import re
import sys
from typing import Any

import pytest

from tests.delivery.conftest import SCRIPTS, FakeCli
from tests.delivery.fake_az import SUB, TENANT

sys.path.insert(0, str(SCRIPTS))
import _az

HYPHEN_NAME = re.compile(r"pvc-(dev|uat|prod|shared)-(aigateway|aigw)-[a-z0-9-]+-san")
ORG_REPO = ["--org", "contoso", "--repo", "ai-gateway"]


# ------------------------------------------------------------------------------------------------- naming


@pytest.mark.parametrize("env", ["dev", "uat", "prod"])
def test_key_vault_names_fit_24_chars_and_only_prod_is_shortened(env: str) -> None:
    name = _az.key_vault_name(env)
    assert 3 <= len(name) <= 24
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", name)
    assert "--" not in name
    assert (
        name
        == {"dev": "pvc-dev-aigateway-kv-san", "uat": "pvc-uat-aigateway-kv-san", "prod": "pvc-prod-aigw-kv-san"}[env]
    )


@pytest.mark.parametrize("env", ["dev", "uat", "prod", "shared"])
def test_compact_names_are_lowercase_alphanumeric_within_limits(env: str) -> None:
    storage = _az.storage_account_name(env, "st", _az.unique_suffix(SUB))
    registry = _az.registry_name(env, _az.unique_suffix(SUB))
    assert re.fullmatch(r"[a-z0-9]{3,24}", storage), storage
    assert re.fullmatch(r"[a-z0-9]{5,50}", registry), registry
    assert storage.startswith(f"pvc{env}")
    assert registry.startswith(f"pvc{env}aigateway")
    assert storage.endswith(_az.unique_suffix(SUB))
    with pytest.raises(_az.BootstrapError):
        _az.storage_account_name(env, "st", "x" * 30)


def test_suffix_is_deterministic_per_subscription() -> None:
    assert _az.unique_suffix(SUB) == _az.unique_suffix(SUB)
    assert _az.unique_suffix(SUB) != _az.unique_suffix(SUB[:-1] + "2")


# ------------------------------------------------------------------------------------------------- state


def state_account() -> str:
    return _az.state_storage_account_name(SUB)


def test_state_first_run_creates_everything_second_run_nothing(fake_cli: FakeCli) -> None:
    first = fake_cli.run("bootstrap_state.py")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"TFSTATE_STORAGE_ACCOUNT={state_account()}"
    created = [" ".join(w[:4]) for w in fake_cli.writes()]
    assert any(c.startswith("group create") for c in created)
    assert any(c.startswith("lock create") for c in created)
    assert any(c.startswith("storage account create") for c in created)
    assert any(c.startswith("storage account blob-service-properties update") for c in created)
    assert any(c.startswith("storage container-rm create") for c in created)

    state = fake_cli.state()
    assert list(state["groups"]) == ["pvc-shared-aigateway-rg-san"]
    assert HYPHEN_NAME.fullmatch("pvc-shared-aigateway-rg-san")
    account = state["storage"][state_account()]
    assert re.fullmatch(r"[a-z0-9]{3,24}", account["name"])
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    assert account["enableHttpsTrafficOnly"] is True
    props = state["blob_props"][state_account()]
    assert props["isVersioningEnabled"] is True
    assert props["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert state["containers"][state_account()] == ["tfstate"]

    fake_cli.reset_log()
    second = fake_cli.run("bootstrap_state.py")
    assert second.returncode == 0, second.stderr
    assert fake_cli.writes() == []
    assert "made 0 change(s)" in second.stderr


def test_state_dry_run_prints_writes_and_runs_none(fake_cli: FakeCli) -> None:
    result = fake_cli.run("bootstrap_state.py", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert fake_cli.writes() == []
    assert fake_cli.state()["groups"] == {}
    would = [line for line in result.stderr.splitlines() if line.startswith("[dry-run, would run] az ")]
    assert any(" group create " in line for line in would)
    assert any(" storage account create " in line and "--allow-shared-key-access false" in line for line in would)
    assert any(" storage container-rm create " in line for line in would)


def test_state_repairs_a_drifted_account_without_recreating_it(fake_cli: FakeCli) -> None:
    assert fake_cli.run("bootstrap_state.py").returncode == 0
    fake_cli.update(lambda s: s["storage"][state_account()].update(allowSharedKeyAccess=True))
    fake_cli.reset_log()
    assert fake_cli.run("bootstrap_state.py").returncode == 0
    writes = fake_cli.writes()
    assert len(writes) == 1
    assert writes[0][:3] == ["storage", "account", "update"]
    assert "--allow-shared-key-access" in writes[0]
    assert fake_cli.state()["storage"][state_account()]["allowSharedKeyAccess"] is False


def test_state_reports_a_globally_taken_name(fake_cli: FakeCli) -> None:
    fake_cli.update(lambda s: s["taken_storage_names"].append(state_account()))
    result = fake_cli.run("bootstrap_state.py")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: storage account name")
    assert "--suffix" in result.stderr
    assert not any(w[:3] == ["storage", "account", "create"] for w in fake_cli.writes())


# ------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("script", ["bootstrap_state.py", "bootstrap_oidc.py", "gateway_secrets.py"])
def test_clear_error_when_az_is_missing(fake_cli: FakeCli, script: str, tmp_path: Any) -> None:
    args = {
        "bootstrap_state.py": [],
        "bootstrap_oidc.py": [*ORG_REPO, "--env", "dev"],
        "gateway_secrets.py": ["list", "--env", "dev"],
    }[script]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = fake_cli.run(script, *args, path=str(empty))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 'az' (the Azure CLI) is not on PATH")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("script", ["bootstrap_state.py", "bootstrap_oidc.py", "gateway_secrets.py"])
def test_clear_error_when_not_logged_in(fake_cli: FakeCli, script: str) -> None:
    fake_cli.update(lambda s: s.update(logged_in=False))
    args = {
        "bootstrap_state.py": ["--dry-run"],
        "bootstrap_oidc.py": [*ORG_REPO, "--env", "all"],
        "gateway_secrets.py": ["init", "--env", "dev"],
    }[script]
    result = fake_cli.run(script, *args)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: not logged in to Azure")
    assert "az login" in result.stderr
    assert [c["argv"][:2] for c in fake_cli.calls()] == [["account", "show"]]


# ------------------------------------------------------------------------------------------------- OIDC


def with_state_backend(fake_cli: FakeCli) -> None:
    assert fake_cli.run("bootstrap_state.py").returncode == 0
    fake_cli.reset_log()


def add_vaults_and_dev_registry(state: dict[str, Any]) -> None:
    for env in ("dev", "uat", "prod"):
        group = f"pvc-{env}-aigateway-rg-san"
        state["groups"][group] = {"id": f"/subscriptions/{SUB}/resourceGroups/{group}", "name": group}
        vault = _az.key_vault_name(env)
        state["vaults"][vault] = {
            "id": f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{vault}",
            "secrets": {},
        }
    registry = _az.registry_name("dev", "x1y2")
    state["registries"]["pvc-dev-aigateway-rg-san"] = [
        {
            "name": registry,
            "id": f"/subscriptions/{SUB}/resourceGroups/pvc-dev-aigateway-rg-san/providers/"
            f"Microsoft.ContainerRegistry/registries/{registry}",
        }
    ]


def roles_of(state: dict[str, Any], display_name: str) -> dict[str, list[dict[str, Any]]]:
    app = next(a for a in state["apps"] if a["displayName"] == display_name)
    sp = next(s for s in state["sps"] if s["appId"] == app["appId"])
    roles: dict[str, list[dict[str, Any]]] = {}
    for assignment in state["role_assignments"]:
        if assignment["principalId"] == sp["id"]:
            roles.setdefault(assignment["roleDefinitionName"], []).append(assignment)
    return roles


def test_oidc_creates_identities_and_roles_once_then_only_deferred_roles(fake_cli: FakeCli) -> None:
    with_state_backend(fake_cli)
    result = fake_cli.run("bootstrap_oidc.py", *ORG_REPO, "--env", "all", "--no-gh")
    assert result.returncode == 0, result.stderr
    state = fake_cli.state()

    names = sorted(a["displayName"] for a in state["apps"])
    assert names == sorted(f"pvc-{e}-aigateway-gh{p}-san" for e in ("dev", "uat", "prod") for p in ("deploy", "plan"))
    assert all(HYPHEN_NAME.fullmatch(n) for n in names)
    assert len(state["sps"]) == 6

    by_name = {a["displayName"]: a["appId"] for a in state["apps"]}
    for env in ("dev", "uat", "prod"):
        deploy = [c["subject"] for c in state["fics"][by_name[f"pvc-{env}-aigateway-ghdeploy-san"]]]
        assert deploy == [f"repo:contoso/ai-gateway:environment:{env}"]
        plan = sorted(c["subject"] for c in state["fics"][by_name[f"pvc-{env}-aigateway-ghplan-san"]])
        assert plan == ["repo:contoso/ai-gateway:pull_request", "repo:contoso/ai-gateway:ref:refs/heads/main"]
        for cred in state["fics"][by_name[f"pvc-{env}-aigateway-ghdeploy-san"]]:
            assert cred["issuer"] == "https://token.actions.githubusercontent.com"
            assert cred["audiences"] == ["api://AzureADTokenExchange"]

        container = (
            f"/subscriptions/{SUB}/resourceGroups/pvc-shared-aigateway-rg-san/providers/"
            f"Microsoft.Storage/storageAccounts/{state_account()}/blobServices/default/containers/tfstate"
        )
        deploy_roles = roles_of(state, f"pvc-{env}-aigateway-ghdeploy-san")
        assert set(deploy_roles) == {
            "Contributor",
            "Role Based Access Control Administrator",
            "Storage Blob Data Contributor",
        }
        assert deploy_roles["Storage Blob Data Contributor"][0]["scope"] == container
        condition = deploy_roles["Role Based Access Control Administrator"][0]["condition"]
        assert "4633458b-17de-408a-b874-0445c86b69e6" in condition  # Key Vault Secrets User
        assert "7f951dff-4eb1-4d6a-a49e-e88a8ea7e15d" in condition  # AcrPull
        assert "ServicePrincipal" in condition
        assert "roleAssignments/delete" in condition
        assert all(a["principalType"] == "ServicePrincipal" for r in deploy_roles.values() for a in r)

        plan_roles = roles_of(state, f"pvc-{env}-aigateway-ghplan-san")
        assert set(plan_roles) == {
            "Reader",
            "Storage Blob Data Reader",
            "PVC AI Gateway Terraform plan (Container App listSecrets)",
        }
        assert plan_roles["Storage Blob Data Reader"][0]["scope"] == container
    assert len(state["role_definitions"]) == 1
    assert state["role_definitions"][0]["permissions"][0]["actions"] == [
        "Microsoft.App/containerApps/listSecrets/action"
    ]

    assert result.stderr.count("deferred: Key Vault Secrets Officer") == 3
    printed = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert printed["AZURE_TENANT_ID"] == TENANT
    assert printed["AZURE_SUBSCRIPTION_ID"] == SUB
    assert printed["TFSTATE_STORAGE_ACCOUNT"] == state_account()
    assert printed["AZURE_PLAN_CLIENT_ID_PROD"] == by_name["pvc-prod-aigateway-ghplan-san"]

    # A second run changes nothing.
    fake_cli.reset_log()
    second = fake_cli.run("bootstrap_oidc.py", *ORG_REPO, "--env", "all", "--no-gh")
    assert second.returncode == 0, second.stderr
    assert fake_cli.writes() == []
    assert "made 0 Azure change(s)" in second.stderr

    # After the first terraform apply the vaults and the dev registry exist: only their roles are added.
    fake_cli.update(add_vaults_and_dev_registry)
    fake_cli.reset_log()
    third = fake_cli.run("bootstrap_oidc.py", *ORG_REPO, "--env", "all", "--no-gh")
    assert third.returncode == 0, third.stderr
    writes = fake_cli.writes()
    assert all(w[:3] == ["role", "assignment", "create"] for w in writes)
    assert sorted(w[w.index("--role") + 1] for w in writes) == [
        "AcrPull",
        "AcrPull",
        "AcrPush",
        "Key Vault Secrets Officer",
        "Key Vault Secrets Officer",
        "Key Vault Secrets Officer",
    ]
    state = fake_cli.state()
    dev_kv = roles_of(state, "pvc-dev-aigateway-ghdeploy-san")["Key Vault Secrets Officer"][0]["scope"]
    assert dev_kv.endswith("/vaults/pvc-dev-aigateway-kv-san")
    prod_kv = roles_of(state, "pvc-prod-aigateway-ghdeploy-san")["Key Vault Secrets Officer"][0]["scope"]
    assert prod_kv.endswith("/vaults/pvc-prod-aigw-kv-san")
    assert "deferred" not in third.stderr


def test_oidc_dry_run_writes_nothing(fake_cli: FakeCli) -> None:
    with_state_backend(fake_cli)
    result = fake_cli.run("bootstrap_oidc.py", *ORG_REPO, "--env", "dev", "--dry-run", "--no-gh")
    assert result.returncode == 0, result.stderr
    assert fake_cli.writes() == []
    assert fake_cli.state()["apps"] == []
    would = [line for line in result.stderr.splitlines() if line.startswith("[dry-run, would run]")]
    assert sum(" ad app create " in line for line in would) == 2
    assert sum(" role assignment create " in line for line in would) == 6


def test_oidc_sets_github_variables_with_gh_once(fake_cli: FakeCli) -> None:
    with_state_backend(fake_cli)
    fake_cli.install_gh()
    first = fake_cli.run("bootstrap_oidc.py", *ORG_REPO, "--env", "dev")
    assert first.returncode == 0, first.stderr
    state = fake_cli.state()
    assert state["gh_envs"] == ["dev"]
    assert set(state["gh_vars"]["dev"]) == {
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_SUBSCRIPTION_ID",
        "TFSTATE_STORAGE_ACCOUNT",
    }
    assert state["gh_vars"]["<repo>"]["AZURE_PLAN_CLIENT_ID_DEV"] != state["gh_vars"]["dev"]["AZURE_CLIENT_ID"]
    fake_cli.reset_log()
    second = fake_cli.run("bootstrap_oidc.py", *ORG_REPO, "--env", "dev")
    assert second.returncode == 0, second.stderr
    assert fake_cli.writes() == []


def test_oidc_without_state_backend_points_to_bootstrap_state(fake_cli: FakeCli) -> None:
    result = fake_cli.run("bootstrap_oidc.py", *ORG_REPO, "--env", "dev", "--no-gh")
    assert result.returncode == 1
    assert "run scripts/bootstrap_state.py first" in result.stderr.strip().splitlines()[-1]


# ------------------------------------------------------------------------------------------------- secrets

OPENAI_KEY = "azure-key-0123456789abcdef0123456789abcdef"


def with_vault(fake_cli: FakeCli) -> None:
    fake_cli.update(add_vaults_and_dev_registry)


def all_output_and_argv(fake_cli: FakeCli, *results: Any) -> str:
    argv = "\n".join(" ".join(c["argv"]) for c in fake_cli.calls())
    return argv + "\n".join(r.stdout + r.stderr for r in results)


def test_secrets_init_creates_missing_secrets_without_exposing_values(fake_cli: FakeCli) -> None:
    with_vault(fake_cli)
    result = fake_cli.run(
        "gateway_secrets.py", "init", "--env", "prod", "--project", "roo-team", stdin=OPENAI_KEY + "\n"
    )
    assert result.returncode == 0, result.stderr
    vault = fake_cli.state()["vaults"]["pvc-prod-aigw-kv-san"]["secrets"]
    assert set(vault) == {"azure-openai-api-key", "gateway-key-smoke", "gateway-key-roo-team"}
    assert "gateway-salt-key" not in vault  # LiteLLM no longer mints response ids: no salt to share
    assert vault["azure-openai-api-key"]["sha256"] == hashlib.sha256(OPENAI_KEY.encode()).hexdigest()
    seen = all_output_and_argv(fake_cli, result)
    assert OPENAI_KEY not in seen
    assert "sk-smoke-" not in seen
    assert "sk-roo-team-" not in seen
    assert "az keyvault secret show --vault-name pvc-prod-aigw-kv-san --name gateway-key-smoke" in result.stderr
    assert all("--value" not in c["argv"] for c in fake_cli.calls())
    assert all(c["argv"][-2:] == ["--output", "none"] for c in fake_cli.calls() if c["write"])

    fake_cli.reset_log()
    again = fake_cli.run("gateway_secrets.py", "init", "--env", "prod", "--project", "roo-team")
    assert again.returncode == 0, again.stderr
    assert fake_cli.writes() == []


def test_secrets_rotate_writes_a_new_version_and_show_prints_it_once(fake_cli: FakeCli) -> None:
    with_vault(fake_cli)
    assert fake_cli.run("gateway_secrets.py", "init", "--env", "dev", "--skip-openai-key").returncode == 0
    before = fake_cli.state()["vaults"]["pvc-dev-aigateway-kv-san"]["secrets"]["gateway-key-smoke"]
    rotated = fake_cli.run("gateway_secrets.py", "rotate", "--env", "dev", "smoke", "--show")
    assert rotated.returncode == 0, rotated.stderr
    after = fake_cli.state()["vaults"]["pvc-dev-aigateway-kv-san"]["secrets"]["gateway-key-smoke"]
    assert after["versions"] == before["versions"] + 1
    printed = re.search(r"sk-smoke-[A-Za-z0-9_-]{40,}", rotated.stdout)
    assert printed is not None
    assert hashlib.sha256(printed.group(0).encode()).hexdigest() == after["sha256"]
    assert printed.group(0) not in " ".join(" ".join(c["argv"]) for c in fake_cli.calls())


def test_secrets_rejects_unknown_project_and_bad_names(fake_cli: FakeCli) -> None:
    with_vault(fake_cli)
    missing = fake_cli.run("gateway_secrets.py", "rotate", "--env", "dev", "nobody")
    assert missing.returncode == 1
    assert "use add-project" in missing.stderr
    bad = fake_cli.run("gateway_secrets.py", "add-project", "--env", "dev", "Bad_Name")
    assert bad.returncode == 1
    assert "project name" in bad.stderr
    assert fake_cli.writes() == []


def test_secrets_dry_run_writes_nothing_and_reads_no_key(fake_cli: FakeCli) -> None:
    with_vault(fake_cli)
    result = fake_cli.run("gateway_secrets.py", "init", "--env", "uat", "--dry-run", stdin=OPENAI_KEY)
    assert result.returncode == 0, result.stderr
    assert fake_cli.writes() == []
    assert fake_cli.state()["vaults"]["pvc-uat-aigateway-kv-san"]["secrets"] == {}
    # the Azure OpenAI key and the smoke project key; no salt key any more
    assert result.stderr.count("[dry-run, would run] az keyvault secret set") == 2
    assert "gateway-salt-key" not in result.stderr
    assert OPENAI_KEY not in result.stdout + result.stderr

"""Bootstrap scripts against the fake `az`: naming rules, the shared layer, common errors, the secrets script.

The per-environment layer (isolation between environments, OIDC subjects, GitHub) is in
test_bootstrap_env.py; the fake az commands the deploy script uses are in test_fake_az.py.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.delivery import fake_az
from tests.delivery.conftest import SCRIPTS, FakeCli
from tests.delivery.fake_az import SUB

sys.path.insert(0, str(SCRIPTS))
import _az
import gateway_secrets

HYPHEN_NAME = re.compile(r"pvc-(dev|uat|prod|shared)-(aigateway|aigw)-[a-z0-9-]+-san")
ORG_REPO = ["--org", "contoso", "--repo", "ai-gateway"]
OPERATORS = "11111111-2222-3333-4444-555555555555"
KEY_VAULT_NAME = re.compile(r"[a-z][a-z0-9-]{1,22}[a-z0-9]")


# ------------------------------------------------------------------------------------------------- naming


@pytest.mark.parametrize("env", ["dev", "uat", "prod"])
def test_key_vault_names_are_valid_unique_per_subscription_and_environment(env: str) -> None:
    suffix = _az.vault_suffix(SUB, env)
    name = _az.key_vault_name(env, suffix)
    assert name == f"pvc-{env}-aigw-kv-{suffix}"
    assert re.fullmatch(r"[0-9a-f]{4}", suffix)
    assert suffix == hashlib.sha256(f"{SUB}/{env}".encode()).hexdigest()[:4]
    assert 3 <= len(name) <= 24
    assert KEY_VAULT_NAME.fullmatch(name)
    assert "--" not in name
    other_sub = SUB[:-1] + "2"
    assert _az.key_vault_name(env, _az.vault_suffix(other_sub, env)) != name


def test_key_vault_names_differ_between_environments() -> None:
    names = {_az.key_vault_name(env, _az.vault_suffix(SUB, env)) for env in _az.ENVIRONMENTS}
    assert len(names) == 3


@pytest.mark.parametrize(("suffix", "ok"), [("x1y2", True), ("abcdefg", True), ("abcdefgh", False), ("AB", False)])
def test_key_vault_name_rejects_bad_or_long_suffixes(suffix: str, ok: bool) -> None:
    if ok:
        name = _az.key_vault_name("prod", suffix)
        assert len(name) <= 24
        assert KEY_VAULT_NAME.fullmatch(name)
    else:
        with pytest.raises(_az.BootstrapError):
            _az.key_vault_name("prod", suffix)


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


def test_shared_names_and_state_containers() -> None:
    assert _az.shared_registry_name(SUB) == f"pvcsharedaigatewaycrsan{_az.unique_suffix(SUB)}"
    assert _az.shared_registry_name(SUB, "abc") == "pvcsharedaigatewaycrsanabc"
    assert _az.state_storage_account_name(SUB) == f"pvcsharedaigwstsan{_az.unique_suffix(SUB)}"
    assert [_az.state_container_name(e) for e in _az.ENVIRONMENTS] == ["tfstate-dev", "tfstate-uat", "tfstate-prod"]
    assert _az.identity_name("prod") == "pvc-prod-aigateway-id-san"
    with pytest.raises(_az.BootstrapError):
        _az.state_container_name("qa")


def test_suffix_is_deterministic_per_subscription() -> None:
    assert _az.unique_suffix(SUB) == _az.unique_suffix(SUB)
    assert _az.unique_suffix(SUB) != _az.unique_suffix(SUB[:-1] + "2")


# ------------------------------------------------------------------------------------------------- shared


def state_account() -> str:
    return _az.state_storage_account_name(SUB)


def registry() -> str:
    return _az.shared_registry_name(SUB)


def test_shared_first_run_creates_everything_second_run_nothing(fake_cli: FakeCli) -> None:
    first = fake_cli.run("bootstrap_shared.py", "--no-gh")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"TFSTATE_STORAGE_ACCOUNT={state_account()}",
        f"REGISTRY_LOGIN_SERVER={registry()}.azurecr.io",
    ]
    created = [" ".join(w[:4]) for w in fake_cli.writes()]
    for command in (
        "group create",
        "lock create",
        "storage account create",
        "storage account blob-service-properties update",
        "storage container-rm create",
        "acr create",
        "provider register",
    ):
        assert any(c.startswith(command) for c in created), command
    # The shared layer's audit: who pushed or pulled images, who read or wrote state.
    audit = fake_cli.state()["diagnostic_settings"]
    [registry_id] = [r["id"] for r in fake_cli.state()["registries"]["pvc-shared-aigateway-rg-san"]]
    account_id = fake_cli.state()["storage"][state_account()]["id"]
    categories = {target: {log["category"] for s in found for log in s["logs"]} for target, found in audit.items()}
    assert categories == {
        registry_id: {"ContainerRegistryRepositoryEvents", "ContainerRegistryLoginEvents"},
        f"{account_id}/blobServices/default": {"StorageRead", "StorageWrite", "StorageDelete"},
    }
    [workspace] = fake_cli.state()["workspaces"].values()
    assert workspace["name"] == "pvc-shared-aigateway-log-san" and workspace["retentionInDays"] == 90
    assert all(s["workspaceId"] == workspace["id"] for found in audit.values() for s in found)
    # The pipeline's identities are scoped to one resource group and cannot register providers.
    assert {"Microsoft.App", "Microsoft.Cache", "Microsoft.KeyVault", "Microsoft.OperationalInsights"} <= set(
        fake_cli.state()["providers"]
    )

    state = fake_cli.state()
    assert list(state["groups"]) == ["pvc-shared-aigateway-rg-san"]
    assert HYPHEN_NAME.fullmatch("pvc-shared-aigateway-rg-san")
    assert [lock["level"] for lock in state["locks"]["pvc-shared-aigateway-rg-san"]] == ["CanNotDelete"]
    account = state["storage"][state_account()]
    assert re.fullmatch(r"[a-z0-9]{3,24}", account["name"])
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    assert account["enableHttpsTrafficOnly"] is True
    props = state["blob_props"][state_account()]
    assert props["isVersioningEnabled"] is True
    assert props["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert state["containers"][state_account()] == ["tfstate-dev", "tfstate-uat", "tfstate-prod"]
    [acr] = state["registries"]["pvc-shared-aigateway-rg-san"]
    assert acr["name"] == registry()
    assert acr["loginServer"] == f"{registry()}.azurecr.io"
    assert acr["adminUserEnabled"] is False
    assert acr["sku"] == "Basic"
    assert acr["images"] == []

    fake_cli.reset_log()
    second = fake_cli.run("bootstrap_shared.py", "--no-gh")
    assert second.returncode == 0, second.stderr
    assert fake_cli.writes() == []
    assert "made 0 Azure change(s)" in second.stderr
    assert second.stdout == first.stdout


def test_shared_dry_run_prints_writes_and_runs_none(fake_cli: FakeCli) -> None:
    fake_cli.install_gh()
    result = fake_cli.run("bootstrap_shared.py", *ORG_REPO, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert fake_cli.writes() == []
    assert fake_cli.state()["groups"] == {}
    would = [line for line in result.stderr.splitlines() if line.startswith("[dry-run, would run] ")]
    assert any(" group create " in line for line in would)
    assert any(" storage account create " in line and "--allow-shared-key-access false" in line for line in would)
    assert sum(" storage container-rm create " in line for line in would) == 3
    assert any(" acr create " in line and "--admin-enabled false" in line for line in would)
    assert sum(line.startswith("[dry-run, would run] gh variable set") for line in would) == 2


def test_shared_sets_repository_variables_with_gh_once(fake_cli: FakeCli) -> None:
    fake_cli.install_gh()
    first = fake_cli.run("bootstrap_shared.py", *ORG_REPO)
    assert first.returncode == 0, first.stderr
    assert fake_cli.state()["gh_vars"]["<repo>"] == {
        "TFSTATE_STORAGE_ACCOUNT": state_account(),
        "REGISTRY_LOGIN_SERVER": f"{registry()}.azurecr.io",
    }
    fake_cli.reset_log()
    second = fake_cli.run("bootstrap_shared.py", *ORG_REPO)
    assert second.returncode == 0, second.stderr
    assert fake_cli.writes() == []


def test_shared_needs_org_and_repo_unless_no_gh(fake_cli: FakeCli) -> None:
    result = fake_cli.run("bootstrap_shared.py")
    assert result.returncode == 2
    assert "--org and --repo" in result.stderr
    assert fake_cli.calls() == []


def test_shared_repairs_drift_without_recreating(fake_cli: FakeCli) -> None:
    assert fake_cli.run("bootstrap_shared.py", "--no-gh").returncode == 0

    def drift(state: dict[str, Any]) -> None:
        state["storage"][state_account()]["allowSharedKeyAccess"] = True
        state["registries"]["pvc-shared-aigateway-rg-san"][0]["adminUserEnabled"] = True

    fake_cli.update(drift)
    fake_cli.reset_log()
    assert fake_cli.run("bootstrap_shared.py", "--no-gh").returncode == 0
    writes = fake_cli.writes()
    assert [w[:3] for w in writes] == [["storage", "account", "update"], ["acr", "update", "--name"]]
    assert "--allow-shared-key-access" in writes[0]
    state = fake_cli.state()
    assert state["storage"][state_account()]["allowSharedKeyAccess"] is False
    assert state["registries"]["pvc-shared-aigateway-rg-san"][0]["adminUserEnabled"] is False


def test_shared_adds_a_missing_environment_container(fake_cli: FakeCli) -> None:
    assert fake_cli.run("bootstrap_shared.py", "--no-gh").returncode == 0
    fake_cli.update(lambda s: s["containers"][state_account()].remove("tfstate-uat"))
    fake_cli.reset_log()
    assert fake_cli.run("bootstrap_shared.py", "--no-gh").returncode == 0
    assert [w[:5] for w in fake_cli.writes()] == [
        ["storage", "container-rm", "create", "--storage-account", state_account()]
    ]


@pytest.mark.parametrize("taken", ["taken_storage_names", "taken_registry_names"])
def test_shared_stops_before_creating_anything_when_a_global_name_is_taken(fake_cli: FakeCli, taken: str) -> None:
    name = state_account() if taken == "taken_storage_names" else registry()
    fake_cli.update(lambda s: s.setdefault(taken, []).append(name))
    result = fake_cli.run("bootstrap_shared.py", "--no-gh")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and name in last and "--suffix" in last
    assert fake_cli.writes() == []


def test_shared_suffix_names_both_account_and_registry(fake_cli: FakeCli) -> None:
    result = fake_cli.run("bootstrap_shared.py", "--no-gh", "--suffix", "zz9")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "TFSTATE_STORAGE_ACCOUNT=pvcsharedaigwstsanzz9",
        "REGISTRY_LOGIN_SERVER=pvcsharedaigatewaycrsanzz9.azurecr.io",
    ]


# ------------------------------------------------------------------------------------------------- errors

SCRIPT_ARGS = {
    "bootstrap_shared.py": ["--no-gh"],
    "bootstrap_env.py": [*ORG_REPO, "--env", "all", "--operators-group", OPERATORS],
    "gateway_secrets.py": ["init", "--env", "dev"],
}


@pytest.mark.parametrize("script", list(SCRIPT_ARGS))
def test_clear_error_when_az_is_missing(fake_cli: FakeCli, script: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = fake_cli.run(script, *SCRIPT_ARGS[script], path=str(empty))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 'az' (the Azure CLI) is not on PATH")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("script", list(SCRIPT_ARGS))
def test_clear_error_when_not_logged_in(fake_cli: FakeCli, script: str) -> None:
    fake_cli.update(lambda s: s.update(logged_in=False))
    result = fake_cli.run(script, *SCRIPT_ARGS[script], "--dry-run")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: not logged in to Azure")
    assert "az login" in result.stderr
    assert [c["argv"][:2] for c in fake_cli.calls()] == [["account", "show"]]


# ------------------------------------------------------------------------------------------------- secrets

OPENAI_KEY = "azure-key-0123456789abcdef0123456789abcdef"


def vault_of(env: str) -> str:
    return _az.key_vault_name(env, _az.vault_suffix(SUB, env))


def add_env_vaults(state: dict[str, Any]) -> None:
    """What bootstrap_env.py leaves behind, as far as the secrets script is concerned."""
    for env in _az.ENVIRONMENTS:
        group = _az.resource_group_name(env)
        group_id = f"/subscriptions/{SUB}/resourceGroups/{group}"
        state["groups"][group] = {"id": group_id, "name": group, "location": "southafricanorth", "tags": {}}
        name = vault_of(env)
        state["vaults"][name] = {
            "id": f"{group_id}/providers/Microsoft.KeyVault/vaults/{name}",
            "name": name,
            "resourceGroup": group,
            "location": "southafricanorth",
            "properties": {
                "vaultUri": f"https://{name}.vault.azure.net/",
                "enableRbacAuthorization": True,
                "enablePurgeProtection": True if env == "prod" else None,
                "softDeleteRetentionInDays": 90 if env == "prod" else 7,
            },
            "secrets": {},
        }


@pytest.fixture
def with_vaults(fake_cli: FakeCli) -> FakeCli:
    fake_cli.update(add_env_vaults)
    return fake_cli


def secrets_of(fake_cli: FakeCli, env: str) -> dict[str, Any]:
    found: dict[str, Any] = fake_cli.state()["vaults"][vault_of(env)]["secrets"]
    return found


def all_output_and_argv(fake_cli: FakeCli, *results: Any) -> str:
    argv = "\n".join(" ".join(c["argv"]) for c in fake_cli.calls())
    return argv + "\n".join(r.stdout + r.stderr for r in results)


def test_secrets_init_entra_writes_no_openai_key_and_never_reads_stdin(with_vaults: FakeCli) -> None:
    # stdin stays open and empty: reading it (for a key) would block until the timeout.
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "gateway_secrets.py"), "init", "--env", "prod", "--project", "roo-team"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=with_vaults.env(),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.wait(timeout=60)  # the output is a few lines: no pipe fills up
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("gateway_secrets.py init (entra mode) waited for stdin")
    finally:
        proc.stdin.close()
    with proc.stdout, proc.stderr:
        out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0, err
    assert set(secrets_of(with_vaults, "prod")) == {"gateway-key-smoke", "gateway-key-roo-team"}
    assert "azure-openai-api-key" not in out + err
    seen = all_output_and_argv(with_vaults) + out + err
    assert "sk-smoke-" not in seen
    assert "sk-roo-team-" not in seen
    assert f"az keyvault secret show --vault-name {vault_of('prod')} --name gateway-key-smoke" in err
    assert all(c["argv"][-2:] == ["--output", "none"] for c in with_vaults.calls() if c["write"])
    assert all(c["stdin_bytes"] > 0 for c in with_vaults.calls() if c["write"])


def test_secrets_init_key_mode_reads_the_key_from_stdin_without_exposing_values(with_vaults: FakeCli) -> None:
    args = ["init", "--env", "prod", "--openai-auth", "key", "--project", "roo-team"]
    result = with_vaults.run("gateway_secrets.py", *args, stdin=OPENAI_KEY + "\n")
    assert result.returncode == 0, result.stderr
    vault = secrets_of(with_vaults, "prod")
    assert set(vault) == {"azure-openai-api-key", "gateway-key-smoke", "gateway-key-roo-team"}
    assert "gateway-salt-key" not in vault  # LiteLLM no longer mints response ids: no salt to share
    assert vault["azure-openai-api-key"]["sha256"] == hashlib.sha256(OPENAI_KEY.encode()).hexdigest()
    seen = all_output_and_argv(with_vaults, result)
    assert OPENAI_KEY not in seen
    assert "sk-smoke-" not in seen
    assert "sk-roo-team-" not in seen
    assert all("--value" not in c["argv"] for c in with_vaults.calls())
    assert all(c["argv"][-2:] == ["--output", "none"] for c in with_vaults.calls() if c["write"])
    openai_write = next(c for c in with_vaults.calls() if c["write"] and "azure-openai-api-key" in c["argv"])
    assert openai_write["argv"][openai_write["argv"].index("--file") + 1] == "/dev/stdin"
    assert openai_write["stdin_bytes"] == len(OPENAI_KEY)

    with_vaults.reset_log()
    again = with_vaults.run("gateway_secrets.py", *args)
    assert again.returncode == 0, again.stderr
    assert with_vaults.writes() == []


def test_secrets_key_mode_skip_openai_key(with_vaults: FakeCli) -> None:
    result = with_vaults.run("gateway_secrets.py", "init", "--env", "dev", "--openai-auth", "key", "--skip-openai-key")
    assert result.returncode == 0, result.stderr
    assert set(secrets_of(with_vaults, "dev")) == {"gateway-key-smoke"}
    assert "set it later with set-openai-key" in result.stderr


def test_secrets_403_says_the_role_may_still_be_propagating(with_vaults: FakeCli) -> None:
    with_vaults.update(lambda s: s.setdefault("kv_forbidden", []).append(vault_of("dev")))
    result = with_vaults.run("gateway_secrets.py", "init", "--env", "dev")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: Key Vault {vault_of('dev')} answered 403 Forbidden")
    assert gateway_secrets.PROPAGATING in last
    assert gateway_secrets.PROPAGATING == (
        "your Key Vault Secrets Officer role may still be propagating (up to ~10 minutes); retry"
    )
    assert "Traceback" not in result.stderr


def test_secrets_finds_the_vault_by_listing_the_group_or_says_to_bootstrap(fake_cli: FakeCli) -> None:
    no_group = fake_cli.run("gateway_secrets.py", "list", "--env", "dev")
    assert no_group.returncode == 1
    assert "run scripts/bootstrap_env.py first" in no_group.stderr.strip().splitlines()[-1]

    def group_only(state: dict[str, Any]) -> None:
        add_env_vaults(state)
        state["vaults"] = {}

    fake_cli.update(group_only)
    no_vault = fake_cli.run("gateway_secrets.py", "list", "--env", "dev")
    assert no_vault.returncode == 1
    last = no_vault.stderr.strip().splitlines()[-1]
    assert last == "error: no Key Vault in pvc-dev-aigateway-rg-san: run scripts/bootstrap_env.py first"

    fake_cli.update(add_env_vaults)
    found = fake_cli.run("gateway_secrets.py", "init", "--env", "uat")
    assert found.returncode == 0, found.stderr
    assert set(secrets_of(fake_cli, "uat")) == {"gateway-key-smoke"}
    assert secrets_of(fake_cli, "dev") == {}


def test_secrets_vault_option_skips_the_listing(with_vaults: FakeCli) -> None:
    result = with_vaults.run("gateway_secrets.py", "list", "--env", "dev", "--vault", vault_of("dev"))
    assert result.returncode == 0, result.stderr
    assert not any(c["argv"][:2] == ["keyvault", "list"] for c in with_vaults.calls())


def test_secrets_rotate_writes_a_new_version_and_show_prints_it_once(with_vaults: FakeCli) -> None:
    assert with_vaults.run("gateway_secrets.py", "init", "--env", "dev").returncode == 0
    before = secrets_of(with_vaults, "dev")["gateway-key-smoke"]
    rotated = with_vaults.run("gateway_secrets.py", "rotate", "--env", "dev", "smoke", "--show")
    assert rotated.returncode == 0, rotated.stderr
    after = secrets_of(with_vaults, "dev")["gateway-key-smoke"]
    assert after["versions"] == before["versions"] + 1
    printed = re.search(r"sk-smoke-[A-Za-z0-9_-]{40,}", rotated.stdout)
    assert printed is not None
    assert hashlib.sha256(printed.group(0).encode()).hexdigest() == after["sha256"]
    assert printed.group(0) not in " ".join(" ".join(c["argv"]) for c in with_vaults.calls())


def test_secrets_rejects_unknown_project_and_bad_names(with_vaults: FakeCli) -> None:
    missing = with_vaults.run("gateway_secrets.py", "rotate", "--env", "dev", "nobody")
    assert missing.returncode == 1
    assert "use add-project" in missing.stderr
    bad = with_vaults.run("gateway_secrets.py", "add-project", "--env", "dev", "Bad_Name")
    assert bad.returncode == 1
    assert "project name" in bad.stderr
    assert with_vaults.writes() == []


@pytest.mark.parametrize(("mode", "expected"), [("entra", 1), ("key", 2)])
def test_secrets_dry_run_writes_nothing_and_reads_no_key(with_vaults: FakeCli, mode: str, expected: int) -> None:
    args = ["init", "--env", "uat", "--dry-run", "--openai-auth", mode]
    result = with_vaults.run("gateway_secrets.py", *args, stdin=OPENAI_KEY)
    assert result.returncode == 0, result.stderr
    assert with_vaults.writes() == []
    assert secrets_of(with_vaults, "uat") == {}
    # the smoke project key, plus the Azure OpenAI key in key mode only
    assert result.stderr.count("[dry-run, would run] az keyvault secret set") == expected
    assert ("azure-openai-api-key" in result.stderr) is (mode == "key")
    assert OPENAI_KEY not in result.stdout + result.stderr


def test_fake_az_fixture_uses_the_shared_state_module(fake_cli: FakeCli) -> None:
    assert fake_az.ENV_VAR == "FAKE_AZURE_STATE"
    assert fake_cli.env()[fake_az.ENV_VAR] == str(fake_cli.state_path)
    installed = (fake_cli.bin_dir / "az").read_text()
    assert f"REPO_ROOT: str | None = {str(SCRIPTS.parent)!r}" in installed
    assert set(fake_az.fake_azure.empty_state()) <= set(fake_cli.state())

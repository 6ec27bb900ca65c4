#!/usr/bin/env python3
"""Per-environment layer: resource group, app identity, Key Vault, role assignments, GitHub OIDC. Run once
per environment by an Owner of the subscription, after scripts/bootstrap_shared.py.

    python3 scripts/bootstrap_env.py --org ORG --repo REPO --env dev|uat|prod|all
        --operators-group <Entra group object id> [--openai-resource-id <Azure OpenAI account id>]
        [--vault-suffix xxxx] [--subscription ID] [--dry-run] [--no-gh]

Per environment (each object only when missing; a second run changes nothing):
  1. resource group `pvc-{env}-aigateway-rg-san` (southafricanorth). prod only: a CanNotDelete lock on it,
     so no pipeline identity (Contributor cannot remove locks) can delete prod or anything in it.
  2. the app's user-assigned identity `pvc-{env}-aigateway-id-san` in that group.
  3. the Key Vault `pvc-{env}-aigw-kv-<suffix>`: RBAC mode, public network access on, soft-delete
     retention 7 days (dev/uat) or 90 days with purge protection (prod). Names are global and a
     deleted vault keeps its name while soft-deleted, so <suffix> is 4 hex of sha256("<subscription>/<env>")
     or --vault-suffix (lowercase letters and digits; the way off a name a deleted vault still holds).
     Later runs (and Terraform) find the vault by listing the group, so the name is never recomputed.
  4. app identity roles: Key Vault Secrets User on the vault, AcrPull on the shared registry, and with
     --openai-resource-id Cognitive Services OpenAI User on that account (keyless `entra` mode; without
     the flag this is reported as deferred).
  5. the operators group (--operators-group): Key Vault Secrets Officer on the vault, so an operator can
     run scripts/gateway_secrets.py, and Reader on the group (finding the vault, looking at the app).
     Key Vault RBAC can take ~10 minutes to apply.
  6. two GitHub OIDC identities (Entra app registration + service principal, no client secret):
       deploy `pvc-{env}-aigateway-ghdeploy-san`, subject `repo:ORG/REPO:environment:{env}` only.
              Contributor on the environment's resource group (never the subscription), Storage Blob
              Data Contributor on its own state container `tfstate-{env}`, Key Vault Secrets User on its
              vault (the smoke key, secret names), and on the shared registry AcrPush (dev: it builds and
              pushes) or AcrPull (uat/prod: checks the promoted digest exists), plus Reader on the registry
              (az acr looks the registry up through ARM before any data-plane call).
       plan   `pvc-{env}-aigateway-ghplan-san`, subjects `environment:{env}-plan` (pre-approval plans,
              drift check; that environment only admits `main`) and, for dev and uat only,
              `pull_request` (prod is never planned from a pull request: its state holds prod data).
              Reader on the environment's resource group, Storage Blob Data Reader on its own state
              container. Nothing else: no custom role, no listSecrets, no subscription scope.
     Every role is scoped to one environment's group, vault or container, or to the shared registry,
     or the given Azure OpenAI account. Role assignments these identities hold beyond that (e.g. from
     the old subscription-wide design) and federated subjects not listed here are reported as `stale`
     with the command that removes them; the script never deletes anything itself.
  7. GitHub (gh, unless --no-gh): environments `{env}` and `{env}-plan`; `{env}-plan`, `uat` and `prod`
     only admit the `main` branch. Variables:
       environment {env}:      AZURE_CLIENT_ID (deploy), AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID,
                               TFSTATE_STORAGE_ACCOUNT
       environment {env}-plan: the same, AZURE_CLIENT_ID being the plan identity
       repository:             AZURE_TENANT_ID; for dev and uat AZURE_PLAN_CLIENT_ID_{ENV} and
                               AZURE_SUBSCRIPTION_ID_{ENV} (pull-request plans run without an environment)
     Required reviewers on uat and prod stay a manual step (printed at the end).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from _az import (
    ENVIRONMENTS,
    EXIT_OK,
    GITHUB_OIDC_AUDIENCE,
    GITHUB_OIDC_ISSUER,
    LOCATION,
    Az,
    BootstrapError,
    GitHub,
    app_registration_name,
    identity_name,
    key_vault_name,
    main_guard,
    resource_group_name,
    shared_resource_group_name,
    state_container_name,
    validate_env,
    vault_suffix,
)

KV_SECRETS_USER = "Key Vault Secrets User"
KV_SECRETS_OFFICER = "Key Vault Secrets Officer"
ACR_PULL = "AcrPull"
ACR_PUSH = "AcrPush"
OPENAI_USER = "Cognitive Services OpenAI User"
CONTRIBUTOR = "Contributor"
READER = "Reader"
BLOB_CONTRIBUTOR = "Storage Blob Data Contributor"
BLOB_READER = "Storage Blob Data Reader"

SERVICE_PRINCIPAL = "ServicePrincipal"
GROUP = "Group"
PROD_LOCK = "protect-prod-aigateway"
RETENTION_DAYS = {"dev": 7, "uat": 7, "prod": 90}
PULL_REQUEST_PLANS = ("dev", "uat")  # prod is never planned from a pull request
MAIN_ONLY = ("uat", "prod")  # plus every {env}-plan environment

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
OPENAI_ID = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices/accounts/[^/]+", re.IGNORECASE
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--org", required=True, help="GitHub organisation or user that owns the repository")
    parser.add_argument("--repo", required=True, help="GitHub repository name (without the org)")
    parser.add_argument("--env", required=True, choices=[*ENVIRONMENTS, "all"])
    parser.add_argument(
        "--operators-group",
        required=True,
        help="object id of the Entra group whose members manage the secrets (Key Vault Secrets Officer)",
    )
    parser.add_argument(
        "--openai-resource-id",
        help="resource id of the Azure OpenAI account: the app identity gets Cognitive Services OpenAI User on it",
    )
    parser.add_argument(
        "--vault-suffix",
        help="Key Vault name suffix for a vault still to be created (lowercase letters and digits; "
        "default: 4 hex of sha256('<subscription>/<env>'))",
    )
    parser.add_argument("--subscription", help="subscription id (default: the az CLI's current one)")
    parser.add_argument("--dry-run", action="store_true", help="print every command; run only read-only ones")
    parser.add_argument("--no-gh", action="store_true", help="only print the GitHub variables, never call gh")
    args = parser.parse_args(argv)
    for part in (args.org, args.repo):
        if not part or any(c in part for c in "/: "):
            parser.error(f"--org/--repo must be plain names, got {part!r}")
    if not GUID.fullmatch(args.operators_group):
        parser.error(f"--operators-group must be the group's object id (a GUID), got {args.operators_group!r}")
    if args.openai_resource_id and not OPENAI_ID.fullmatch(args.openai_resource_id):
        parser.error(
            "--openai-resource-id must look like /subscriptions/<id>/resourceGroups/<group>/providers/"
            f"Microsoft.CognitiveServices/accounts/<name>, got {args.openai_resource_id!r}"
        )
    if args.vault_suffix is not None and not re.fullmatch(r"[a-z0-9]{1,8}", args.vault_suffix):
        parser.error(f"--vault-suffix must be 1-8 lowercase letters or digits, got {args.vault_suffix!r}")
    return args


def placeholder(value: str) -> bool:
    """Under --dry-run an object that would be created has no id yet: it is shown as `<...>`."""
    return value.startswith("<")


@dataclass
class Principal:
    """Someone who gets roles: a service principal (app identity, GitHub identity) or the operators group."""

    name: str
    object_id: str
    principal_type: str
    client_id: str = ""
    new: bool = False  # created by this run: nothing is assigned to it yet, nothing to list
    managed: bool = True  # its roles are all ours: report any other role as stale


@dataclass
class SharedLayer:
    account: str
    account_id: str
    registry: str
    registry_id: str


@dataclass
class EnvResult:
    env: str
    group: str
    vault: str
    app: Principal
    deploy: Principal
    plan: Principal
    deferred: list[str] = field(default_factory=list)


class Bootstrap:
    def __init__(
        self, az: Az, subscription: str, org: str, repo: str, openai_id: str | None, vault_suffix: str | None
    ) -> None:
        self.az = az
        self.subscription = subscription
        self.sub = ["--subscription", subscription]
        self.org = org
        self.repo = repo
        self.openai_id = openai_id
        self.vault_suffix = vault_suffix
        self._assignments: dict[str, list[dict[str, Any]]] = {}
        self._wanted: dict[str, set[tuple[str, str]]] = {}
        self.stale: list[str] = []

    # -------------------------------------------------------------------------------- prerequisites

    def shared_layer(self) -> SharedLayer:
        """The state account and registry of scripts/bootstrap_shared.py, found by listing its group."""
        az, group = self.az, shared_resource_group_name()
        missing = "run scripts/bootstrap_shared.py first"
        if az.read(["group", "show", "--name", group, *self.sub], missing_ok=True) is None:
            if not az.dry_run:
                raise BootstrapError(f"resource group {group} not found: {missing}")
            print(f"note: {group} not found: {missing} (dry run continues with placeholders)", file=sys.stderr)
            return SharedLayer("<state account>", "<id of the state account>", "<registry>", "<id of the registry>")
        accounts = az.read(["storage", "account", "list", "--resource-group", group, *self.sub]) or []
        registries = az.read(["acr", "list", "--resource-group", group, *self.sub]) or []
        if len(accounts) != 1 or len(registries) != 1:
            found = ", ".join(a["name"] for a in [*accounts, *registries]) or "nothing"
            raise BootstrapError(
                f"expected one storage account and one registry in {group}, found {found}: {missing} "
                "(or remove the extras)"
            )
        account, registry = accounts[0], registries[0]
        for env in ENVIRONMENTS:
            container = state_container_name(env)
            args = ["--storage-account", account["name"], "--resource-group", group, "--name", container]
            if az.read(["storage", "container-rm", "show", *args, *self.sub], missing_ok=True) is None:
                raise BootstrapError(f"state container {container} not found in {account['name']}: {missing}")
        return SharedLayer(account["name"], account["id"], registry["name"], registry["id"])

    def operators(self, object_id: str) -> Principal:
        group = self.az.read(["ad", "group", "show", "--group", object_id], missing_ok=True)
        if group is None:
            raise BootstrapError(f"Entra group {object_id} not found: pass the operators group's object id")
        return Principal(str(group.get("displayName") or object_id), object_id, GROUP, managed=False)

    def check_openai(self) -> None:
        if self.openai_id and self.az.read(["resource", "show", "--ids", self.openai_id], missing_ok=True) is None:
            raise BootstrapError(f"Azure OpenAI account {self.openai_id} not found (check --openai-resource-id)")

    # -------------------------------------------------------------------------------- role assignments

    def existing_roles(self, who: Principal, role: str, scope: str) -> list[dict[str, Any]]:
        """Assignments that could match: one list per principal for this subscription, scoped lists elsewhere."""
        if who.new or placeholder(who.object_id):
            return []
        if not scope.lower().startswith(f"/subscriptions/{self.subscription}/".lower()):
            args = ["role", "assignment", "list", "--assignee", who.object_id, "--role", role, "--scope", scope]
            return self.az.read([*args, *self.sub]) or []
        if who.object_id not in self._assignments:
            args = ["role", "assignment", "list", "--assignee", who.object_id, "--all", *self.sub]
            self._assignments[who.object_id] = self.az.read(args) or []
        return self._assignments[who.object_id]

    def ensure_role(self, who: Principal, role: str, scope: str) -> None:
        self._wanted.setdefault(who.object_id, set()).add((role, scope.lower()))
        if not placeholder(scope):
            for assignment in self.existing_roles(who, role, scope):
                if (
                    assignment.get("roleDefinitionName") == role
                    and str(assignment.get("scope")).lower() == scope.lower()
                ):
                    return
        self.az.write(
            [
                "role",
                "assignment",
                "create",
                "--assignee-object-id",
                who.object_id,
                "--assignee-principal-type",
                who.principal_type,
                "--role",
                role,
                "--scope",
                scope,
                "--description",
                f"aigateway bootstrap ({who.name})",
                *self.sub,
            ]
        )

    def report_stale(self, who: Principal) -> None:
        """Roles a managed principal holds in this subscription that this design does not grant."""
        wanted = self._wanted.get(who.object_id, set())
        for assignment in self._assignments.get(who.object_id, []):
            role, scope = str(assignment.get("roleDefinitionName")), str(assignment.get("scope"))
            if (role, scope.lower()) not in wanted:
                self.stale.append(
                    f"{who.name} has {role} on {scope}, which this design does not grant: "
                    f"remove it with: az role assignment delete --ids {assignment.get('id')}"
                )

    # -------------------------------------------------------------------------------- resources

    def ensure_group(self, env: str) -> bool:
        """Create the environment's group (prod: locked); True when it exists (or was created for real)."""
        az, group = self.az, resource_group_name(env)
        exists = az.read(["group", "show", "--name", group, *self.sub], missing_ok=True) is not None
        if not exists:
            tags = ["workload=aigateway", f"environment={env}", "managed-by=scripts/bootstrap_env.py"]
            az.write(["group", "create", "--name", group, "--location", LOCATION, "--tags", *tags, *self.sub])
        if env == "prod":
            locks = (az.read(["lock", "list", "--resource-group", group, *self.sub]) or []) if exists else []
            if not any(lock.get("level", lock.get("lockType")) == "CanNotDelete" for lock in locks):
                az.write(
                    [
                        "lock",
                        "create",
                        "--name",
                        PROD_LOCK,
                        "--lock-type",
                        "CanNotDelete",
                        "--resource-group",
                        group,
                        "--notes",
                        "prod: nothing in this group can be deleted until an Owner removes this lock",
                        *self.sub,
                    ]
                )
        return exists or not az.dry_run

    def ensure_app_identity(self, env: str, group_exists: bool) -> Principal:
        az, name, group = self.az, identity_name(env), resource_group_name(env)
        found = (
            az.read(["identity", "show", "--name", name, "--resource-group", group, *self.sub], missing_ok=True)
            if group_exists
            else None
        )
        new = found is None
        if found is None:
            tags = ["workload=aigateway", f"environment={env}", "managed-by=scripts/bootstrap_env.py"]
            args = ["identity", "create", "--name", name, "--resource-group", group, "--location", LOCATION]
            found = az.write([*args, "--tags", *tags, *self.sub]) or {
                "principalId": f"<principal of {name}>",
                "clientId": f"<client id of {name}>",
            }
        return Principal(name, found["principalId"], SERVICE_PRINCIPAL, client_id=found["clientId"], new=new)

    def ensure_vault(self, env: str, group_exists: bool) -> tuple[str, str]:
        """(name, id) of the environment's Key Vault: the one in its group, or a new one."""
        az, group = self.az, resource_group_name(env)
        listing = ["keyvault", "list", "--resource-group", group, "--resource-type", "vault", *self.sub]
        vaults = (az.read(listing) or []) if group_exists else []
        if len(vaults) > 1:
            names = ", ".join(v["name"] for v in vaults)
            raise BootstrapError(f"{len(vaults)} Key Vaults in {group} ({names}): expected one, remove the extras")
        if vaults:
            vault = vaults[0]
            name = vault["name"]
            if self.vault_suffix and name != key_vault_name(env, self.vault_suffix):
                print(f"note: {env} already has Key Vault {name}: --vault-suffix is ignored", file=sys.stderr)
            if "properties" not in vault:  # older CLIs list ids and names only
                vault = az.read(["keyvault", "show", "--name", name, "--resource-group", group, *self.sub])
            self.fix_vault(env, name, vault.get("properties") or {})
            return name, vault["id"]

        name = key_vault_name(env, self.vault_suffix or vault_suffix(self.subscription, env))
        deleted = az.read(["keyvault", "list-deleted", "--resource-type", "vault", *self.sub]) or []
        for gone in deleted:
            if gone.get("name") != name:
                continue
            props = gone.get("properties") or {}
            own = f"/resourceGroups/{group}/".lower() in str(props.get("vaultId", "")).lower()
            recover = (
                f"it was this environment's own vault: recover it with 'az keyvault recover --name {name}' "
                "and run this script again, or "
                if own
                else ""
            )
            raise BootstrapError(
                f"Key Vault name {name} is held by a soft-deleted vault (deleted {props.get('deletionDate', '?')}, "
                f"purged {props.get('scheduledPurgeDate', '?')}): {recover}choose another name with --vault-suffix"
            )
        check = az.read(["keyvault", "check-name", "--name", name, *self.sub]) or {}
        if check.get("nameAvailable") is False:
            raise BootstrapError(f"Key Vault name {name} is taken ({check.get('reason')}): choose --vault-suffix")
        args = [
            "keyvault",
            "create",
            "--name",
            name,
            "--resource-group",
            group,
            "--location",
            LOCATION,
            "--sku",
            "standard",
            "--enable-rbac-authorization",
            "true",
            "--public-network-access",
            "Enabled",
            "--retention-days",
            str(RETENTION_DAYS[env]),
        ]
        if env == "prod":
            args += ["--enable-purge-protection", "true"]
        tags = ["workload=aigateway", f"environment={env}", "managed-by=scripts/bootstrap_env.py"]
        created = az.write([*args, "--tags", *tags, *self.sub])
        return name, (created or {}).get("id", f"<id of Key Vault {name}>")

    def fix_vault(self, env: str, name: str, props: dict[str, Any]) -> None:
        """An existing vault must be in RBAC mode; prod's must be purge-protected (neither can be undone)."""
        fixes: list[str] = []
        if props.get("enableRbacAuthorization") is not True:
            fixes += ["--enable-rbac-authorization", "true"]
        if env == "prod" and props.get("enablePurgeProtection") is not True:
            fixes += ["--enable-purge-protection", "true"]
        if fixes:
            group = resource_group_name(env)
            self.az.write(["keyvault", "update", "--name", name, "--resource-group", group, *fixes, *self.sub])

    # -------------------------------------------------------------------------------- GitHub identities

    def ensure_github_identity(self, name: str, subjects: list[str]) -> Principal:
        az = self.az
        apps = [a for a in az.read(["ad", "app", "list", "--display-name", name]) or [] if a.get("displayName") == name]
        if len(apps) > 1:
            raise BootstrapError(f"{len(apps)} app registrations are named {name}: delete the extras first")
        new_app = not apps
        if apps:
            app_id = apps[0]["appId"]
        else:
            created = az.write(["ad", "app", "create", "--display-name", name, "--sign-in-audience", "AzureADMyOrg"])
            app_id = created["appId"] if created else f"<appId of {name}>"

        sps = [] if new_app else az.read(["ad", "sp", "list", "--filter", f"appId eq '{app_id}'"]) or []
        new_sp = not sps
        if sps:
            object_id = sps[0]["id"]
        else:
            created = az.write(["ad", "sp", "create", "--id", app_id])
            object_id = created["id"] if created else f"<service principal of {name}>"

        existing = [] if new_app else az.read(["ad", "app", "federated-credential", "list", "--id", app_id]) or []
        full = {f"repo:{self.org}/{self.repo}:{s}": s for s in subjects}
        have = {c.get("subject") for c in existing}
        for subject, short in full.items():
            if subject in have:
                continue
            params = {
                "name": "github-" + short.replace(":", "-").replace("/", "-"),
                "issuer": GITHUB_OIDC_ISSUER,
                "subject": subject,
                "audiences": [GITHUB_OIDC_AUDIENCE],
                "description": f"GitHub Actions {self.org}/{self.repo} ({short})",
            }
            az.write(
                [
                    "ad",
                    "app",
                    "federated-credential",
                    "create",
                    "--id",
                    app_id,
                    "--parameters",
                    json.dumps(params, separators=(",", ":")),
                ]
            )
        for credential in existing:
            if credential.get("subject") not in full:
                self.stale.append(
                    f"{name} trusts {credential.get('subject')}, which this design does not: remove it with: "
                    f"az ad app federated-credential delete --id {app_id} "
                    f"--federated-credential-id {credential.get('name')}"
                )
        return Principal(name, object_id, SERVICE_PRINCIPAL, client_id=app_id, new=new_sp)

    # -------------------------------------------------------------------------------- one environment

    def environment(self, env: str, shared: SharedLayer, operators: Principal) -> EnvResult:
        group = resource_group_name(env)
        group_id = f"/subscriptions/{self.subscription}/resourceGroups/{group}"
        container_id = f"{shared.account_id}/blobServices/default/containers/{state_container_name(env)}"

        group_exists = self.ensure_group(env)
        app = self.ensure_app_identity(env, group_exists)
        vault, vault_id = self.ensure_vault(env, group_exists)

        deferred: list[str] = []
        self.ensure_role(app, KV_SECRETS_USER, vault_id)
        self.ensure_role(app, ACR_PULL, shared.registry_id)
        if self.openai_id:
            self.ensure_role(app, OPENAI_USER, self.openai_id)
        else:
            deferred.append(
                f"{OPENAI_USER} for {app.name}: keyless (entra) mode needs it; "
                "run again with --openai-resource-id <Azure OpenAI account id>"
            )
        self.ensure_role(operators, KV_SECRETS_OFFICER, vault_id)
        # Secrets Officer does not include reading the vault resource: without Reader an operator could not
        # find the vault (gateway_secrets.py lists the group) nor look at the app when something is wrong.
        self.ensure_role(operators, READER, group_id)

        deploy = self.ensure_github_identity(app_registration_name(env, "deploy"), [f"environment:{env}"])
        self.ensure_role(deploy, CONTRIBUTOR, group_id)
        self.ensure_role(deploy, BLOB_CONTRIBUTOR, container_id)
        self.ensure_role(deploy, KV_SECRETS_USER, vault_id)
        self.ensure_role(deploy, ACR_PUSH if env == "dev" else ACR_PULL, shared.registry_id)
        # az acr login / repository show look the registry up through ARM first: AcrPush/AcrPull are
        # data-plane only, so without Reader on the registry itself they fail with "not found".
        self.ensure_role(deploy, READER, shared.registry_id)

        plan_subjects = [f"environment:{env}-plan"] + (["pull_request"] if env in PULL_REQUEST_PLANS else [])
        plan = self.ensure_github_identity(app_registration_name(env, "plan"), plan_subjects)
        self.ensure_role(plan, READER, group_id)
        self.ensure_role(plan, BLOB_READER, container_id)

        for who in (app, deploy, plan):
            self.report_stale(who)
        return EnvResult(env, group, vault, app, deploy, plan, deferred)


# ------------------------------------------------------------------------------------ GitHub variables


def github_variables(
    result: EnvResult, tenant: str, subscription: str, account: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(environment {env}, environment {env}-plan, repository) variables."""
    common = {"AZURE_TENANT_ID": tenant, "AZURE_SUBSCRIPTION_ID": subscription, "TFSTATE_STORAGE_ACCOUNT": account}
    env_vars = {"AZURE_CLIENT_ID": result.deploy.client_id, **common}
    plan_vars = {"AZURE_CLIENT_ID": result.plan.client_id, **common}
    repo_vars = {"AZURE_TENANT_ID": tenant}
    if result.env in PULL_REQUEST_PLANS:
        upper = result.env.upper()
        repo_vars[f"AZURE_PLAN_CLIENT_ID_{upper}"] = result.plan.client_id
        repo_vars[f"AZURE_SUBSCRIPTION_ID_{upper}"] = subscription
    return env_vars, plan_vars, repo_vars


def print_variables(title: str, values: dict[str, str]) -> None:
    print(f"# {title}")
    for key, value in values.items():
        print(f"{key}={value}")


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    envs = list(ENVIRONMENTS) if args.env == "all" else [validate_env(args.env)]
    az = Az(dry_run=args.dry_run)
    account_info = az.account()
    subscription = args.subscription or account_info["id"]
    tenant = account_info["tenantId"]

    boot = Bootstrap(az, subscription, args.org, args.repo, args.openai_resource_id, args.vault_suffix)
    shared = boot.shared_layer()
    operators = boot.operators(args.operators_group)
    boot.check_openai()

    gh = None if args.no_gh else GitHub(repo=f"{args.org}/{args.repo}", dry_run=args.dry_run)
    if gh is not None and not gh.available():
        print("note: gh is not installed: set the GitHub environments and variables below by hand", file=sys.stderr)
        gh = None

    results: list[EnvResult] = []
    repo_vars: dict[str, str] = {}
    for env in envs:
        result = boot.environment(env, shared, operators)
        results.append(result)
        env_vars, plan_vars, env_repo_vars = github_variables(result, tenant, subscription, shared.account)
        repo_vars.update(env_repo_vars)
        print_variables(f"GitHub environment '{env}' variables", env_vars)
        print_variables(f"GitHub environment '{env}-plan' variables (only main may use it)", plan_vars)
        if gh is not None:
            gh.ensure_environment(env, main_only=env in MAIN_ONLY)
            gh.ensure_environment(f"{env}-plan", main_only=True)
            gh.set_variables(env_vars, env)
            gh.set_variables(plan_vars, f"{env}-plan")
    print_variables("repository variables (pull-request plans run without an environment)", repo_vars)
    if gh is not None:
        gh.set_variables(repo_vars, None)

    for item in boot.stale:
        print(f"stale: {item}", file=sys.stderr)
    verb = "would make" if args.dry_run else "made"
    github = f" and {gh.writes} GitHub change(s)" if gh is not None else ""
    print(f"\nEnvironment bootstrap: {verb} {az.writes} Azure change(s){github}.", file=sys.stderr)

    print("\n# summary")
    for result in results:
        print(f"{result.env}:")
        print(f"  resource group:   {result.group}")
        print(f"  Key Vault:        {result.vault}")
        print(f"  app identity:     {result.app.name} (client id {result.app.client_id})")
        print(f"  deploy identity:  {result.deploy.name} (client id {result.deploy.client_id})")
        print(f"  plan identity:    {result.plan.name} (client id {result.plan.client_id})")
        for item in result.deferred:
            print(f"  deferred:         {item}")
    print(f"Operators ({operators.name}) get Key Vault Secrets Officer; Key Vault RBAC can take ~10 minutes.")
    if any(r.env in MAIN_ONLY for r in results):
        print("Manual step: add required reviewers to the uat and prod GitHub environments (Settings > Environments).")
    for result in results:
        print(f"Next: python3 scripts/gateway_secrets.py init --env {result.env} [--project <team> ...]")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return main_guard(run, argv)


if __name__ == "__main__":
    sys.exit(main())

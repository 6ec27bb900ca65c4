#!/usr/bin/env python3
"""GitHub Actions -> Azure OIDC: app registrations, federated credentials, role assignments, GitHub variables.

    python3 scripts/bootstrap_oidc.py --org ORG --repo REPO --env dev|uat|prod|all [--dry-run] [--no-gh]

Per environment, two identities (Entra app registration + service principal, no client secret):

  deploy  `pvc-{env}-aigateway-ghdeploy-san`, federated to `repo:ORG/REPO:environment:{env}` only, so only
          jobs that run in the (protected) GitHub environment get it. Roles:
            - Contributor on the subscription: Terraform creates the environment's resource group;
            - Role Based Access Control Administrator on the subscription, with a condition: it may only
              assign/delete Key Vault Secrets User, AcrPull and Cognitive Services OpenAI User, and only to
              service principals (the app's managed identity), so it cannot escalate itself;
            - Storage Blob Data Contributor on the `tfstate` container of the state account (state + lock);
            - Key Vault Secrets Officer on the environment's vault (reads the smoke key, the secrets step);
            - dev: AcrPush on the dev registry (the pipeline pushes the image there);
              uat/prod: AcrPull on the dev registry (the source of `az acr import`; importing into the
              environment's own registry is covered by Contributor).
          The vault and registries exist only after the first `terraform apply`: until then those
          assignments are reported as deferred; run this script again after the first apply.
  plan    `pvc-{env}-aigateway-ghplan-san`, federated to `repo:ORG/REPO:pull_request` and
          `repo:ORG/REPO:ref:refs/heads/main` (CI jobs without an environment). Roles: Reader and a
          one-action custom role (`Microsoft.App/containerApps/listSecrets/action`, which the azurerm
          provider calls when it refreshes a Container App) on the subscription, and Storage Blob Data Reader
          on the state container (CI plans run with -lock=false and never write state).

Prints the GitHub variables, and sets them with `gh` when it is installed (unless --no-gh):
  environment {env}: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID, TFSTATE_STORAGE_ACCOUNT
  repository:        AZURE_TENANT_ID, AZURE_PLAN_CLIENT_ID_{ENV}, AZURE_SUBSCRIPTION_ID_{ENV},
                     TFSTATE_STORAGE_ACCOUNT_{ENV}
Every create is guarded by a show/list: a second run changes nothing.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from _az import (
    ENVIRONMENTS,
    EXIT_OK,
    GITHUB_OIDC_AUDIENCE,
    GITHUB_OIDC_ISSUER,
    STATE_CONTAINER,
    Az,
    BootstrapError,
    app_registration_name,
    key_vault_name,
    main_guard,
    resource_group_name,
    state_resource_group_name,
    state_storage_account_name,
    validate_env,
)

# Built-in role definition ids (identical in every tenant) the deploy identity may hand out.
DELEGABLE_ROLES = {
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "AcrPull": "7f951dff-4eb1-4d6a-a49e-e88a8ea7e15d",
    "Cognitive Services OpenAI User": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
}
PLAN_CUSTOM_ROLE = "PVC AI Gateway Terraform plan (Container App listSecrets)"


def rbac_admin_condition(role_ids: Sequence[str]) -> str:
    """ABAC condition (version 2.0): write/delete role assignments only for these roles, only to SPs."""
    ids = ", ".join(role_ids)
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ids}}}"
        " AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:"
        "StringEqualsIgnoreCase {'ServicePrincipal'})) AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ids}}}))"
    )


@dataclass
class Identity:
    name: str
    app_id: str
    object_id: str  # of the service principal
    subjects: list[str]
    deferred: list[str] = field(default_factory=list)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--org", required=True, help="GitHub organisation or user that owns the repository")
    parser.add_argument("--repo", required=True, help="GitHub repository name (without the org)")
    parser.add_argument("--env", required=True, choices=[*ENVIRONMENTS, "all"])
    parser.add_argument("--subscription", help="subscription id (default: the az CLI's current one)")
    parser.add_argument("--state-account", help="Terraform state storage account (default: bootstrap_state's name)")
    parser.add_argument("--dry-run", action="store_true", help="print every command; run only read-only ones")
    parser.add_argument("--no-gh", action="store_true", help="only print the GitHub variables, never call gh")
    args = parser.parse_args(argv)
    for part in (args.org, args.repo):
        if not part or any(c in part for c in "/: "):
            parser.error(f"--org/--repo must be plain names, got {part!r}")
    return args


class Bootstrap:
    def __init__(self, az: Az, subscription: str, org: str, repo: str) -> None:
        self.az = az
        self.subscription = subscription
        self.sub = ["--subscription", subscription]
        self.org = org
        self.repo = repo

    # -------------------------------------------------------------------------------- identities

    def ensure_identity(self, name: str, subjects: list[str]) -> Identity:
        az = self.az
        apps = az.read(["ad", "app", "list", "--display-name", name]) or []
        apps = [a for a in apps if a.get("displayName") == name]
        if len(apps) > 1:
            raise BootstrapError(f"{len(apps)} app registrations are named {name}: delete the extras first")
        if apps:
            app_id = apps[0]["appId"]
        else:
            created = az.write(["ad", "app", "create", "--display-name", name, "--sign-in-audience", "AzureADMyOrg"])
            app_id = created["appId"] if created else f"<appId of {name}>"

        known = not app_id.startswith("<")
        sps = az.read(["ad", "sp", "list", "--filter", f"appId eq '{app_id}'"]) if known else []
        if sps:
            object_id = sps[0]["id"]
        else:
            created = az.write(["ad", "sp", "create", "--id", app_id])
            object_id = created["id"] if created else f"<service principal of {name}>"

        existing = az.read(["ad", "app", "federated-credential", "list", "--id", app_id]) if known else []
        have = {c.get("subject") for c in existing or []}
        for subject in subjects:
            full = f"repo:{self.org}/{self.repo}:{subject}"
            if full in have:
                continue
            params = {
                "name": "github-" + subject.replace(":", "-").replace("/", "-"),
                "issuer": GITHUB_OIDC_ISSUER,
                "subject": full,
                "audiences": [GITHUB_OIDC_AUDIENCE],
                "description": f"GitHub Actions {self.org}/{self.repo} ({subject})",
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
        return Identity(name, app_id, object_id, subjects)

    def ensure_role(self, who: Identity, role: str, scope: str, condition: str | None = None) -> None:
        az = self.az
        if not who.object_id.startswith("<"):
            assignments = (
                az.read(
                    [
                        "role",
                        "assignment",
                        "list",
                        "--assignee",
                        who.object_id,
                        "--role",
                        role,
                        "--scope",
                        scope,
                        *self.sub,
                    ]
                )
                or []
            )
            if any(a.get("scope", "").lower() == scope.lower() for a in assignments):
                return
        args = [
            "role",
            "assignment",
            "create",
            "--assignee-object-id",
            who.object_id,
            "--assignee-principal-type",
            "ServicePrincipal",
            "--role",
            role,
            "--scope",
            scope,
            "--description",
            f"GitHub Actions OIDC ({who.name})",
            *self.sub,
        ]
        if condition:
            args += ["--condition", condition, "--condition-version", "2.0"]
        az.write(args)

    def ensure_plan_role_definition(self) -> str:
        scope = f"/subscriptions/{self.subscription}"
        found = (
            self.az.read(
                [
                    "role",
                    "definition",
                    "list",
                    "--name",
                    PLAN_CUSTOM_ROLE,
                    "--custom-role-only",
                    "true",
                    "--scope",
                    scope,
                    *self.sub,
                ]
            )
            or []
        )
        if not found:
            definition = {
                "Name": PLAN_CUSTOM_ROLE,
                "IsCustom": True,
                "Description": "Lets the Terraform plan identity refresh azurerm_container_app (listSecrets "
                "returns Key Vault references only, the app holds no secret values).",
                "Actions": ["Microsoft.App/containerApps/listSecrets/action"],
                "NotActions": [],
                "DataActions": [],
                "NotDataActions": [],
                "AssignableScopes": [scope],
            }
            self.az.write(
                [
                    "role",
                    "definition",
                    "create",
                    "--role-definition",
                    json.dumps(definition, separators=(",", ":")),
                    *self.sub,
                ]
            )
        return PLAN_CUSTOM_ROLE

    # -------------------------------------------------------------------------------- lookups

    def state_container_scope(self, account: str) -> str:
        found = self.az.read(
            [
                "storage",
                "account",
                "show",
                "--name",
                account,
                "--resource-group",
                state_resource_group_name(),
                *self.sub,
            ],
            missing_ok=True,
        )
        if found is None:
            if not self.az.dry_run:
                raise BootstrapError(
                    f"state storage account {account} not found: run scripts/bootstrap_state.py first "
                    "(or pass --state-account)"
                )
            return f"<id of storage account {account}>/blobServices/default/containers/{STATE_CONTAINER}"
        return f"{found['id']}/blobServices/default/containers/{STATE_CONTAINER}"

    def vault_id(self, env: str) -> str | None:
        found = self.az.read(["keyvault", "show", "--name", key_vault_name(env), *self.sub], missing_ok=True)
        return found["id"] if found else None

    def registry_id(self, env: str) -> str | None:
        found = (
            self.az.read(["acr", "list", "--resource-group", resource_group_name(env), *self.sub], missing_ok=True)
            or []
        )
        ours = [r for r in found if str(r.get("name", "")).startswith(f"pvc{env}")]
        return ours[0]["id"] if ours else None

    # -------------------------------------------------------------------------------- per environment

    def environment(self, env: str, state_scope: str, plan_role: str) -> tuple[Identity, Identity]:
        sub_scope = f"/subscriptions/{self.subscription}"
        deploy = self.ensure_identity(app_registration_name(env, "deploy"), [f"environment:{env}"])
        self.ensure_role(deploy, "Contributor", sub_scope)
        self.ensure_role(
            deploy,
            "Role Based Access Control Administrator",
            sub_scope,
            rbac_admin_condition(list(DELEGABLE_ROLES.values())),
        )
        self.ensure_role(deploy, "Storage Blob Data Contributor", state_scope)

        vault = self.vault_id(env)
        if vault:
            self.ensure_role(deploy, "Key Vault Secrets Officer", vault)
        else:
            deploy.deferred.append(f"Key Vault Secrets Officer on {key_vault_name(env)} (vault not created yet)")
        dev_registry = self.registry_id("dev")
        registry_role = "AcrPush" if env == "dev" else "AcrPull"
        if dev_registry:
            self.ensure_role(deploy, registry_role, dev_registry)
        else:
            deploy.deferred.append(f"{registry_role} on the dev registry (not created yet)")

        plan = self.ensure_identity(app_registration_name(env, "plan"), ["pull_request", "ref:refs/heads/main"])
        self.ensure_role(plan, "Reader", sub_scope)
        self.ensure_role(plan, plan_role, sub_scope)
        self.ensure_role(plan, "Storage Blob Data Reader", state_scope)
        return deploy, plan


# ------------------------------------------------------------------------------------ GitHub variables


def github_variables(
    env: str, deploy: Identity, plan: Identity, tenant: str, subscription: str, account: str
) -> tuple[dict[str, str], dict[str, str]]:
    env_vars = {
        "AZURE_CLIENT_ID": deploy.app_id,
        "AZURE_TENANT_ID": tenant,
        "AZURE_SUBSCRIPTION_ID": subscription,
        "TFSTATE_STORAGE_ACCOUNT": account,
    }
    upper = env.upper()
    repo_vars = {
        "AZURE_TENANT_ID": tenant,
        f"AZURE_PLAN_CLIENT_ID_{upper}": plan.app_id,
        f"AZURE_SUBSCRIPTION_ID_{upper}": subscription,
        f"TFSTATE_STORAGE_ACCOUNT_{upper}": account,
    }
    return env_vars, repo_vars


class GitHub:
    """`gh` calls, with the same dry-run/guard discipline as the az runner."""

    def __init__(self, repo: str, dry_run: bool) -> None:
        self.repo = repo
        self.dry_run = dry_run
        self.gh = shutil.which("gh")

    def _run(self, args: list[str], write: bool) -> subprocess.CompletedProcess[str] | None:
        assert self.gh is not None
        if write and self.dry_run:
            print(f"[dry-run, would run] {shlex.join(['gh', *args])}", file=sys.stderr)
            return None
        print(f"+ {shlex.join(['gh', *args])}", file=sys.stderr)
        return subprocess.run([self.gh, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)

    def ensure_environment(self, env: str) -> None:
        proc = self._run(["api", f"repos/{self.repo}/environments/{env}"], write=False)
        if proc is not None and proc.returncode != 0:
            self._run(["api", f"repos/{self.repo}/environments/{env}", "--method", "PUT"], write=True)

    def set_variables(self, values: dict[str, str], env: str | None) -> None:
        scope = ["--env", env] if env else []
        proc = self._run(["variable", "list", *scope, "--repo", self.repo, "--json", "name,value"], write=False)
        current: dict[str, str] = {}
        if proc is not None and proc.returncode == 0 and proc.stdout.strip():
            current = {v["name"]: v["value"] for v in json.loads(proc.stdout)}
        for name, value in values.items():
            if value.startswith("<") or current.get(name) == value:
                continue
            result = self._run(["variable", "set", name, *scope, "--repo", self.repo, "--body", value], write=True)
            if result is not None and result.returncode != 0:
                raise BootstrapError(f"gh variable set {name} failed: {result.stderr.strip()}")


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    envs = list(ENVIRONMENTS) if args.env == "all" else [validate_env(args.env)]
    az = Az(dry_run=args.dry_run)
    account_info = az.account()
    subscription = args.subscription or account_info["id"]
    tenant = account_info["tenantId"]
    state_account = args.state_account or state_storage_account_name(subscription)

    boot = Bootstrap(az, subscription, args.org, args.repo)
    state_scope = boot.state_container_scope(state_account)
    plan_role = boot.ensure_plan_role_definition()

    gh = None if args.no_gh else GitHub(f"{args.org}/{args.repo}", args.dry_run)
    if gh is not None and gh.gh is None:
        print("note: gh is not installed: set the variables below by hand", file=sys.stderr)
        gh = None

    for env in envs:
        deploy, plan = boot.environment(env, state_scope, plan_role)
        env_vars, repo_vars = github_variables(env, deploy, plan, tenant, subscription, state_account)
        print(f"\n# GitHub environment '{env}' variables")
        for key, value in env_vars.items():
            print(f"{key}={value}")
        print("# repository variables (CI plan jobs run without an environment)")
        for key, value in repo_vars.items():
            print(f"{key}={value}")
        for item in deploy.deferred:
            print(f"deferred: {item}: run this script again after the first terraform apply", file=sys.stderr)
        if gh is not None:
            gh.ensure_environment(env)
            gh.set_variables(env_vars, env)
            gh.set_variables(repo_vars, None)

    verb = "would make" if args.dry_run else "made"
    print(f"\nOIDC bootstrap: {verb} {az.writes} Azure change(s).", file=sys.stderr)
    print("Next: add required reviewers to the uat and prod environments (docs/deploy.md).", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return main_guard(run, argv)


if __name__ == "__main__":
    sys.exit(main())

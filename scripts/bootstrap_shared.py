#!/usr/bin/env python3
"""Shared layer: what Terraform does not manage and every environment uses. Run once by an Owner.

    python3 scripts/bootstrap_shared.py --org ORG --repo REPO [--subscription ID] [--suffix abc123]
                                        [--dry-run] [--no-gh]

Creates (each only when missing; a second run changes nothing):
  - resource group `pvc-shared-aigateway-rg-san` with a CanNotDelete lock,
  - storage account `pvcsharedaigwstsan<suffix>` for Terraform state: shared-key access off (Entra ID
    only), TLS 1.2, no public blob access, HTTPS only, blob versioning, blob and container soft delete
    (30 days), and one blob container per environment: `tfstate-dev`, `tfstate-uat`, `tfstate-prod`
    (state key `aigateway.tfstate` in each). Separate containers, so each environment's identities get
    data roles on their own container only (scripts/bootstrap_env.py grants them);
  - container registry `pvcsharedaigatewaycrsan<suffix>` (Basic, admin user disabled), shared by every
    environment: the dev pipeline pushes the image there and uat/prod run the same digest from it, so
    promotion is by digest, never a rebuild or an import.
<suffix> is 6 hex of the subscription id (the same on every run) unless --suffix is given; both global
names are checked before anything is created, so a taken name stops the run with nothing half-made.

  - an audit workspace `pvc-shared-aigateway-log-san` (90 days) receiving the registry's repository and
    login events and the state account's blob reads, writes and deletes (diagnostic settings),
  - the resource providers the stack uses, registered once (Terraform's provider registers none: the
    pipeline's identities hold roles on one resource group and could not).
Prints the repository variables the workflows need (stdout, one `NAME=value` a line) and sets them with
`gh variable set` unless --no-gh: TFSTATE_STORAGE_ACCOUNT, REGISTRY_LOGIN_SERVER.

The containers are created through the management plane (`az storage container-rm`), so the operator
needs no data-plane role on the account; Terraform reaches the blobs with Entra ID (`use_azuread_auth`).
Next: scripts/bootstrap_env.py (per environment).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from _az import (
    ENVIRONMENTS,
    EXIT_OK,
    LOCATION,
    Az,
    BootstrapError,
    GitHub,
    main_guard,
    resource_name,
    shared_registry_name,
    shared_resource_group_name,
    state_container_name,
    state_storage_account_name,
)

RETENTION_DAYS = 30
AUDIT_RETENTION_DAYS = 90
AUDIT_SETTING = "aigateway-audit"
# What the shared layer's audit records: who pushed or pulled which image, who read or wrote state.
AUDIT_LOGS = {
    "registry": ("ContainerRegistryRepositoryEvents", "ContainerRegistryLoginEvents"),
    "state": ("StorageRead", "StorageWrite", "StorageDelete"),
}
# Every namespace infra/ and the bootstrap create resources in (Microsoft.Storage for the state account).
RESOURCE_PROVIDERS = (
    "Microsoft.App",
    "Microsoft.Cache",
    "Microsoft.ContainerRegistry",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.ManagedIdentity",
    "Microsoft.OperationalInsights",
    "Microsoft.Storage",
)
LOCK_NAME = "protect-shared-aigateway"
TAGS = ["workload=aigateway", "purpose=shared", "managed-by=scripts/bootstrap_shared.py"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--org", help="GitHub organisation or user that owns the repository (for gh)")
    parser.add_argument("--repo", help="GitHub repository name, without the org (for gh)")
    parser.add_argument("--subscription", help="subscription id (default: the az CLI's current one)")
    parser.add_argument(
        "--suffix",
        help="suffix of the storage account and registry names (default: 6 hex of the subscription id)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print every command; run only read-only ones")
    parser.add_argument("--no-gh", action="store_true", help="only print the GitHub variables, never call gh")
    args = parser.parse_args(argv)
    if not args.no_gh and not (args.org and args.repo):
        parser.error("--org and --repo are needed to set the GitHub variables (or pass --no-gh)")
    for part in (args.org, args.repo):
        if part is not None and (not part or any(c in part for c in "/: ")):
            parser.error(f"--org/--repo must be plain names, got {part!r}")
    return args


class Shared:
    def __init__(self, az: Az, subscription: str, account: str, registry: str) -> None:
        self.az = az
        self.sub = ["--subscription", subscription]
        self.group = shared_resource_group_name()
        self.account = account
        self.registry = registry

    # ------------------------------------------------------------------------------------ checks

    def check_names(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The existing account and registry (None when missing); a missing one's global name must be free."""
        az, group = self.az, self.group
        account = az.read(
            ["storage", "account", "show", "--name", self.account, "--resource-group", group, *self.sub],
            missing_ok=True,
        )
        registry = az.read(
            ["acr", "show", "--name", self.registry, "--resource-group", group, *self.sub], missing_ok=True
        )
        taken: list[str] = []
        if account is None:
            check = az.read(["storage", "account", "check-name", "--name", self.account, *self.sub]) or {}
            if check.get("nameAvailable") is False:
                taken.append(f"storage account name {self.account} ({check.get('reason') or 'unavailable'})")
        if registry is None:
            check = az.read(["acr", "check-name", "--name", self.registry, *self.sub]) or {}
            if check.get("nameAvailable") is False:
                taken.append(f"registry name {self.registry} ({check.get('reason') or 'unavailable'})")
        if taken:
            raise BootstrapError(f"{' and '.join(taken)} taken: choose another --suffix")
        return account, registry

    # ------------------------------------------------------------------------------------ providers

    def ensure_providers(self) -> None:
        for namespace in RESOURCE_PROVIDERS:
            found = self.az.read(["provider", "show", "--namespace", namespace, *self.sub]) or {}
            if found.get("registrationState") != "Registered":
                self.az.write(["provider", "register", "--namespace", namespace, *self.sub])

    # ------------------------------------------------------------------------------------ group

    def ensure_group(self) -> None:
        az, group = self.az, self.group
        exists = az.read(["group", "show", "--name", group, *self.sub], missing_ok=True) is not None
        if not exists:
            az.write(["group", "create", "--name", group, "--location", LOCATION, "--tags", *TAGS, *self.sub])
        locks = (az.read(["lock", "list", "--resource-group", group, *self.sub]) or []) if exists else []
        if not any(lock.get("name") == LOCK_NAME for lock in locks):
            az.write(
                [
                    "lock",
                    "create",
                    "--name",
                    LOCK_NAME,
                    "--lock-type",
                    "CanNotDelete",
                    "--resource-group",
                    group,
                    "--notes",
                    "Terraform state and image registry of every aigateway environment",
                    *self.sub,
                ]
            )

    # ------------------------------------------------------------------------------------ state storage

    def ensure_storage(self, account: dict[str, Any] | None) -> None:
        az, name, group = self.az, self.account, self.group
        if account is None:
            az.write(
                [
                    "storage",
                    "account",
                    "create",
                    "--name",
                    name,
                    "--resource-group",
                    group,
                    "--location",
                    LOCATION,
                    "--sku",
                    "Standard_ZRS",
                    "--kind",
                    "StorageV2",
                    "--min-tls-version",
                    "TLS1_2",
                    "--allow-blob-public-access",
                    "false",
                    "--allow-shared-key-access",
                    "false",
                    "--https-only",
                    "true",
                    "--allow-cross-tenant-replication",
                    "false",
                    "--tags",
                    *TAGS,
                    *self.sub,
                ]
            )
        else:
            fixes = _account_drift(account)
            if fixes:
                az.write(["storage", "account", "update", "--name", name, "--resource-group", group, *fixes, *self.sub])

        exists = account is not None or not az.dry_run
        props_args = ["--account-name", name, "--resource-group", group, *self.sub]
        props = (
            az.read(["storage", "account", "blob-service-properties", "show", *props_args], missing_ok=True) or {}
            if exists
            else {}
        )
        delete = props.get("deleteRetentionPolicy") or {}
        container_delete = props.get("containerDeleteRetentionPolicy") or {}
        if not (
            props.get("isVersioningEnabled") is True
            and delete.get("enabled") is True
            and (delete.get("days") or 0) >= RETENTION_DAYS
            and container_delete.get("enabled") is True
            and (container_delete.get("days") or 0) >= RETENTION_DAYS
        ):
            az.write(
                [
                    "storage",
                    "account",
                    "blob-service-properties",
                    "update",
                    *props_args,
                    "--enable-versioning",
                    "true",
                    "--enable-delete-retention",
                    "true",
                    "--delete-retention-days",
                    str(RETENTION_DAYS),
                    "--enable-container-delete-retention",
                    "true",
                    "--container-delete-retention-days",
                    str(RETENTION_DAYS),
                ]
            )

        for env in ENVIRONMENTS:
            container = ["--storage-account", name, "--resource-group", group, "--name", state_container_name(env)]
            found = (
                az.read(["storage", "container-rm", "show", *container, *self.sub], missing_ok=True) if exists else None
            )
            if found is None:
                az.write(["storage", "container-rm", "create", *container, "--public-access", "off", *self.sub])

    # ------------------------------------------------------------------------------------ audit

    def ensure_audit(self) -> None:
        """The shared layer's audit logs, in a workspace of its own (each environment's workspace is its
        Terraform's, and no environment's identity may write settings on shared resources): registry
        pushes, pulls and logins, and every read or write of Terraform state."""
        az, group = self.az, self.group
        name = resource_name("shared", "log")
        workspace = ["--resource-group", group, "--workspace-name", name, *self.sub]
        found = az.read(["monitor", "log-analytics", "workspace", "show", *workspace], missing_ok=True)
        if found is None:
            found = az.write(
                [
                    "monitor",
                    "log-analytics",
                    "workspace",
                    "create",
                    *workspace,
                    "--location",
                    LOCATION,
                    "--retention-time",
                    str(AUDIT_RETENTION_DAYS),
                ]
            )
        workspace_id = (found or {}).get("id") or f"<id of workspace {name}>"
        account = az.read(
            ["storage", "account", "show", "--name", self.account, "--resource-group", group, *self.sub],
            missing_ok=True,
        )
        registry = az.read(
            ["acr", "show", "--name", self.registry, "--resource-group", group, *self.sub], missing_ok=True
        )
        targets = {
            "registry": (registry or {}).get("id") or f"<id of registry {self.registry}>",
            "state": f"{(account or {}).get('id') or f'<id of storage account {self.account}>'}/blobServices/default",
        }
        for what, target in targets.items():
            settings = az.read(
                ["monitor", "diagnostic-settings", "list", "--resource", target, *self.sub], missing_ok=True
            )
            if isinstance(settings, dict):  # older az wraps the list in {"value": [...]}
                settings = settings.get("value", [])
            if any(entry.get("name") == AUDIT_SETTING for entry in settings or []):
                continue
            logs = [{"category": category, "enabled": True} for category in AUDIT_LOGS[what]]
            az.write(
                [
                    "monitor",
                    "diagnostic-settings",
                    "create",
                    "--name",
                    AUDIT_SETTING,
                    "--resource",
                    target,
                    "--workspace",
                    workspace_id,
                    "--logs",
                    json.dumps(logs, separators=(",", ":")),
                    *self.sub,
                ]
            )

    # ------------------------------------------------------------------------------------ registry

    def ensure_registry(self, registry: dict[str, Any] | None) -> str:
        """The registry's login server (`<name>.azurecr.io`)."""
        az, name, group = self.az, self.registry, self.group
        if registry is None:
            created = az.write(
                [
                    "acr",
                    "create",
                    "--name",
                    name,
                    "--resource-group",
                    group,
                    "--location",
                    LOCATION,
                    "--sku",
                    "Basic",
                    "--admin-enabled",
                    "false",
                    "--tags",
                    *TAGS,
                    *self.sub,
                ]
            )
            registry = created or {}
        elif registry.get("adminUserEnabled") is not False:
            az.write(
                ["acr", "update", "--name", name, "--resource-group", group, "--admin-enabled", "false", *self.sub]
            )
        return str(registry.get("loginServer") or f"{name}.azurecr.io")


def _account_drift(account: dict[str, Any]) -> list[str]:
    """`az storage account update` arguments that bring an existing account back to the required settings."""
    fixes: list[str] = []
    if account.get("allowSharedKeyAccess") is not False:
        fixes += ["--allow-shared-key-access", "false"]
    if account.get("minimumTlsVersion") != "TLS1_2":
        fixes += ["--min-tls-version", "TLS1_2"]
    if account.get("allowBlobPublicAccess") is not False:
        fixes += ["--allow-blob-public-access", "false"]
    if account.get("enableHttpsTrafficOnly") is not True:
        fixes += ["--https-only", "true"]
    return fixes


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    az = Az(dry_run=args.dry_run)
    account_info = az.account()
    subscription = args.subscription or account_info["id"]
    shared = Shared(
        az,
        subscription,
        state_storage_account_name(subscription, args.suffix),
        shared_registry_name(subscription, args.suffix),
    )

    account, registry = shared.check_names()
    shared.ensure_providers()
    shared.ensure_group()
    shared.ensure_storage(account)
    login_server = shared.ensure_registry(registry)
    shared.ensure_audit()

    variables = {"TFSTATE_STORAGE_ACCOUNT": shared.account, "REGISTRY_LOGIN_SERVER": login_server}
    gh = None if args.no_gh else GitHub(repo=f"{args.org}/{args.repo}", dry_run=args.dry_run)
    if gh is not None and not gh.available():
        print("note: gh is not installed: set the repository variables below by hand", file=sys.stderr)
        gh = None
    if gh is not None:
        gh.set_variables(variables, None)

    verb = "would make" if args.dry_run else "made"
    github = f" and {gh.writes} GitHub change(s)" if gh is not None else ""
    print(f"\nShared layer: {verb} {az.writes} Azure change(s){github}.", file=sys.stderr)
    containers = ", ".join(state_container_name(env) for env in ENVIRONMENTS)
    print(
        f"  resource group:  {shared.group}\n"
        f"  storage account: {shared.account} (containers {containers})\n"
        f"  registry:        {shared.registry} (login server {login_server})",
        file=sys.stderr,
    )
    print(
        "Next: python3 scripts/bootstrap_env.py --org ORG --repo REPO --env all --operators-group <group object id>",
        file=sys.stderr,
    )
    # stdout carries only the values the next steps need, so it can be captured.
    for name, value in variables.items():
        print(f"{name}={value}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return main_guard(run, argv)


if __name__ == "__main__":
    sys.exit(main())

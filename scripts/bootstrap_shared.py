#!/usr/bin/env python3
"""Create the Terraform state backend that Terraform itself does not manage.

    python3 scripts/bootstrap_state.py [--subscription ID] [--suffix abc123] [--dry-run]

Creates (each only when missing; a second run changes nothing):
  - resource group `pvc-shared-aigateway-rg-san` with a CanNotDelete lock,
  - storage account `pvcsharedaigwstsan<suffix>`: shared-key access off (Entra ID only), TLS 1.2,
    no public blob access, HTTPS only, blob versioning, blob and container soft delete (30 days),
  - blob container `tfstate` (keys `aigateway/<env>.tfstate`, one per environment).

One account for all three environments, not one per environment: every deploy identity needs
Contributor on the subscription (Terraform creates the environment's resource group), and a
subscription Contributor can re-enable shared keys on any storage account in it, so separate accounts in
one subscription add three bootstraps and three things to protect without adding isolation. The isolation
boundary is the subscription: put prod in its own subscription and run this script there too
(`--subscription`), then set that environment's TFSTATE_STORAGE_ACCOUNT to its account.

The container is created through the management plane (`az storage container-rm`), so the operator needs
no data-plane role on the account; Terraform reaches the blobs with Entra ID (`use_azuread_auth`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from _az import (
    EXIT_OK,
    LOCATION,
    STATE_CONTAINER,
    Az,
    BootstrapError,
    main_guard,
    state_resource_group_name,
    storage_account_name,
    unique_suffix,
)

RETENTION_DAYS = 30
LOCK_NAME = "protect-terraform-state"
TAGS = ["workload=aigateway", "purpose=terraform-state", "managed-by=scripts/bootstrap_state.py"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscription", help="subscription id (default: the az CLI's current one)")
    parser.add_argument(
        "--suffix",
        help="suffix that makes the storage account name globally unique (default: 6 hex of the subscription id)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print every az command; run only read-only ones")
    return parser.parse_args(argv)


def ensure_resource_group(az: Az, name: str, sub: list[str]) -> None:
    if az.read(["group", "show", "--name", name, *sub], missing_ok=True) is None:
        az.write(["group", "create", "--name", name, "--location", LOCATION, "--tags", *TAGS, *sub])
    locks = az.read(["lock", "list", "--resource-group", name, *sub]) or []
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
                name,
                "--notes",
                "Terraform state for every aigateway environment",
                *sub,
            ]
        )


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


def ensure_storage_account(az: Az, name: str, group: str, sub: list[str]) -> None:
    account = az.read(["storage", "account", "show", "--name", name, "--resource-group", group, *sub], missing_ok=True)
    if account is None:
        check = az.read(["storage", "account", "check-name", "--name", name, *sub]) or {}
        if check.get("nameAvailable") is False:
            raise BootstrapError(
                f"storage account name {name} is taken ({check.get('reason', 'unknown reason')}): "
                "choose another with --suffix"
            )
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
                *sub,
            ]
        )
    else:
        fixes = _account_drift(account)
        if fixes:
            az.write(["storage", "account", "update", "--name", name, "--resource-group", group, *fixes, *sub])

    props = (
        az.read(
            [
                "storage",
                "account",
                "blob-service-properties",
                "show",
                "--account-name",
                name,
                "--resource-group",
                group,
                *sub,
            ],
            missing_ok=True,
        )
        or {}
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
                "--account-name",
                name,
                "--resource-group",
                group,
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
                *sub,
            ]
        )

    container_args = ["--storage-account", name, "--resource-group", group, "--name", STATE_CONTAINER, *sub]
    if az.read(["storage", "container-rm", "show", *container_args], missing_ok=True) is None:
        az.write(["storage", "container-rm", "create", *container_args, "--public-access", "off"])


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    az = Az(dry_run=args.dry_run)
    account = az.account()
    subscription = args.subscription or account["id"]
    sub = ["--subscription", subscription]
    group = state_resource_group_name()
    name = storage_account_name("shared", "st", args.suffix or unique_suffix(subscription))

    ensure_resource_group(az, group, sub)
    ensure_storage_account(az, name, group, sub)

    verb = "would make" if args.dry_run else "made"
    print(f"\nTerraform state backend: {verb} {az.writes} change(s).", file=sys.stderr)
    print(
        f"  resource group:  {group}\n  storage account: {name}\n  container:       {STATE_CONTAINER}", file=sys.stderr
    )
    print("Next: python3 scripts/bootstrap_oidc.py --org ORG --repo REPO --env all", file=sys.stderr)
    # stdout carries only the value the next steps need, so it can be captured.
    print(f"TFSTATE_STORAGE_ACCOUNT={name}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return main_guard(run, argv)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Put the gateway's secrets into an environment's Key Vault without echoing them or writing them to disk.

    python3 scripts/gateway_secrets.py init --env dev [--project roo-team ...] [--openai-auth entra|key]
                                       [--skip-openai-key] [--show]
    python3 scripts/gateway_secrets.py set-openai-key --env dev          # key mode: replace the Azure OpenAI key
    python3 scripts/gateway_secrets.py add-project --env dev roo-team [--show]
    python3 scripts/gateway_secrets.py rotate --env dev roo-team [--show]
    python3 scripts/gateway_secrets.py list --env dev                    # names only, never values
  common options: [--vault NAME] [--subscription ID] [--dry-run]

Run by a member of the operators group that scripts/bootstrap_env.py made Key Vault Secrets Officer on the
vault. The vault is the one Key Vault in `pvc-{env}-aigateway-rg-san` (its name carries a suffix, so it is
found by listing the group; --vault names it directly, e.g. for someone without read access to the group).

Secrets (names fixed by docs/architecture.md): `gateway-key-<project>` (every environment has the project
`smoke`, used by the pipeline's smoke run) and, only when the app authenticates to Azure OpenAI with a key
(`--openai-auth key`), `azure-openai-api-key`. The default `entra` mode is keyless: the app identity has
Cognitive Services OpenAI User on the account, and `init` never asks for or writes a key.

How values travel: the Azure OpenAI key is read with getpass (or from stdin when stdin is not a terminal);
generated keys come from the `secrets` module. A value is handed to `az keyvault secret set --file /dev/stdin`
through a pipe, so it is never in argv (visible in `ps`), never in a file, and `--output none` keeps az
from printing it back. Generated keys are not printed unless --show is given; the script prints the az
command that reads one instead. `init` and `add-project` only create what is missing (a second run writes
nothing); `rotate` and `set-openai-key` always write a new version. The Container App reads versionless
references, so a new version is picked up within about 30 minutes, or at once after a revision restart.

Key Vault RBAC takes effect minutes after bootstrap_env.py grants it: a 403 from the vault is reported as
such (wait, retry), not as a generic failure.
"""

from __future__ import annotations

import argparse
import getpass
import re
import secrets as stdlib_secrets
import sys
from collections.abc import Sequence

from _az import ENVIRONMENTS, EXIT_OK, Az, BootstrapError, CommandError, main_guard, resource_group_name

OPENAI_KEY = "azure-openai-api-key"
PROJECT_PREFIX = "gateway-key-"
SMOKE_PROJECT = "smoke"
OPENAI_AUTH_MODES = ("entra", "key")
PROPAGATING = "your Key Vault Secrets Officer role may still be propagating (up to ~10 minutes); retry"
PROJECT_RE = re.compile(r"[a-z][a-z0-9-]{0,38}[a-z0-9]")


def project_key_name(project: str) -> str:
    if not PROJECT_RE.fullmatch(project) or "--" in project:
        raise BootstrapError(
            f"project name {project!r} must be 2-40 lowercase letters, digits and single dashes, starting with a letter"
        )
    return PROJECT_PREFIX + project


def new_project_key(project: str) -> str:
    return f"sk-{project}-{stdlib_secrets.token_urlsafe(32)}"


def read_openai_key() -> str:
    value = getpass.getpass("Azure OpenAI API key (input hidden): ") if sys.stdin.isatty() else sys.stdin.readline()
    value = value.strip()
    if not value:
        raise BootstrapError("empty Azure OpenAI API key")
    if any(c.isspace() for c in value):
        raise BootstrapError("the Azure OpenAI API key contains whitespace: check what was pasted")
    return value


class Vault:
    def __init__(self, az: Az, name: str, subscription: list[str]) -> None:
        self.az = az
        self.name = name
        self.sub = subscription

    def names(self) -> set[str]:
        """Secret names only: `secret list` returns ids and attributes, never values."""
        listed = self.az.read(["keyvault", "secret", "list", "--vault-name", self.name, *self.sub])
        return {str(item.get("name")) for item in listed or []}

    def put(self, secret: str, value: str) -> None:
        self.az.write(
            [
                "keyvault",
                "secret",
                "set",
                "--vault-name",
                self.name,
                "--name",
                secret,
                "--file",
                "/dev/stdin",
                "--encoding",
                "utf-8",
                "--content-type",
                "text/plain",
                *self.sub,
            ],
            stdin=value,
            output=False,
        )

    def read_hint(self, secret: str) -> str:
        return f"az keyvault secret show --vault-name {self.name} --name {secret} --query value --output tsv"


def report_key(vault: Vault, project: str, value: str, show: bool, verb: str) -> None:
    name = project_key_name(project)
    if vault.az.dry_run:
        print(f"would {verb} {name}", file=sys.stderr)
    elif show:
        print(f"{name} ({verb}): {value}")
    else:
        print(f"{verb} {name}; read it with: {vault.read_hint(name)}", file=sys.stderr)


def cmd_init(vault: Vault, args: argparse.Namespace) -> None:
    existing = vault.names()
    if args.openai_auth == "entra":
        # Keyless: the app identity authenticates to Azure OpenAI; there is no key to ask for or store.
        if OPENAI_KEY in existing:
            print(f"note: {OPENAI_KEY} exists but entra mode does not use it", file=sys.stderr)
    elif OPENAI_KEY not in existing and not args.skip_openai_key:
        if vault.az.dry_run:
            vault.put(OPENAI_KEY, "")
        else:
            vault.put(OPENAI_KEY, read_openai_key())
    elif OPENAI_KEY not in existing:
        print(f"note: {OPENAI_KEY} skipped: set it later with set-openai-key", file=sys.stderr)
    for project in dict.fromkeys([SMOKE_PROJECT, *args.project]):
        name = project_key_name(project)
        if name in existing:
            continue
        value = new_project_key(project)
        vault.put(name, value)
        report_key(vault, project, value, args.show, "created")


def cmd_set_openai_key(vault: Vault, args: argparse.Namespace) -> None:
    vault.put(OPENAI_KEY, "" if vault.az.dry_run else read_openai_key())


def cmd_add_project(vault: Vault, args: argparse.Namespace) -> None:
    name = project_key_name(args.project)
    if name in vault.names():
        print(f"{name} already exists: use rotate to replace it", file=sys.stderr)
        return
    value = new_project_key(args.project)
    vault.put(name, value)
    report_key(vault, args.project, value, args.show, "created")


def cmd_rotate(vault: Vault, args: argparse.Namespace) -> None:
    name = project_key_name(args.project)
    if name not in vault.names():
        raise BootstrapError(f"{name} does not exist in {vault.name}: use add-project")
    value = new_project_key(args.project)
    vault.put(name, value)
    report_key(vault, args.project, value, args.show, "rotated")


def cmd_list(vault: Vault, args: argparse.Namespace) -> None:
    for name in sorted(vault.names()):
        print(name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, choices=ENVIRONMENTS)
    common.add_argument("--vault", help="Key Vault name (default: the one Key Vault in the environment's group)")
    common.add_argument("--subscription", help="subscription id (default: the az CLI's current one)")
    common.add_argument("--dry-run", action="store_true", help="print every az command; run only read-only ones")
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", parents=[common], help="create every missing secret")
    init.add_argument("--project", action="append", default=[], help="project key to create (repeatable)")
    init.add_argument(
        "--openai-auth",
        choices=OPENAI_AUTH_MODES,
        default="entra",
        help="how the app authenticates to Azure OpenAI: entra (keyless, the default: no key is asked for "
        "or stored) or key (asks for azure-openai-api-key)",
    )
    init.add_argument("--skip-openai-key", action="store_true", help="key mode: do not ask for the key now")
    init.add_argument("--show", action="store_true", help="print generated project keys once")
    init.set_defaults(func=cmd_init)

    sub.add_parser("set-openai-key", parents=[common], help="write a new Azure OpenAI key version").set_defaults(
        func=cmd_set_openai_key
    )
    for name, func, text in (
        ("add-project", cmd_add_project, "create a project key"),
        ("rotate", cmd_rotate, "replace a project key"),
    ):
        cmd = sub.add_parser(name, parents=[common], help=text)
        cmd.add_argument("project")
        cmd.add_argument("--show", action="store_true", help="print the new key once")
        cmd.set_defaults(func=func)
    sub.add_parser("list", parents=[common], help="list secret names").set_defaults(func=cmd_list)
    return parser.parse_args(argv)


def find_vault(az: Az, env: str, subscription: list[str]) -> str:
    """The name of the one Key Vault in the environment's group (its name is not computable from env)."""
    group = resource_group_name(env)
    bootstrap = "run scripts/bootstrap_env.py first"
    try:
        listing = ["keyvault", "list", "--resource-group", group, "--resource-type", "vault", *subscription]
        vaults = az.read(listing, missing_ok=True)
    except CommandError as exc:
        if exc.forbidden:
            raise BootstrapError(
                f"you may not list the Key Vaults in {group}: pass --vault NAME (bootstrap_env.py printed it)"
            ) from exc
        raise
    if vaults is None:
        raise BootstrapError(f"resource group {group} not found: {bootstrap}")
    names = sorted(str(v.get("name")) for v in vaults)
    if not names:
        raise BootstrapError(f"no Key Vault in {group}: {bootstrap}")
    if len(names) > 1:
        raise BootstrapError(f"{len(names)} Key Vaults in {group} ({', '.join(names)}): pick one with --vault")
    return names[0]


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    az = Az(dry_run=args.dry_run)
    account = az.account()
    subscription = ["--subscription", args.subscription or account["id"]]
    vault = Vault(az, args.vault or find_vault(az, args.env, subscription), subscription)
    try:
        args.func(vault, args)
    except CommandError as exc:
        if exc.forbidden:
            raise BootstrapError(
                f"Key Vault {vault.name} answered 403 Forbidden: {PROPAGATING} "
                f"(just added to the operators group? run 'az login' again first). {exc}"
            ) from exc
        raise
    if args.command != "list":
        verb = "would write" if args.dry_run else "wrote"
        print(f"{vault.name}: {verb} {az.writes} secret version(s).", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return main_guard(run, argv)


if __name__ == "__main__":
    sys.exit(main())

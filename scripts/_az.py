"""Shared code of the bootstrap scripts: the `az` runner and the naming rules.

Standard library only: these scripts run on an operator's laptop before any project dependency exists.

The runner has one rule the scripts rely on: a call is either *read-only* (show/list, always allowed,
also under ``--dry-run``) or a *write* (create/update/set), which ``--dry-run`` prints and never runs.
Every command is printed (to stderr) before it runs, so the operator sees exactly what changed.
Secret values never travel in argv: :meth:`Az.write` takes them as ``stdin`` and the scripts point
``az`` at ``--file /dev/stdin``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LOCATION = "southafricanorth"
LOCATION_CODE = "san"
WORKLOAD = "aigateway"
ORG = "pvc"
ENVIRONMENTS = ("dev", "uat", "prod")
STATE_CONTAINER = "tfstate"
IMAGE_REPOSITORY = "aigateway"
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "api://AzureADTokenExchange"

# Exit codes shared by the scripts (named, not magic numbers).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class BootstrapError(Exception):
    """A problem the operator can fix; printed as one line, exit code 1."""


# --------------------------------------------------------------------------------------------- naming


def resource_name(env: str, kind: str) -> str:
    """`pvc-{env}-aigateway-{kind}-san`, the design's pattern for names that allow hyphens."""
    return f"{ORG}-{env}-{WORKLOAD}-{kind}-{LOCATION_CODE}"


def resource_group_name(env: str) -> str:
    return resource_name(env, "rg")


def key_vault_name(env: str) -> str:
    """Key Vault: 3-24 chars; `pvc-prod-aigateway-kv-san` is 25, so only prod is shortened (`aigw`)."""
    name = resource_name(env, "kv")
    if len(name) > 24:
        name = f"{ORG}-{env}-aigw-kv-{LOCATION_CODE}"
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", name) or "--" in name:
        raise BootstrapError(f"cannot build a valid Key Vault name for environment {env!r}: {name}")
    return name


def unique_suffix(seed: str, length: int = 6) -> str:
    """Deterministic suffix for globally unique names: same subscription -> same name on every run."""
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def compact_name(env: str, kind: str, suffix: str, max_len: int) -> str:
    """Names without hyphens (storage accounts <= 24, registries <= 50): lowercase alphanumerics + suffix.

    Full form `pvc{env}aigateway{kind}san{suffix}`; `aigateway` becomes `aigw` only when that is too long.
    """
    if not re.fullmatch(r"[a-z0-9]*", suffix):
        raise BootstrapError(f"name suffix must be lowercase letters and digits: {suffix!r}")
    for workload in (WORKLOAD, "aigw"):
        name = f"{ORG}{env}{workload}{kind}{LOCATION_CODE}{suffix}"
        if len(name) <= max_len:
            return name
    raise BootstrapError(f"{kind} name for {env!r} with suffix {suffix!r} is longer than {max_len} characters")


def storage_account_name(env: str, kind: str, suffix: str) -> str:
    return compact_name(env, kind, suffix, 24)


def registry_name(env: str, suffix: str) -> str:
    return compact_name(env, "cr", suffix, 50)  # same form as Terraform: pvc{env}aigatewaycrsan{suffix}


def state_resource_group_name() -> str:
    """The one resource group for Terraform state (shared by dev, uat and prod; see bootstrap_state.py)."""
    return resource_name("shared", "rg")


def state_storage_account_name(subscription_id: str) -> str:
    return storage_account_name("shared", "st", unique_suffix(subscription_id))


def app_registration_name(env: str, purpose: str) -> str:
    """Entra app registrations for GitHub: `pvc-{env}-aigateway-gh{purpose}-san` (deploy / plan)."""
    return resource_name(env, f"gh{purpose}")


def validate_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise BootstrapError(f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)}")
    return env


# --------------------------------------------------------------------------------------------- runner


@dataclass
class Call:
    args: list[str]
    write: bool
    ran: bool


@dataclass
class Az:
    """Runs `az` with argument lists (never a shell); records every call; honours dry-run for writes."""

    dry_run: bool = False
    executable: str = "az"
    calls: list[Call] = field(default_factory=list)
    writes: int = 0

    def _log(self, prefix: str, args: Sequence[str]) -> None:
        print(f"{prefix} {shlex.join([self.executable, *args])}", file=sys.stderr, flush=True)

    def _run(self, args: Sequence[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
        path = shutil.which(self.executable)
        if path is None:
            raise BootstrapError(
                f"'{self.executable}' (the Azure CLI) is not on PATH: install it "
                "(https://learn.microsoft.com/cli/azure/install-azure-cli) and run 'az login'"
            )
        if stdin is None:  # never inherit the caller's stdin: az must not wait for input
            return subprocess.run([path, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        return subprocess.run([path, *args], input=stdin, capture_output=True, text=True, check=False)

    def read(self, args: Sequence[str], *, missing_ok: bool = False) -> Any:
        """A read-only call (show/list). Returns parsed JSON, or None when missing and ``missing_ok``."""
        args = [*args, "--output", "json"]
        self.calls.append(Call(list(args), write=False, ran=True))
        self._log("+" if not self.dry_run else "[dry-run, read-only]", args)
        proc = self._run(args, None)
        if proc.returncode != 0:
            if missing_ok and _is_not_found(proc):
                return None
            raise BootstrapError(f"az {' '.join(args[:3])} failed: {_first_line(proc.stderr)}")
        out = proc.stdout.strip()
        return json.loads(out) if out else None

    def write(self, args: Sequence[str], *, stdin: str | None = None, output: bool = True) -> Any:
        """A call that changes Azure. Printed and skipped under dry-run (returns None)."""
        args = [*args, "--output", "json" if output else "none"]
        self.calls.append(Call(list(args), write=True, ran=not self.dry_run))
        self.writes += 1
        if self.dry_run:
            self._log("[dry-run, would run]", args)
            return None
        self._log("+", args)
        proc = self._run(args, stdin)
        if proc.returncode != 0:
            raise BootstrapError(f"az {' '.join(args[:3])} failed: {_first_line(proc.stderr)}")
        out = proc.stdout.strip() if output else ""
        return json.loads(out) if out else None

    def account(self) -> dict[str, Any]:
        """`az account show`: the first call of every script; a clear error when not logged in."""
        self._log("+" if not self.dry_run else "[dry-run, read-only]", ["account", "show"])
        proc = self._run(["account", "show", "--output", "json"], None)
        self.calls.append(Call(["account", "show", "--output", "json"], write=False, ran=True))
        if proc.returncode != 0:
            raise BootstrapError(
                f"not logged in to Azure ('az account show' failed: {_first_line(proc.stderr)}): run 'az login'"
            )
        account: dict[str, Any] = json.loads(proc.stdout)
        return account


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no error output"


def _is_not_found(proc: subprocess.CompletedProcess[str]) -> bool:
    # az exits 3 for ResourceNotFound; older commands exit 1 with a "not found" message.
    text = proc.stderr.lower()
    return proc.returncode == 3 or "notfound" in text or "not found" in text or "could not be found" in text


def main_guard(run: Any, argv: Sequence[str] | None = None) -> int:
    """The one error boundary of each script: operator-fixable problems -> one line on stderr, exit 1."""
    try:
        code: int = run(argv)
    except BootstrapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_FAILED
    return code

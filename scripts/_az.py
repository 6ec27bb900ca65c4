"""Shared code of the bootstrap scripts: the `az` and `gh` runners and the naming rules.

Standard library only: these scripts run on an operator's laptop before any project dependency exists.

The runners have one rule the scripts rely on: a call is either *read-only* (show/list/GET, always
allowed, also under ``--dry-run``) or a *write* (create/update/set/PUT/POST), which ``--dry-run`` prints
and never runs. Every command is printed (to stderr) before it runs, so the operator sees exactly what
changed, and every write is counted, so a script can say "made 0 change(s)" on a second run.
Secret values never travel in argv: :meth:`Az.write` takes them as ``stdin`` and the scripts point
``az`` at ``--file /dev/stdin``.

Two bootstrap layers use them (both run once by an Owner of the subscription):
  - scripts/bootstrap_shared.py: what every environment shares (state storage, image registry);
  - scripts/bootstrap_env.py: per environment (resource group, identities, Key Vault, roles, GitHub).
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
WORKLOAD_SHORT = "aigw"
ORG = "pvc"
ENVIRONMENTS = ("dev", "uat", "prod")
STATE_KEY = "aigateway.tfstate"  # the blob in each environment's own container (tfstate-<env>)
IMAGE_REPOSITORY = "aigateway"
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "api://AzureADTokenExchange"

# Exit codes shared by the scripts (named, not magic numbers).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class BootstrapError(Exception):
    """A problem the operator can fix; printed as one line, exit code 1."""


class CommandError(BootstrapError):
    """An `az`/`gh` call failed: the message is its first error line; ``stderr`` keeps the whole text."""

    def __init__(self, message: str, stderr: str, returncode: int) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode

    @property
    def forbidden(self) -> bool:
        """Azure said 403: ARM's AuthorizationFailed or the Key Vault data plane's Forbidden."""
        text = self.stderr.lower()
        return "forbidden" in text or "authorizationfailed" in text or "(403)" in text or "http 403" in text


# --------------------------------------------------------------------------------------------- naming


def resource_name(env: str, kind: str) -> str:
    """`pvc-{env}-aigateway-{kind}-san`, the design's pattern for names that allow hyphens."""
    return f"{ORG}-{env}-{WORKLOAD}-{kind}-{LOCATION_CODE}"


def resource_group_name(env: str) -> str:
    return resource_name(env, "rg")


def identity_name(env: str) -> str:
    """The app's user-assigned identity (created by bootstrap_env.py, used by the Container App)."""
    return resource_name(env, "id")


def vault_suffix(subscription_id: str, env: str) -> str:
    """Default Key Vault suffix: 4 hex of sha256("<subscription>/<env>"), the same on every run."""
    return hashlib.sha256(f"{subscription_id}/{env}".encode()).hexdigest()[:4]


def key_vault_name(env: str, suffix: str) -> str:
    """`pvc-{env}-aigw-kv-{suffix}`: Key Vault names are global (3-24 chars) and a purge-protected vault
    keeps its name for up to 90 days after deletion, so the name carries a per-subscription suffix."""
    if not re.fullmatch(r"[a-z0-9]+", suffix):
        raise BootstrapError(f"Key Vault name suffix must be lowercase letters and digits: {suffix!r}")
    name = f"{ORG}-{env}-{WORKLOAD_SHORT}-kv-{suffix}"
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,22}[a-z0-9]", name) or "--" in name:
        raise BootstrapError(f"cannot build a valid Key Vault name (3-24 chars) for {env!r} with suffix {suffix!r}")
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
    for workload in (WORKLOAD, WORKLOAD_SHORT):
        name = f"{ORG}{env}{workload}{kind}{LOCATION_CODE}{suffix}"
        if len(name) <= max_len:
            return name
    raise BootstrapError(f"{kind} name for {env!r} with suffix {suffix!r} is longer than {max_len} characters")


def storage_account_name(env: str, kind: str, suffix: str) -> str:
    return compact_name(env, kind, suffix, 24)


def registry_name(env: str, suffix: str) -> str:
    return compact_name(env, "cr", suffix, 50)  # pvc{env}aigatewaycrsan{suffix}


def shared_resource_group_name() -> str:
    """The resource group of the shared layer (state storage, registry): `pvc-shared-aigateway-rg-san`."""
    return resource_name("shared", "rg")


def state_storage_account_name(subscription_id: str, suffix: str | None = None) -> str:
    return storage_account_name("shared", "st", suffix or unique_suffix(subscription_id))


def shared_registry_name(subscription_id: str, suffix: str | None = None) -> str:
    return registry_name("shared", suffix or unique_suffix(subscription_id))


def state_container_name(env: str) -> str:
    """One blob container per environment, so each environment's identities get data roles on theirs only."""
    return f"tfstate-{validate_env(env)}"


def app_registration_name(env: str, purpose: str) -> str:
    """Entra app registrations for GitHub: `pvc-{env}-aigateway-gh{purpose}-san` (deploy / plan)."""
    return resource_name(env, f"gh{purpose}")


def validate_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise BootstrapError(f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)}")
    return env


# --------------------------------------------------------------------------------------------- runners


@dataclass
class Call:
    args: list[str]
    write: bool
    ran: bool


@dataclass
class Runner:
    """Runs a CLI with argument lists (never a shell); records every call; honours dry-run for writes."""

    dry_run: bool = False
    executable: str = "az"
    install_hint: str = "install it"
    calls: list[Call] = field(default_factory=list)
    writes: int = 0

    def _log(self, prefix: str, args: Sequence[str], body: str | None = None) -> None:
        tail = f" <<< {body}" if body is not None else ""
        print(f"{prefix} {shlex.join([self.executable, *args])}{tail}", file=sys.stderr, flush=True)

    def _exec(self, args: Sequence[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
        path = shutil.which(self.executable)
        if path is None:
            raise BootstrapError(f"'{self.executable}' {self.install_hint}")
        if stdin is None:  # never inherit the caller's stdin: the CLI must not wait for input
            return subprocess.run([path, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        return subprocess.run([path, *args], input=stdin, capture_output=True, text=True, check=False)

    def _failed(self, args: Sequence[str], proc: subprocess.CompletedProcess[str]) -> CommandError:
        words = " ".join(a for a in args[:4] if not a.startswith("-"))
        return CommandError(
            f"{self.executable} {words} failed: {_first_line(proc.stderr)}", proc.stderr, proc.returncode
        )

    def run_read(self, args: Sequence[str], *, missing_ok: bool = False) -> Any:
        """A read-only call. Returns parsed JSON, or None when missing and ``missing_ok``."""
        self.calls.append(Call(list(args), write=False, ran=True))
        self._log("+" if not self.dry_run else "[dry-run, read-only]", args)
        proc = self._exec(args, None)
        if proc.returncode != 0:
            if missing_ok and _is_not_found(proc):
                return None
            raise self._failed(args, proc)
        out = proc.stdout.strip()
        return json.loads(out) if out else None

    def run_write(self, args: Sequence[str], *, stdin: str | None = None, log_stdin: bool = False) -> Any:
        """A call that changes something. Printed and skipped under dry-run (returns None).

        ``stdin`` is printed only with ``log_stdin`` (a request body); secret values never are.
        """
        self.calls.append(Call(list(args), write=True, ran=not self.dry_run))
        self.writes += 1
        body = stdin if log_stdin else None
        if self.dry_run:
            self._log("[dry-run, would run]", args, body)
            return None
        self._log("+", args, body)
        proc = self._exec(args, stdin)
        if proc.returncode != 0:
            raise self._failed(args, proc)
        out = proc.stdout.strip()
        try:
            return json.loads(out) if out else None
        except json.JSONDecodeError:
            return out


@dataclass
class Az(Runner):
    """The Azure CLI: every call asks for JSON output (``--output none`` for writes that carry secrets)."""

    executable: str = "az"
    install_hint: str = (
        "(the Azure CLI) is not on PATH: install it "
        "(https://learn.microsoft.com/cli/azure/install-azure-cli) and run 'az login'"
    )

    def read(self, args: Sequence[str], *, missing_ok: bool = False) -> Any:
        return self.run_read([*args, "--output", "json"], missing_ok=missing_ok)

    def write(self, args: Sequence[str], *, stdin: str | None = None, output: bool = True) -> Any:
        return self.run_write([*args, "--output", "json" if output else "none"], stdin=stdin)

    def account(self) -> dict[str, Any]:
        """`az account show`: the first call of every script; a clear error when not logged in."""
        try:
            account: dict[str, Any] = self.read(["account", "show"])
        except CommandError as exc:
            raise BootstrapError(
                f"not logged in to Azure ('az account show' failed: {_first_line(exc.stderr)}): run 'az login'"
            ) from exc
        return account


@dataclass
class GitHub(Runner):
    """The GitHub CLI for one repository (``ORG/REPO``): environments, branch policies, variables."""

    repo: str = ""
    executable: str = "gh"
    install_hint: str = "(the GitHub CLI) is not on PATH: install it (https://cli.github.com) and run 'gh auth login'"

    def available(self) -> bool:
        return shutil.which(self.executable) is not None

    def api_get(self, path: str) -> Any:
        return self.run_read(["api", f"repos/{self.repo}/{path}"], missing_ok=True)

    def ensure_environment(self, name: str, *, main_only: bool) -> None:
        """Create environment ``name``; with ``main_only`` only the `main` branch may deploy to it.

        The branch policy is GitHub's "selected branches" (custom policies) with one policy, `main`.
        Existing reviewers, wait timer and self-review setting are sent back unchanged when the policy
        has to be set on an environment that already exists (PUT replaces the protection rules).
        """
        path = f"environments/{name}"
        current = self.api_get(path)
        wanted = {"protected_branches": False, "custom_branch_policies": True}
        if current is None or (main_only and current.get("deployment_branch_policy") != wanted):
            body: dict[str, Any] = _kept_protection(current) if current else {}
            if main_only:
                body["deployment_branch_policy"] = wanted
            self.run_write(
                ["api", f"repos/{self.repo}/{path}", "--method", "PUT", "--input", "-"],
                stdin=json.dumps(body, separators=(",", ":")),
                log_stdin=True,
            )
        if not main_only:
            return
        listed = self.api_get(f"{path}/deployment-branch-policies") if current is not None else None
        policies = (listed or {}).get("branch_policies") or []
        if not any(p.get("name") == "main" and p.get("type", "branch") == "branch" for p in policies):
            self.run_write(
                [
                    "api",
                    f"repos/{self.repo}/{path}/deployment-branch-policies",
                    "--method",
                    "POST",
                    "-f",
                    "name=main",
                    "-f",
                    "type=branch",
                ]
            )

    def set_variables(self, values: dict[str, str], env: str | None) -> None:
        """Set repository (``env`` None) or environment variables; unchanged values are left alone."""
        scope = ["--env", env] if env else []
        listed = self.run_read(
            ["variable", "list", *scope, "--repo", self.repo, "--json", "name,value"], missing_ok=True
        )
        current = {v["name"]: v["value"] for v in listed or []}
        for name, value in values.items():
            if value.startswith("<") or current.get(name) == value:
                continue
            self.run_write(["variable", "set", name, *scope, "--repo", self.repo, "--body", value])


def _kept_protection(environment: dict[str, Any]) -> dict[str, Any]:
    """The parts of an environment's GET answer that its PUT must repeat to keep them."""
    kept: dict[str, Any] = {}
    for rule in environment.get("protection_rules") or []:
        if rule.get("type") == "required_reviewers":
            kept["reviewers"] = [
                {"type": r.get("type"), "id": (r.get("reviewer") or {}).get("id")} for r in rule.get("reviewers") or []
            ]
            if "prevent_self_review" in rule:
                kept["prevent_self_review"] = rule["prevent_self_review"]
        elif rule.get("type") == "wait_timer":
            kept["wait_timer"] = rule.get("wait_timer", 0)
    return kept


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no error output"


def _is_not_found(proc: subprocess.CompletedProcess[str]) -> bool:
    # az exits 3 for ResourceNotFound; older commands exit 1 with a "not found" message; gh says HTTP 404.
    text = proc.stderr.lower()
    return (
        proc.returncode == 3
        or "notfound" in text
        or "not found" in text
        or "could not be found" in text
        or "http 404" in text
    )


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

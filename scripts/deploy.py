#!/usr/bin/env python3
"""Every decision the deploy pipeline makes, in one script the workflows only call.

    python3 scripts/deploy.py targets --event push|workflow_dispatch [--requested ENV]
    python3 scripts/deploy.py deploy  --env dev IMAGE-SOURCE [--approved-plan FP] [--no-smoke] [--no-probe]
    python3 scripts/deploy.py plan    --env uat (IMAGE-SOURCE | --keep-image)
    python3 scripts/deploy.py drift   --env prod
    IMAGE-SOURCE: exactly one of --image REF, --built-digest D, --requested-digest D (a digest is
                  looked for in REGISTRY_LOGIN_SERVER/aigateway); empty values count as absent
    common: [--state-account NAME] [--local-state DIR] [--root DIR] [--dry-run]

`targets`: a push deploys dev, then uat, then prod; a dispatch only the environment it names.

`deploy` (dev on every merge; uat/prod after their approval):
  1. the image must be pinned by digest and exist in the shared registry;
  2. the environment is *new* when Terraform's state holds no Container App; otherwise the revision that
     serves now (read from Azure, not from state) is what a failed deploy rolls back to;
  3. plan with the image; refuse a plan that deletes or replaces the Container App, its environment or
     the workspace; with --approved-plan, refuse unless the plan is the one the reviewer approved
     (same fingerprint: same changes, same provider lock);
  4. refuse when a Key Vault secret the app references does not exist (the app could not start);
  5. apply exactly that saved plan;
  6. wait until the newest revision runs the new image and is healthy and serving, then smoke it;
  7. if 6 fails: apply the previous image again, wait until it serves, and fail saying so;
  8. after a passing smoke, probe it: each client's exact request through the new revision, the matrix in
     the job summary; a failing probe fails the job but rolls nothing back (docs/deploy.md, "The probe").
`plan` is what reviewers see before an approval and what pull requests show: a read-only plan
(-refresh=false -lock=false; an environment whose state does not exist yet is planned from empty state),
written to the job summary, with its fingerprint as a step output.
`drift` (scheduled): a read-only plan of the committed configuration against state, and the image that
serves in Azure against the one state records; exit 2 when either differs.

--dry-run makes no change: it plans and decides, prints what it would apply, and applies nothing.
--local-state keeps state in a local directory instead of the Azure storage backend (the offline
rehearsal in tests/infra/test_rehearsal.py; never in pipelines). Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _az import (
    ENVIRONMENTS,
    EXIT_OK,
    IMAGE_REPOSITORY,
    STATE_KEY,
    Az,
    BootstrapError,
    main_guard,
    state_container_name,
)

ROOT = Path(__file__).resolve().parents[1]
IMAGE_RE = re.compile(
    r"^(?P<registry>[a-z0-9][a-z0-9.-]*(:[0-9]+)?)/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)@(?P<digest>sha256:[0-9a-f]{64})$"
)
APP_ADDRESS = "module.aigateway.azurerm_container_app.this"
# Never deleted or replaced by a pipeline: the app (and with it every client's base URL), the
# environment it runs in, and the workspace holding the logs.
PROTECTED_TYPES = ("azurerm_container_app", "azurerm_container_app_environment", "azurerm_log_analytics_workspace")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
SMOKE_SECRET = "gateway-key-smoke"  # noqa: S105 (a Key Vault secret name, not a value)
PROBE_TIMEOUT_SECONDS = 300  # the probe bounds itself to about 2 minutes; this covers docker on top
EXIT_DRIFT = 2


class DeployError(BootstrapError):
    """A deploy that must stop; printed as one line, exit 1."""


# ------------------------------------------------------------------------------------------ decisions


def targets(event: str, requested: str) -> dict[str, bool]:
    """Which environments a run deploys: all three in order on a push, only the named one on a dispatch."""
    if event == "workflow_dispatch":
        if requested not in ENVIRONMENTS:
            raise DeployError(f"a dispatch must name one of {', '.join(ENVIRONMENTS)}, got {requested!r}")
        return {env: env == requested for env in ENVIRONMENTS}
    if event not in ("push", "workflow_call"):
        raise DeployError(f"deploys run on a push to main or a dispatch, not on {event!r}")
    return dict.fromkeys(ENVIRONMENTS, True)


def resolve_image(registry: str, *, image: str = "", built: str = "", requested: str = "") -> str:
    """The one image a job deploys: given whole (from the previous stage), or a digest just built or
    asked for by a dispatch, in the shared registry. Exactly one source, or the run stops."""
    sources = [s for s in (image, built, requested) if s]
    if len(sources) != 1:
        raise DeployError(f"expected exactly one of image, built digest, requested digest; got {len(sources)}")
    if image:
        parse_image(image)
        return image
    digest = sources[0]
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise DeployError(f"digest must be sha256: followed by 64 lower-case hex digits, got {digest!r}")
    if not registry:
        raise DeployError("REGISTRY_LOGIN_SERVER is not set (scripts/bootstrap_shared.py prints it)")
    return f"{registry}/{IMAGE_REPOSITORY}@{digest}"


def parse_image(image: str) -> dict[str, str]:
    """<registry>/<repository>@sha256:<64 hex>, or an error: a tag is never deployed."""
    match = IMAGE_RE.match(image)
    if not match:
        raise DeployError(f"image must be <registry>/<repository>@sha256:<64 hex>, got {image!r}")
    return match.groupdict()


def state_container_app(state: dict[str, Any]) -> dict[str, Any] | None:
    """The Container App's attributes in `terraform show -json` of the state, or None when it has none."""
    for module in state.get("values", {}).get("root_module", {}).get("child_modules", []):
        for resource in module.get("resources", []):
            if resource.get("address") == APP_ADDRESS:
                values: dict[str, Any] = resource["values"]
                return values
    return None


def app_image(app: dict[str, Any]) -> str:
    image: str = app["template"][0]["container"][0]["image"]
    return image


@dataclass(frozen=True)
class Change:
    address: str
    type: str
    actions: tuple[str, ...]


def plan_changes(plan: dict[str, Any]) -> list[Change]:
    return [
        Change(rc["address"], rc["type"], tuple(rc["change"]["actions"]))
        for rc in plan.get("resource_changes", [])
        if rc.get("mode") == "managed"
    ]


def unsafe_changes(changes: Sequence[Change]) -> list[str]:
    """Deletes (and replaces, which delete) of protected resources: a pipeline never applies those."""
    return [
        f"{c.address} ({'replace' if 'create' in c.actions else 'delete'})"
        for c in changes
        if c.type in PROTECTED_TYPES and "delete" in c.actions
    ]


def plan_fingerprint(plan: dict[str, Any], lock_file: str) -> str:
    """What a reviewer approves: every resource change (address, actions, before/after) and the provider
    lock. Two plans with the same fingerprint apply the same changes with the same provider build."""
    changes = [
        {
            "address": rc["address"],
            "actions": rc["change"]["actions"],
            "before": rc["change"].get("before"),
            "after": rc["change"].get("after"),
            "after_unknown": rc["change"].get("after_unknown"),
        }
        for rc in plan.get("resource_changes", [])
    ]
    canonical = json.dumps({"changes": changes, "lock": lock_file}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def referenced_secrets(plan: dict[str, Any]) -> tuple[str | None, set[str]]:
    """The vault and secret names the planned Container App references (its Key Vault secret ids)."""
    for rc in plan.get("resource_changes", []):
        if rc.get("address") != APP_ADDRESS:
            continue
        after = rc["change"].get("after") or {}
        vault, names = None, set()
        for secret in after.get("secret") or []:
            match = re.match(
                r"^https://([a-z0-9-]+)\.vault\.azure\.net/secrets/([A-Za-z0-9-]+)$",
                secret.get("key_vault_secret_id") or "",
            )
            if match:
                vault = match.group(1)
                names.add(match.group(2))
        return vault, names
    return None, set()


def revision_image(revision: dict[str, Any]) -> str:
    image: str = revision["properties"]["template"]["containers"][0]["image"]
    return image


def serving_revision(revisions: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The revision taking traffic: active, with a traffic weight, not unhealthy (newest wins)."""
    serving = [
        r
        for r in revisions
        if r["properties"].get("active")
        and (r["properties"].get("trafficWeight") or 0) > 0
        and r["properties"].get("healthState") != "Unhealthy"
    ]
    return serving[-1] if serving else None


def rollout_status(revisions: Sequence[dict[str, Any]], image: str) -> str:
    """`ready` once the newest revision running `image` serves; `failed` once it cannot; else `pending`.

    In single revision mode Azure keeps the previous revision serving until the new one is healthy, so
    "the app's template says the new image" proves nothing: only the revisions tell which one serves.
    """
    mine = [r for r in revisions if revision_image(r) == image]
    if not mine:
        return "pending"
    props = mine[-1]["properties"]
    if (
        props.get("provisioningState") == "Failed"
        or props.get("healthState") == "Unhealthy"
        or props.get("runningState") in ("Failed", "Degraded")
    ):
        return "failed"
    serving = serving_revision(revisions)
    if serving is not None and serving["name"] == mine[-1]["name"] and props.get("provisioningState") == "Provisioned":
        return "ready"
    return "pending"


def smoke_allowed(allowed_ranges: Sequence[str], runner_inside_allowlist: bool) -> bool:
    """A GitHub-hosted runner's address is not in an ingress allowlist: smoke only from inside it."""
    return not allowed_ranges or runner_inside_allowlist


def smoke_command(image: str, base_url: str) -> list[str]:
    """The smoke suite from the deployed image itself; the key travels in the environment, never argv."""
    return ["docker", "run", "--rm", "--env", "GATEWAY_SMOKE_KEY", image, "aigateway", "smoke", "--base-url", base_url]


def probe_command(image: str, base_url: str) -> list[str]:
    """The client probe from the deployed image, like the smoke: the key by name from the environment."""
    return ["docker", "run", "--rm", "--env", "GATEWAY_SMOKE_KEY", image, "aigateway", "probe", "--base-url", base_url]


# ------------------------------------------------------------------------------------------ runners


class Terraform:
    """`terraform -chdir=<root>`, printed before it runs; output captured for JSON commands."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, *args: str, capture: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["terraform", f"-chdir={self.root}", *args]
        print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
        env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0")
        proc = subprocess.run(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            text=True,
            check=False,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
        if check and proc.returncode not in (0,):
            detail = (proc.stderr or "").strip().splitlines()[-8:] if capture else []
            raise DeployError(
                f"terraform {args[0]} failed (exit {proc.returncode})" + ("".join(f"\n  {line}" for line in detail))
            )
        return proc

    def json(self, command: str, *args: str) -> dict[str, Any]:
        out = self.run(command, "-json", "-no-color", *args, capture=True).stdout.strip()
        loaded: dict[str, Any] = json.loads(out) if out else {}
        return loaded


@dataclass
class Environment:
    """One environment's Terraform root, state backend and Azure access."""

    name: str
    root: Path
    az: Az
    state_account: str
    local_state: Path | None
    dry_run: bool

    @property
    def container(self) -> str:
        return state_container_name(self.name)

    @property
    def tf(self) -> Terraform:
        return Terraform(self.root)

    @property
    def override_file(self) -> Path:
        return self.root / "zz_local_backend_override.tf"

    def _override(self, path: Path | None) -> None:
        """A local backend in place of Azure storage (rehearsal, or a plan before any state exists).
        Removed again when the command ends (run()), so a later plain `terraform` run is not misled."""
        if path is None:
            self.override_file.unlink(missing_ok=True)
        else:
            self.override_file.write_text(f'terraform {{\n  backend "local" {{\n    path = "{path}"\n  }}\n}}\n')

    def state_exists(self) -> bool:
        if self.local_state is not None:
            return (self.local_state / f"{self.name}.tfstate").exists()
        found = self.az.read(
            [
                "storage",
                "blob",
                "exists",
                "--account-name",
                self.state_account,
                "--container-name",
                self.container,
                "--name",
                STATE_KEY,
                "--auth-mode",
                "login",
            ]
        )
        return bool(found and found.get("exists"))

    def init(self, *, read_only: bool) -> None:
        """Backend init. Read-only runs never write state: with no state yet (a new environment, whose
        blob a plan identity could not create), they plan from an empty local state instead."""
        if read_only and not self.state_exists():
            print(f"{self.name}: no Terraform state yet: planning from empty state", file=sys.stderr)
            self._override(Path(tempfile.mkdtemp(prefix="aigateway-empty-state-")) / "empty.tfstate")
            self.tf.run("init", "-no-color", "-reconfigure")
            return
        if self.local_state is not None:
            self._override(self.local_state / f"{self.name}.tfstate")
            self.tf.run("init", "-no-color", "-reconfigure")
            return
        if not self.state_account:
            raise DeployError("no state account: set TFSTATE_STORAGE_ACCOUNT (scripts/bootstrap_shared.py prints it)")
        self._override(None)
        self.tf.run(
            "init",
            "-no-color",
            "-reconfigure",
            f"-backend-config=storage_account_name={self.state_account}",
            f"-backend-config=container_name={self.container}",
        )

    def state(self) -> dict[str, Any]:
        return self.tf.json("show")

    def lock_file(self) -> str:
        lock = self.root / ".terraform.lock.hcl"
        return lock.read_text() if lock.exists() else ""

    def plan(self, image: str, *, read_only: bool, out: Path) -> dict[str, Any]:
        args = ["plan", "-no-color", "-input=false", f"-out={out}", "-var", f"image={image}"]
        if read_only:
            # No refresh: refreshing a Container App calls listSecrets, which returns the values behind
            # its Key Vault references; no plan identity holds it. No lock: plans never write state.
            args += ["-refresh=false", "-lock=false"]
        self.tf.run(*args)
        return self.tf.json("show", str(out))

    def revisions(self, app: str, group: str) -> list[dict[str, Any]]:
        found = self.az.read(["containerapp", "revision", "list", "--name", app, "--resource-group", group, "--all"])
        return list(found or [])


# ------------------------------------------------------------------------------------------ steps


def github_output(key: str, value: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a") as f:
            f.write(f"{key}={value}\n")


def step_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


def plan_summary(env: str, changes: Sequence[Change], fingerprint: str, plan_text: str) -> str:
    counts = {verb: sum(1 for c in changes if c.actions == (verb,)) for verb in ("create", "update", "delete")}
    replaces = sum(1 for c in changes if "delete" in c.actions and "create" in c.actions)
    head = (
        f"### terraform plan: {env}\n\n{counts['create']} to create, {counts['update']} to update, "
        f"{replaces} to replace, {counts['delete']} to delete. Fingerprint `{fingerprint[:16]}`.\n"
    )
    return f"{head}\n<details><summary>plan</summary>\n\n{fenced(plan_text[-60000:])}\n</details>\n"


FENCE = "~~~~~~"
# A line that would close our fence: up to 3 spaces, then at least as many tildes, then only blanks.
_CLOSING_FENCE = re.compile(r"^ {0,3}(?=~{6,}[ \t]*$)", re.MULTILINE)


def fenced(text: str) -> str:
    """`text` in a Markdown code fence it cannot close: a line of the text that could close it is indented
    by 4 spaces (which no closing fence may be), so only ours open and close it."""
    return f"{FENCE}\n{_CLOSING_FENCE.sub('    ', text)}\n{FENCE}"


def probe_summary(env: str, matrix: str, passed: bool) -> str:
    verdict = (
        "every client's request passed"
        if passed
        else "a client's request failed: that client is broken against this deployment (docs/probe.md)"
    )
    return f"### Client probe: {env}\n\n{verdict}.\n\n{fenced(matrix.strip())}\n"


def check_plan(env: Environment, plan: dict[str, Any]) -> list[Change]:
    changes = plan_changes(plan)
    unsafe = unsafe_changes(changes)
    if unsafe:
        raise DeployError(
            f"{env.name}: the plan would destroy {', '.join(unsafe)}; a pipeline never does that "
            "(docs/deploy.md, section 11: changes the pipeline refuses)"
        )
    return changes


def check_secrets(env: Environment, plan: dict[str, Any]) -> None:
    vault, names = referenced_secrets(plan)
    if vault is None:
        return
    listed = env.az.read(["keyvault", "secret", "list", "--vault-name", vault]) or []
    present = {s["name"] for s in listed}
    missing = sorted(names - present)
    if missing:
        raise DeployError(
            f"{env.name}: Key Vault {vault} lacks {', '.join(missing)}: run "
            f"python3 scripts/gateway_secrets.py init --env {env.name} (docs/deploy.md), then re-run"
        )


def check_image_exists(az: Az, image: str) -> None:
    parts = parse_image(image)
    registry = parts["registry"].split(".")[0]
    try:
        az.read(
            ["acr", "repository", "show", "--name", registry, "--image", f"{parts['repository']}@{parts['digest']}"]
        )
    except BootstrapError as exc:
        raise DeployError(f"{image} is not in the registry ({exc}): only images the pipeline built deploy") from exc


def wait_for_rollout(env: Environment, app: str, group: str, image: str, timeout: float, poll: float) -> str:
    """Poll the revisions until the one running `image` serves (ready) or cannot (failed)."""
    deadline = time.monotonic() + timeout
    while True:
        status = rollout_status(env.revisions(app, group), image)
        if status != "pending" or time.monotonic() >= deadline:
            return status if status != "pending" else "failed"
        time.sleep(poll)


def wait_until_ready(base_url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/health/readiness", timeout=10) as response:  # noqa: S310 (https URL from Terraform)
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(5)
    return False


def smoke(
    env: Environment, image: str, outputs: dict[str, Any], *, runner_inside_allowlist: bool, timeout: float
) -> str | None:
    """Run the smoke suite; returns why it failed, or None. Skipped (said loudly) behind an allowlist."""
    url = outputs["gateway_url"]
    if not smoke_allowed(outputs.get("ingress_allowed_ip_ranges") or [], runner_inside_allowlist):
        note = (
            f"{env.name}: smoke skipped: the ingress allowlist does not include this runner "
            "(run deploys from a runner inside it and set DEPLOY_RUNNER_INSIDE_ALLOWLIST=true; docs/deploy.md)"
        )
        print(f"::warning::{note}", file=sys.stderr)
        step_summary(note)
        return None
    if not wait_until_ready(url, timeout):
        return f"{url}/health/readiness did not answer 200 within {timeout:.0f} s"
    key = smoke_key(env, outputs)
    if not key:
        return f"the smoke key {SMOKE_SECRET} is empty"
    cmd = smoke_command(image, url)
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, env=dict(os.environ, GATEWAY_SMOKE_KEY=key), stdin=subprocess.DEVNULL, check=False)
    return None if proc.returncode == 0 else f"smoke suite failed (exit {proc.returncode})"


def smoke_key(env: Environment, outputs: dict[str, Any]) -> str:
    """The smoke project's key from Key Vault, masked in every later log line ('' when it is empty)."""
    key = env.az.read(
        [
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            outputs["key_vault_name"],
            "--name",
            SMOKE_SECRET,
            "--query",
            "value",
        ]
    )
    if key:
        print(f"::add-mask::{key}", flush=True)
    return str(key or "")


def probe(env: Environment, image: str, outputs: dict[str, Any], *, runner_inside_allowlist: bool) -> str | None:
    """Run the client probe (after a passing smoke); its matrix goes to the log and the job summary.
    Returns why it failed, or None. Skipped (said loudly) behind an allowlist, like the smoke."""
    url = outputs["gateway_url"]
    if not smoke_allowed(outputs.get("ingress_allowed_ip_ranges") or [], runner_inside_allowlist):
        note = f"{env.name}: probe skipped: the ingress allowlist does not include this runner (docs/deploy.md)"
        print(f"::warning::{note}", file=sys.stderr)
        step_summary(note)
        return None
    key = smoke_key(env, outputs)
    if not key:
        return f"the smoke key {SMOKE_SECRET} is empty"
    cmd = probe_command(image, url)
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(
            cmd,
            env=dict(os.environ, GATEWAY_SMOKE_KEY=key),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
            timeout=PROBE_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return f"client probe did not finish within {PROBE_TIMEOUT_SECONDS} s"
    print(proc.stdout, file=sys.stderr, flush=True)
    if proc.stdout.strip():
        step_summary(probe_summary(env.name, proc.stdout, proc.returncode == 0))
    return None if proc.returncode == 0 else f"client probe failed (exit {proc.returncode})"


def apply_image(
    env: Environment, image: str, *, read_only_plan: bool, approved: str | None, workdir: Path
) -> dict[str, Any]:
    """Plan with `image`, check it, apply exactly that plan. Returns the outputs (or {} under dry-run)."""
    plan_file = workdir / f"{env.name}.tfplan"
    plan = env.plan(image, read_only=read_only_plan, out=plan_file)
    changes = check_plan(env, plan)
    fingerprint = plan_fingerprint(plan, env.lock_file())
    if approved is not None and fingerprint != approved:
        raise DeployError(
            f"{env.name}: the plan differs from the approved one ({fingerprint[:16]} != {approved[:16]}): state or "
            "configuration changed since the approval; re-run the workflow to plan and approve again"
        )
    check_secrets(env, plan)
    print(f"{env.name}: {len(changes)} change(s), fingerprint {fingerprint[:16]}", file=sys.stderr)
    if env.dry_run:
        print(f"[dry-run, would run] terraform apply {plan_file}", file=sys.stderr)
        return {}
    env.tf.run("apply", "-no-color", "-input=false", str(plan_file))
    outputs: dict[str, Any] = env.tf.json("output")["deployment"]["value"]
    return outputs


def deploy(env: Environment, image: str, args: argparse.Namespace) -> int:
    check_image_exists(env.az, image)
    env.init(read_only=False)
    app = state_container_app(env.state())
    first_deploy = app is None
    previous: str | None = None
    if not first_deploy:
        assert app is not None
        serving = serving_revision(env.revisions(app["name"], app["resource_group_name"]))
        previous = revision_image(serving) if serving else None
        print(f"{env.name}: serving now: {previous or 'nothing (no healthy revision)'}", file=sys.stderr)
    else:
        print(f"{env.name}: first deploy (no Container App in state)", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="aigateway-deploy-") as tmp:
        workdir = Path(tmp)
        outputs = apply_image(
            env, image, read_only_plan=args.approved_plan is not None, approved=args.approved_plan, workdir=workdir
        )
        if env.dry_run:
            return EXIT_OK
        app_name, group = outputs["container_app_name"], outputs["resource_group_name"]
        failure = None
        if wait_for_rollout(env, app_name, group, image, args.wait_seconds, args.poll_seconds) != "ready":
            failure = f"the new revision running {image} did not become healthy"
        elif not args.no_smoke:
            failure = smoke(
                env, image, outputs, runner_inside_allowlist=args.runner_inside_allowlist, timeout=args.wait_seconds
            )
        if failure is None:
            github_output("gateway_url", outputs["gateway_url"])
            github_output("image", image)
            step_summary(f"{env.name}: deployed `{image}` to {outputs['gateway_url']}")
            print(f"{env.name}: {image} serves at {outputs['gateway_url']}", file=sys.stderr)
            if outputs.get("workbook_url"):
                print(f"{env.name}: dashboard {outputs['workbook_url']}", file=sys.stderr)
            probe_failure = (
                None
                if args.no_smoke or args.no_probe
                else probe(env, image, outputs, runner_inside_allowlist=args.runner_inside_allowlist)
            )
            if probe_failure is not None:
                # No roll-back: what the probe finds is how Azure treats a client's request, which the
                # previous revision would meet the same way; failing stops the promotion to the next stage.
                raise DeployError(
                    f"{env.name}: {image} serves, but {probe_failure}: a client is broken (matrix in the job "
                    "summary; docs/probe.md); not rolled back"
                )
            return EXIT_OK

        if previous is None or previous == image:
            raise DeployError(
                f"{env.name}: {failure}; nothing to roll back to "
                f"({'first deploy' if first_deploy else 'no revision served before'})"
            )
        print(f"{env.name}: {failure}: rolling back to {previous}", file=sys.stderr)
        apply_image(env, previous, read_only_plan=False, approved=None, workdir=workdir)
        restored = wait_for_rollout(env, app_name, group, previous, args.wait_seconds, args.poll_seconds) == "ready"
        verdict = (
            f"rolled back to {previous}, which serves"
            if restored
            else f"roll-back to {previous} did not become healthy either"
        )
        step_summary(f"{env.name}: deploy of `{image}` failed ({failure}); {verdict}")
        raise DeployError(f"{env.name}: deploy of {image} failed ({failure}); {verdict}")


def keep_image(env: Environment, registry: str) -> str:
    """The image state records (what the app is configured to run), or a placeholder for a new environment."""
    app = state_container_app(env.state())
    if app is not None:
        return app_image(app)
    return f"{registry or 'registry.invalid'}/aigateway@{PLACEHOLDER_DIGEST}"


def plan_only(env: Environment, args: argparse.Namespace) -> int:
    env.init(read_only=True)
    if args.keep_image:
        image = keep_image(env, args.registry)
    else:
        image = resolve_image(args.registry, image=args.image, requested=args.requested_digest)
    github_output("image", image)
    with tempfile.TemporaryDirectory(prefix="aigateway-plan-") as tmp:
        plan_file = Path(tmp) / f"{env.name}.tfplan"
        plan = env.plan(image, read_only=True, out=plan_file)
        text = env.tf.run("show", "-no-color", str(plan_file), capture=True).stdout
    changes = plan_changes(plan)
    fingerprint = plan_fingerprint(plan, env.lock_file())
    step_summary(plan_summary(env.name, changes, fingerprint, text))
    github_output("fingerprint", fingerprint)
    print(f"{env.name}: fingerprint {fingerprint}", file=sys.stderr)
    unsafe = unsafe_changes(changes)
    if unsafe:
        raise DeployError(
            f"{env.name}: this change would destroy {', '.join(unsafe)}; the pipeline will refuse to apply it"
        )
    return EXIT_OK


def drift(env: Environment, args: argparse.Namespace) -> int:
    env.init(read_only=True)
    app = state_container_app(env.state())
    if app is None:
        step_summary(f"{env.name}: not deployed yet; nothing to compare")
        return EXIT_OK
    recorded = app_image(app)
    findings = []
    with tempfile.TemporaryDirectory(prefix="aigateway-drift-") as tmp:
        plan = env.plan(recorded, read_only=True, out=Path(tmp) / "drift.tfplan")
    pending = [c for c in plan_changes(plan) if c.actions != ("no-op",) and c.actions != ("read",)]
    if pending:
        findings.append(
            "configuration on main differs from state: "
            + ", ".join(f"{c.address} {'/'.join(c.actions)}" for c in pending)
        )
    serving = serving_revision(env.revisions(app["name"], app["resource_group_name"]))
    if serving is None:
        findings.append("no revision is serving")
    elif revision_image(serving) != recorded:
        findings.append(
            f"Azure serves {revision_image(serving)} but state records {recorded} (a manual `az containerapp update`?)"
        )
    if findings:
        step_summary(f"### Drift in {env.name}\n\n" + "\n".join(f"- {f}" for f in findings))
        print(f"{env.name}: drift: " + "; ".join(findings), file=sys.stderr)
        return EXIT_DRIFT
    step_summary(f"{env.name}: no drift")
    return EXIT_OK


# ------------------------------------------------------------------------------------------ command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, choices=ENVIRONMENTS)
    common.add_argument(
        "--state-account", default=os.environ.get("TFSTATE_STORAGE_ACCOUNT", ""), help="Terraform state storage account"
    )
    common.add_argument("--local-state", type=Path, help="keep state in this directory (offline rehearsal only)")
    common.add_argument("--root", type=Path, help="Terraform root (default: infra/env/<env>)")
    common.add_argument("--dry-run", action="store_true", help="plan and decide, apply nothing")

    images = argparse.ArgumentParser(add_help=False)
    images.add_argument("--image", default="", help="whole image reference, from the previous stage")
    images.add_argument("--requested-digest", default="", help="digest a dispatch asked for")
    images.add_argument("--registry", default=os.environ.get("REGISTRY_LOGIN_SERVER", ""), help="registry login server")

    route = sub.add_parser("targets", help="which environments this run deploys (GitHub outputs dev/uat/prod)")
    route.add_argument("--event", required=True)
    route.add_argument("--requested", default="")

    dep = sub.add_parser("deploy", parents=[common, images], help="plan, apply, verify, smoke; roll back on failure")
    dep.add_argument("--built-digest", default="", help="digest the build step pushed")
    dep.add_argument("--approved-plan", help="fingerprint the reviewer approved (uat/prod): apply only that plan")
    dep.add_argument("--no-smoke", action="store_true", help="verify the revision only")
    dep.add_argument("--no-probe", action="store_true", help="smoke, but skip the client probe")
    dep.add_argument(
        "--runner-inside-allowlist",
        action="store_true",
        default=os.environ.get("DEPLOY_RUNNER_INSIDE_ALLOWLIST") == "true",
    )
    dep.add_argument("--wait-seconds", type=float, default=600.0, help="how long a new revision may take to serve")
    dep.add_argument("--poll-seconds", type=float, default=10.0)

    plan = sub.add_parser("plan", parents=[common, images], help="read-only plan for reviewers and pull requests")
    plan.add_argument("--keep-image", action="store_true", help="the image state records (infrastructure-only plan)")

    sub.add_parser("drift", parents=[common], help="scheduled: report differences, apply nothing")
    return parser.parse_args(argv)


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "targets":
        for env_name, deployed in targets(args.event, args.requested).items():
            github_output(env_name, "true" if deployed else "false")
            print(f"{env_name}: {'deploy' if deployed else 'skip'}")
        return EXIT_OK
    env = Environment(
        name=args.env,
        root=(args.root or ROOT / "infra" / "env" / args.env).resolve(),
        az=Az(dry_run=args.dry_run),
        state_account=args.state_account,
        local_state=args.local_state.resolve() if args.local_state else None,
        dry_run=args.dry_run,
    )
    try:
        if args.command == "deploy":
            image = resolve_image(
                args.registry, image=args.image, built=args.built_digest, requested=args.requested_digest
            )
            return deploy(env, image, args)
        if args.command == "plan":
            return plan_only(env, args)
        return drift(env, args)
    finally:
        env.override_file.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    return main_guard(run, argv)


if __name__ == "__main__":
    sys.exit(main())

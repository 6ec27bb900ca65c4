"""One fake Azure subscription in a JSON file, shared by the fake ``az`` and the rehearsal provider.

The deploy rehearsal (tests/infra/test_rehearsal.py) runs the real bootstrap and deploy scripts against a
fake ``az`` (tests/delivery/fake_az.py) and real Terraform against the offline provider in fake-Azure mode
(:mod:`azurerm_offline.provider`). Both read and write the same file, so what the bootstrap creates is
what Terraform's data sources find, and what Terraform applies is what ``az containerapp`` reports.

Standard library only: the fake ``az`` runs under ``python -S``.

Shape of the file (every key optional; :func:`empty_state` has them all)::

    account         {"id": <subscription>, "tenantId", "user": {"name"}}
    groups          name -> {"id", "name", "location", "tags"}
    identities      name -> {"id", "name", "resourceGroup", "principalId", "clientId", "tenantId"}
    vaults          name -> {"id", "name", "resourceGroup", "location", "properties": {"vaultUri",
                             "enableRbacAuthorization", "enablePurgeProtection", "softDeleteRetentionInDays"},
                             "secrets": name -> {"versions", "sha256"}}
    registries      resource group -> [{"id", "name", "loginServer", "images": ["<repo>@sha256:..."]}]
    resources       Terraform-managed objects: id -> {"type", "name", "resourceGroup"}
    containerapps   name -> the app and its revisions (:func:`apply_container_app`)
    failing_images  images whose revisions never become healthy (a broken build, for the rehearsal)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
TENANT = "00000000-0000-0000-0000-0000000000aa"
ENV_VAR = "FAKE_AZURE_STATE"  # path of the JSON file; set for the provider and the fake az alike


def empty_state() -> dict[str, Any]:
    return {
        "logged_in": True,
        "account": {"id": SUBSCRIPTION, "tenantId": TENANT, "name": "fake", "user": {"name": "ops@example.com"}},
        "groups": {},
        "locks": {},
        "storage": {},
        "taken_storage_names": [],
        "blob_props": {},
        "containers": {},
        "blobs": {},
        "apps": [],
        "sps": [],
        "fics": {},
        "role_assignments": [],
        "role_definitions": [],
        "identities": {},
        "vaults": {},
        "registries": {},
        "resources": {},
        "containerapps": {},
        "failing_images": [],
        "gh_envs": [],
        "gh_vars": {},
    }


@contextlib.contextmanager
def locked(path: str) -> Iterator[dict[str, Any]]:
    """Load the state under an exclusive lock and write it back on success (Terraform applies in parallel)."""
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = empty_state()
        if os.path.exists(path):
            with open(path) as f:
                state.update(json.load(f))
        yield state
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
        os.replace(tmp, path)


def read_state(path: str) -> dict[str, Any]:
    """A snapshot of the state for readers (shared lock, nothing written back)."""
    state = empty_state()
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        if os.path.exists(path):
            with open(path) as f:
                state.update(json.load(f))
    return state


def _revision_suffix(app: str, number: int) -> str:
    return hashlib.sha256(f"{app}/{number}".encode()).hexdigest()[:7]


def apply_container_app(state: dict[str, Any], name: str, resource_group: str, image: str, template_key: str) -> None:
    """What Azure does when a Container App is created or its template changes, in single revision mode.

    A template change makes a new revision. A healthy one takes all traffic and the old one is
    deactivated; one that never becomes healthy (its image in ``failing_images``) is left failed and
    the previous revision keeps serving. An unchanged template (``template_key``) makes no revision.
    """
    app = state["containerapps"].setdefault(
        name, {"name": name, "resourceGroup": resource_group, "revisions": [], "templateKey": None}
    )
    if app["templateKey"] == template_key:
        return
    app["templateKey"] = template_key
    healthy = image not in state["failing_images"]
    revision = {
        "name": f"{name}--{_revision_suffix(name, len(app['revisions']) + 1)}",
        "image": image,
        "active": healthy,
        "trafficWeight": 100 if healthy else 0,
        "healthState": "Healthy" if healthy else "Unhealthy",
        "provisioningState": "Provisioned" if healthy else "Failed",
        "runningState": "Running" if healthy else "Failed",
    }
    if healthy:
        for old in app["revisions"]:
            old["active"], old["trafficWeight"] = False, 0
            if old["runningState"] == "Running":
                old["runningState"] = "Stopped"
    app["revisions"].append(revision)


def delete_container_app(state: dict[str, Any], name: str) -> None:
    state["containerapps"].pop(name, None)


def container_app_view(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    """``az containerapp show``: the fields the deploy script reads."""
    app = state["containerapps"].get(name)
    if app is None:
        return None
    revisions = app["revisions"]
    ready = [r for r in revisions if r["healthState"] == "Healthy"]
    # Like Azure, the app's template is the latest one asked for, whether or not its revision came up:
    # which image serves is only known from the revisions.
    image = revisions[-1]["image"]
    return {
        "name": name,
        "resourceGroup": app["resourceGroup"],
        "properties": {
            "provisioningState": "Succeeded",
            "latestRevisionName": revisions[-1]["name"],
            "latestReadyRevisionName": ready[-1]["name"] if ready else None,
            "configuration": {"activeRevisionsMode": "Single"},
            "template": {"containers": [{"name": "gateway", "image": image}]},
        },
    }


def revision_list(state: dict[str, Any], name: str) -> list[dict[str, Any]] | None:
    """``az containerapp revision list --all``: newest last."""
    app = state["containerapps"].get(name)
    if app is None:
        return None
    return [
        {
            "name": r["name"],
            "properties": {
                "active": r["active"],
                "trafficWeight": r["trafficWeight"],
                "healthState": r["healthState"],
                "provisioningState": r["provisioningState"],
                "runningState": r["runningState"],
                "template": {"containers": [{"name": "gateway", "image": r["image"]}]},
            },
        }
        for r in app["revisions"]
    ]

"""A fake `az` (and `gh`) for the bootstrap and deploy script tests, on the shared fake subscription.

Installed by :func:`install` (the `fake_cli` fixture, the deploy rehearsal) as executables named `az` and
`gh` first on PATH; it runs under ``python -S``. Resources live in the JSON file named by
``FAKE_AZURE_STATE`` (:data:`fake_azure.ENV_VAR`), read and written through
``infra/offline/azurerm_offline/fake_azure.py`` (:func:`fake_azure.locked`), the same file the offline
Terraform provider uses in fake-Azure mode: what the bootstrap creates is what Terraform's data sources
find. Tests pre-create ("existing") or leave out ("missing") anything by editing that file. Every call is
appended to the JSON-lines log named by ``FAKE_CLI_LOG`` (argv, whether it writes, stdin size).

Honest where it matters: a command on a scope, group, principal or name that does not exist fails as
Azure would (exit 3 for not found); creating a role assignment that exists fails (RoleAssignmentExists),
so a missing guard shows; a secret value sent on stdin is stored only as a sha256, and a value in argv
or read from a file fails the call. Unknown commands exit 99, so a script using an unsimulated command
fails its test loudly.

State keys beyond fake_azure's documented shape (all optional, read with defaults):
    locks           group -> [{"id", "name", "level", "notes"}]
    ad_groups       object id -> {"id", "displayName"}   (Entra groups, e.g. the operators group)
    deleted_vaults  name -> an `az keyvault list-deleted` entry (soft-deleted vaults hold their name)
    taken_vault_names, taken_registry_names   names taken elsewhere in Azure (storage: taken_storage_names)
    kv_forbidden    vault names whose data plane answers 403 (a role assignment still propagating)
    gh_env_settings environment -> {"deployment_branch_policy", "branch_policies", "protection_rules"}
Registries store ``sku`` as a string (as the provider's data source reads it); `az acr show` expands it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fake runs with python -S: keep start-up imports to the minimum
    from pathlib import Path
    from typing import Any

REPO_ROOT: str | None = None  # install() writes the repository's path here in the installed copy
LOG_VAR = "FAKE_CLI_LOG"
WRITE_VERBS = {
    "register",
    "create",
    "update",
    "set",
    "delete",
    "import",
    "add",
    "remove",
    "restart",
    "purge",
    "recover",
}
GH_WRITE_METHODS = {"PUT", "POST", "PATCH", "DELETE"}
BUILTIN_ROLES = {
    "Owner",
    "Contributor",
    "Reader",
    "User Access Administrator",
    "Role Based Access Control Administrator",
    "Storage Blob Data Contributor",
    "Storage Blob Data Reader",
    "Key Vault Secrets Officer",
    "Key Vault Secrets User",
    "AcrPush",
    "AcrPull",
    "Cognitive Services OpenAI User",
}


def _repo_root() -> str:
    return REPO_ROOT or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load_fake_azure(light: bool) -> Any:
    """``azurerm_offline.fake_azure``, standard library only.

    As the fake CLI (``light``), the package's ``__init__`` is skipped: it imports the schema builder and
    mirror (~25 ms on every call) and may one day import third-party modules, which ``python -S`` lacks.
    """
    offline = os.path.join(_repo_root(), "infra", "offline")
    if light and "azurerm_offline" not in sys.modules:
        import types

        package = types.ModuleType("azurerm_offline")
        package.__path__ = [os.path.join(offline, "azurerm_offline")]
        sys.modules["azurerm_offline"] = package
    if offline not in sys.path:
        sys.path.insert(0, offline)
    from azurerm_offline import fake_azure

    return fake_azure


fake_azure = _load_fake_azure(light=__name__ == "__main__")
SUB: str = fake_azure.SUBSCRIPTION
TENANT: str = fake_azure.TENANT
ENV_VAR: str = fake_azure.ENV_VAR


def install(bin_dir: Path, *, gh: bool = False) -> Path:
    """Write the fake as ``bin_dir/az`` (and ``gh``), with this repository's path embedded."""
    with open(__file__) as source:  # the fake avoids pathlib at start-up; this runs in the tests only
        text = source.read()
    marker = "REPO_ROOT: str | None = None"
    assert marker in text
    az = bin_dir / "az"
    # -S (no site import): the fake needs only the standard library and starts ~5x faster.
    az.write_text(f"#!{sys.executable} -S\n" + text.replace(marker, f"REPO_ROOT: str | None = {_repo_root()!r}", 1))
    az.chmod(0o755)
    if gh:
        (bin_dir / "gh").symlink_to(az)
    return az


# ------------------------------------------------------------------------------------- test helpers


def empty_state() -> dict[str, Any]:
    state: dict[str, Any] = fake_azure.empty_state()
    return state


def add_ad_group(state: dict[str, Any], object_id: str, name: str) -> None:
    state.setdefault("ad_groups", {})[object_id] = {"id": object_id, "displayName": name}


def add_resource(state: dict[str, Any], resource_id: str, arm_type: str) -> None:
    """An object outside the bootstrap's making (e.g. the Azure OpenAI account), as a role scope."""
    state["resources"][resource_id] = {
        "type": arm_type,
        "name": resource_id.rsplit("/", 1)[1],
        "resourceGroup": resource_id.split("/")[4],
    }


def add_image(state: dict[str, Any], registry: str, image: str) -> None:
    """Push ``<repository>@sha256:...`` (or ``<repository>:<tag>``) to the registry named ``registry``."""
    for registries in state["registries"].values():
        for entry in registries:
            if entry["name"] == registry:
                entry.setdefault("images", []).append(image)
                return
    raise KeyError(f"no registry {registry}")


def add_deleted_vault(state: dict[str, Any], name: str, group: str, purge_protection: bool = True) -> None:
    vault_id = f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"
    state.setdefault("deleted_vaults", {})[name] = {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/southafricanorth/deletedVaults/{name}",
        "name": name,
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": vault_id,
            "location": "southafricanorth",
            "deletionDate": "2026-11-01T00:00:00+00:00",
            "scheduledPurgeDate": "2027-01-30T00:00:00+00:00",
            "purgeProtectionEnabled": purge_protection,
        },
    }


# ------------------------------------------------------------------------------------- plumbing


class Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Positional words, and each option's values (a repeated option accumulates: `-f a=1 -f b=2`)."""
    words: list[str] = []
    opts: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            values = opts.setdefault(arg.lstrip("-"), [])
            i += 1
            while i < len(argv) and (not argv[i].startswith("-") or argv[i] == "-"):
                values.append(argv[i])
                i += 1
        else:
            words.append(arg)
            i += 1
    return words, opts


def one(opts: dict[str, list[str]], *keys: str) -> str:
    for key in keys:
        if opts.get(key):
            return opts[key][0]
    raise Fail(2, f"fake az: missing --{keys[0]}")


def opt(opts: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        if opts.get(key):
            return opts[key][0]
    return None


def flag(opts: dict[str, list[str]], key: str) -> bool | None:
    value = opt(opts, key)
    return None if value is None else value.lower() == "true"


def tags_of(opts: dict[str, list[str]]) -> dict[str, str]:
    pairs = [t.partition("=") for t in opts.get("tags", [])]
    return {key: value for key, _, value in pairs}


def not_found(what: str) -> Fail:
    return Fail(3, f"ERROR: (ResourceNotFound) The Resource '{what}' was not found.")


def group_not_found(name: str) -> Fail:
    return Fail(3, f"ERROR: (ResourceGroupNotFound) Resource group '{name}' could not be found.")


def new_id() -> str:
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def sub_id(st: dict[str, Any]) -> str:
    return f"/subscriptions/{st['account']['id']}"


def need_group(st: dict[str, Any], opts: dict[str, list[str]]) -> str:
    group = one(opts, "resource-group", "g")
    if group not in st["groups"]:
        raise group_not_found(group)
    return group


def in_group(entry: dict[str, Any], opts: dict[str, list[str]]) -> bool:
    group = opt(opts, "resource-group", "g")
    return group is None or str(entry.get("resourceGroup", "")).lower() == group.lower()


def registries(st: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for entries in st["registries"].values() for r in entries]


def registry_by_name(st: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in registries(st):
        if entry["name"] == name:
            return entry
    message = f"The resource with name '{name}' and type 'Microsoft.ContainerRegistry/registries' could not be found"
    raise Fail(3, f"ERROR: {message} in subscription.")


def registry_view(entry: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in entry.items() if k != "images"}
    sku = entry.get("sku", "Basic")
    view["sku"] = sku if isinstance(sku, dict) else {"name": sku, "tier": sku}
    view["type"] = "Microsoft.ContainerRegistry/registries"
    return view


def vault_view(entry: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in entry.items() if k != "secrets"}
    view["type"] = "Microsoft.KeyVault/vaults"
    return view


def container_id(st: dict[str, Any], account: str, container: str) -> str:
    return f"{st['storage'][account]['id']}/blobServices/default/containers/{container}"


def scope_exists(st: dict[str, Any], scope: str) -> bool:
    wanted = scope.rstrip("/").lower()
    ids = [sub_id(st)]
    ids += [g["id"] for g in st["groups"].values()]
    for kind in ("identities", "vaults", "storage"):
        ids += [e["id"] for e in st[kind].values()]
    ids += [r["id"] for r in registries(st)]
    ids += [container_id(st, a, c) for a, names in st["containers"].items() if a in st["storage"] for c in names]
    ids += list(st["resources"])
    return any(i.lower() == wanted for i in ids)


def principal_exists(st: dict[str, Any], object_id: str) -> bool:
    return (
        any(s["id"] == object_id for s in st["sps"])
        or any(i.get("principalId") == object_id for i in st["identities"].values())
        or object_id in st.get("ad_groups", {})
    )


def vault_data_plane(st: dict[str, Any], opts: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    name = one(opts, "vault-name")
    if name not in st["vaults"]:
        raise Fail(1, f"ERROR: Failed to resolve '{name}.vault.azure.net'")
    if name in st.get("kv_forbidden", []):
        raise Fail(
            1,
            "ERROR: (Forbidden) Caller is not authorized to perform action on resource.\n"
            "If role assignments, deny assignments or role definitions were changed recently, please observe "
            "propagation time.\nCode: Forbidden",
        )
    return name, st["vaults"][name]


# ------------------------------------------------------------------------------------- az commands


class Unsupported(Exception):
    """A command this fake does not simulate (exit 99)."""


def az_groups(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Groups and locks."""
    if cmd == "group show":
        name = one(opts, "name", "n")
        if name not in st["groups"]:
            raise group_not_found(name)
        return st["groups"][name]
    if cmd == "group create":
        name = one(opts, "name", "n")
        group = st["groups"].setdefault(name, {"id": f"{sub_id(st)}/resourceGroups/{name}", "name": name})
        group.update(location=one(opts, "location", "l"), tags=tags_of(opts))
        return group
    if cmd == "lock list":
        return st["locks"].get(need_group(st, opts), [])
    if cmd == "lock create":
        group = need_group(st, opts)
        name = one(opts, "name", "n")
        lock = {
            "id": f"{st['groups'][group]['id']}/providers/Microsoft.Authorization/locks/{name}",
            "name": name,
            "level": one(opts, "lock-type", "t"),
            "notes": opt(opts, "notes"),
        }
        locks = [lk for lk in st["locks"].setdefault(group, []) if lk["name"] != name]
        st["locks"][group] = [*locks, lock]
        return lock
    raise Unsupported


def az_storage(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Storage."""
    if cmd == "storage account check-name":
        name = one(opts, "name", "n")
        taken = name in st["taken_storage_names"] or name in st["storage"]
        return {"nameAvailable": not taken, "reason": "AlreadyExists" if taken else None}
    if cmd == "storage account list":
        group = need_group(st, opts)
        return [a for a in st["storage"].values() if a.get("resourceGroup") == group]
    if cmd == "storage account show":
        name = one(opts, "name", "n")
        if name not in st["storage"] or not in_group(st["storage"][name], opts):
            raise not_found(name)
        return st["storage"][name]
    if cmd in ("storage account create", "storage account update"):
        name = one(opts, "name", "n")
        if cmd.endswith("create"):
            group = need_group(st, opts)
            if name in st["taken_storage_names"]:
                raise Fail(1, f"ERROR: (StorageAccountAlreadyTaken) The storage account named {name} is taken.")
            st["storage"][name] = {
                "id": f"{st['groups'][group]['id']}/providers/Microsoft.Storage/storageAccounts/{name}",
                "name": name,
                "resourceGroup": group,
                "location": one(opts, "location", "l"),
                "sku": {"name": one(opts, "sku")},
                "kind": one(opts, "kind"),
                "tags": tags_of(opts),
                "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
                "allowSharedKeyAccess": True,
                "minimumTlsVersion": "TLS1_0",
                "allowBlobPublicAccess": True,
                "enableHttpsTrafficOnly": False,
            }
        elif name not in st["storage"]:
            raise not_found(name)
        account = st["storage"][name]
        mapping = {
            "allow-shared-key-access": "allowSharedKeyAccess",
            "allow-blob-public-access": "allowBlobPublicAccess",
            "https-only": "enableHttpsTrafficOnly",
        }
        for option, prop in mapping.items():
            if option in opts:
                account[prop] = flag(opts, option)
        if "min-tls-version" in opts:
            account["minimumTlsVersion"] = one(opts, "min-tls-version")
        return account
    if cmd == "storage account blob-service-properties show":
        name = one(opts, "account-name", "n")
        if name not in st["storage"]:
            raise not_found(name)
        return st["blob_props"].get(name, {})
    if cmd == "storage account blob-service-properties update":
        name = one(opts, "account-name", "n")
        if name not in st["storage"]:
            raise not_found(name)
        st["blob_props"][name] = {
            "isVersioningEnabled": flag(opts, "enable-versioning"),
            "deleteRetentionPolicy": {
                "enabled": flag(opts, "enable-delete-retention"),
                "days": int(one(opts, "delete-retention-days")),
            },
            "containerDeleteRetentionPolicy": {
                "enabled": flag(opts, "enable-container-delete-retention"),
                "days": int(one(opts, "container-delete-retention-days")),
            },
        }
        return st["blob_props"][name]
    if cmd in ("storage container-rm show", "storage container-rm create"):
        account, name = one(opts, "storage-account"), one(opts, "name", "n")
        if account not in st["storage"]:
            raise not_found(account)
        containers = st["containers"].setdefault(account, [])
        if cmd.endswith("show"):
            if name not in containers:
                raise not_found(name)
        elif name not in containers:
            containers.append(name)
        return {"id": container_id(st, account, name), "name": name, "publicAccess": "None"}
    if cmd == "storage blob exists":
        account, container = one(opts, "account-name"), one(opts, "container-name", "c")
        if account not in st["storage"]:
            raise Fail(1, f"ERROR: Failed to resolve '{account}.blob.core.windows.net'")
        return {"exists": one(opts, "name", "n") in st["blobs"].get(account, {}).get(container, [])}
    raise Unsupported


def az_identity(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Managed identities."""
    if cmd == "identity show":
        name = one(opts, "name", "n")
        found = st["identities"].get(name)
        if found is None or not in_group(found, opts):
            raise not_found(f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
        return found
    if cmd == "identity list":
        return [i for i in st["identities"].values() if in_group(i, opts)]
    if cmd == "identity create":
        group, name = need_group(st, opts), one(opts, "name", "n")
        if name not in st["identities"]:
            st["identities"][name] = {
                "id": f"{st['groups'][group]['id']}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                "name": name,
                "resourceGroup": group,
                "location": opt(opts, "location", "l") or st["groups"][group].get("location"),
                "principalId": new_id(),
                "clientId": new_id(),
                "tenantId": st["account"]["tenantId"],
                "tags": tags_of(opts),
            }
        return st["identities"][name]
    raise Unsupported


def az_keyvault(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Key Vault."""
    if cmd == "keyvault list":
        need_group(st, opts)
        return [vault_view(v) for v in st["vaults"].values() if in_group(v, opts)]
    if cmd == "keyvault show":
        name = one(opts, "name", "n")
        if name not in st["vaults"] or not in_group(st["vaults"][name], opts):
            raise Fail(3, f"ERROR: (ResourceNotFound) The Resource 'Microsoft.KeyVault/vaults/{name}' was not found.")
        return vault_view(st["vaults"][name])
    if cmd == "keyvault list-deleted":
        return list(st.get("deleted_vaults", {}).values())
    if cmd == "keyvault check-name":
        name = one(opts, "name", "n")
        taken = name in st["vaults"] or name in st.get("deleted_vaults", {}) or name in st.get("taken_vault_names", [])
        return {
            "nameAvailable": not taken,
            "reason": "AlreadyExists" if taken else None,
            "message": f"The vault name '{name}' is already in use." if taken else None,
        }
    if cmd == "keyvault create":
        group, name = need_group(st, opts), one(opts, "name", "n")
        if name in st["vaults"] or name in st.get("deleted_vaults", {}) or name in st.get("taken_vault_names", []):
            raise Fail(1, f"ERROR: (VaultAlreadyExists) The vault name '{name}' is already in use.")
        days = int(opt(opts, "retention-days") or 90)
        if not 7 <= days <= 90:
            raise Fail(1, "ERROR: softDeleteRetentionInDays must be between 7 and 90")
        st["vaults"][name] = {
            "id": f"{st['groups'][group]['id']}/providers/Microsoft.KeyVault/vaults/{name}",
            "name": name,
            "resourceGroup": group,
            "location": one(opts, "location", "l"),
            "tags": tags_of(opts),
            "properties": {
                "vaultUri": f"https://{name}.vault.azure.net/",
                "tenantId": st["account"]["tenantId"],
                "sku": {"family": "A", "name": opt(opts, "sku") or "standard"},
                "enableRbacAuthorization": flag(opts, "enable-rbac-authorization") is not False,  # CLI default
                "enablePurgeProtection": True if flag(opts, "enable-purge-protection") else None,
                "enableSoftDelete": True,
                "softDeleteRetentionInDays": days,
                "publicNetworkAccess": opt(opts, "public-network-access") or "Enabled",
            },
            "secrets": {},
        }
        return vault_view(st["vaults"][name])
    if cmd == "keyvault update":
        name = one(opts, "name", "n")
        if name not in st["vaults"]:
            raise not_found(f"Microsoft.KeyVault/vaults/{name}")
        props = st["vaults"][name]["properties"]
        if flag(opts, "enable-rbac-authorization") is not None:
            props["enableRbacAuthorization"] = flag(opts, "enable-rbac-authorization")
        if flag(opts, "enable-purge-protection") is not None:
            if props.get("enablePurgeProtection") and not flag(opts, "enable-purge-protection"):
                raise Fail(1, "ERROR: Purge protection cannot be disabled once enabled.")
            props["enablePurgeProtection"] = flag(opts, "enable-purge-protection") or None
        return vault_view(st["vaults"][name])
    if cmd == "keyvault secret list":
        name, vault = vault_data_plane(st, opts)
        return [{"name": n, "id": f"https://{name}.vault.azure.net/secrets/{n}"} for n in vault["secrets"]]
    if cmd == "keyvault secret show":
        name, vault = vault_data_plane(st, opts)
        secret = one(opts, "name", "n")
        if secret not in vault["secrets"]:
            raise Fail(3, f"ERROR: (SecretNotFound) A secret with (name/id) {secret} was not found in this key vault.")
        return {"id": f"https://{name}.vault.azure.net/secrets/{secret}", "name": secret, "value": f"fake-{secret}"}
    if cmd == "keyvault secret set":
        name, vault = vault_data_plane(st, opts)
        if "value" in opts:
            raise Fail(97, "fake az: secret value passed in argv")
        if one(opts, "file", "f") != "/dev/stdin":
            raise Fail(98, "fake az: secret read from a file on disk")
        if not stdin:
            raise Fail(1, "ERROR: empty secret value on stdin")
        secret = vault["secrets"].setdefault(one(opts, "name", "n"), {"versions": 0})
        secret["versions"] += 1
        secret["sha256"] = hashlib.sha256(stdin.encode()).hexdigest()
        return {"id": f"https://{name}.vault.azure.net/secrets/{one(opts, 'name', 'n')}", "value": stdin}
    raise Unsupported


def az_acr(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Container registry."""
    if cmd == "acr check-name":
        name = one(opts, "name", "n")
        taken = any(r["name"] == name for r in registries(st)) or name in st.get("taken_registry_names", [])
        return {
            "nameAvailable": not taken,
            "reason": "AlreadyExists" if taken else None,
            "message": f"The registry {name} is already in use." if taken else None,
        }
    if cmd == "acr list":
        return [registry_view(r) for r in st["registries"].get(need_group(st, opts), [])]
    if cmd == "acr show":
        entry = registry_by_name(st, one(opts, "name", "n"))
        if not in_group(entry, opts):
            raise not_found(entry["name"])
        return registry_view(entry)
    if cmd == "acr create":
        group, name = need_group(st, opts), one(opts, "name", "n")
        if any(r["name"] == name for r in registries(st)) or name in st.get("taken_registry_names", []):
            raise Fail(1, f"ERROR: The registry {name} is already in use.")
        entry = {
            "id": f"{st['groups'][group]['id']}/providers/Microsoft.ContainerRegistry/registries/{name}",
            "name": name,
            "resourceGroup": group,
            "location": one(opts, "location", "l"),
            "loginServer": f"{name}.azurecr.io",
            "sku": one(opts, "sku"),
            "adminUserEnabled": bool(flag(opts, "admin-enabled")),
            "tags": tags_of(opts),
            "images": [],
        }
        st["registries"].setdefault(group, []).append(entry)
        return registry_view(entry)
    if cmd == "acr update":
        entry = registry_by_name(st, one(opts, "name", "n"))
        if flag(opts, "admin-enabled") is not None:
            entry["adminUserEnabled"] = flag(opts, "admin-enabled")
        return registry_view(entry)
    if cmd == "acr login":
        registry_by_name(st, one(opts, "name", "n"))
        return None
    if cmd == "acr repository show":
        entry = registry_by_name(st, one(opts, "name", "n"))
        image = one(opts, "image", "t")
        if image not in entry.get("images", []):
            raise Fail(1, f"ERROR: (MANIFEST_UNKNOWN) manifest unknown: manifest {image} is not found")
        reference = image.split("@", 1)[1] if "@" in image else image.split(":", 1)[1]
        return {
            "digest": reference if reference.startswith("sha256:") else None,
            "name": reference,
            "registry": entry["loginServer"],
            "imageName": image,
            "changeableAttributes": {"deleteEnabled": True, "listEnabled": True, "readEnabled": True},
        }
    raise Unsupported


def az_containerapp(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Container Apps."""
    if cmd in ("containerapp show", "containerapp revision list", "containerapp update"):
        name, group = one(opts, "name", "n"), one(opts, "resource-group", "g")
        app = st["containerapps"].get(name)
        if app is None or app.get("resourceGroup") != group:
            raise not_found(f"Microsoft.App/containerApps/{name}")
        if cmd == "containerapp revision list":
            return fake_azure.revision_list(st, name)
        if cmd == "containerapp update":
            image = one(opts, "image")
            fake_azure.apply_container_app(st, name, group, image, hashlib.sha256(image.encode()).hexdigest())
        return fake_azure.container_app_view(st, name)
    raise Unsupported


def az_resource(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Generic resources."""
    if cmd == "resource show":
        wanted = one(opts, "ids")
        if not scope_exists(st, wanted):
            raise not_found(wanted)
        record = st["resources"].get(wanted, {})
        return {"id": wanted, "name": wanted.rstrip("/").rsplit("/", 1)[1], "type": record.get("type")}
    raise Unsupported


def az_monitor(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Log Analytics workspaces and diagnostic settings (the shared layer's audit)."""
    if cmd in ("monitor log-analytics workspace show", "monitor log-analytics workspace create"):
        group, name = need_group(st, opts), one(opts, "workspace-name", "n")
        workspaces = st.setdefault("workspaces", {})
        if cmd.endswith("show"):
            if name not in workspaces:
                raise not_found(name)
            return workspaces[name]
        workspaces[name] = {
            "id": f"{sub_id(st)}/resourceGroups/{group}/providers/Microsoft.OperationalInsights/workspaces/{name}",
            "name": name,
            "retentionInDays": int(one(opts, "retention-time")),
        }
        return workspaces[name]
    if cmd in ("monitor diagnostic-settings list", "monitor diagnostic-settings create"):
        target = one(opts, "resource")
        if not scope_exists(st, target.removesuffix("/blobServices/default")):
            raise not_found(target)
        settings = st.setdefault("diagnostic_settings", {}).setdefault(target, [])
        if cmd.endswith("list"):
            return settings
        workspace = one(opts, "workspace")
        if not any(w["id"] == workspace for w in st.get("workspaces", {}).values()):
            raise not_found(workspace)
        entry = {"name": one(opts, "name"), "workspaceId": workspace, "logs": json.loads(one(opts, "logs"))}
        settings.append(entry)
        return entry
    raise Unsupported


def az_provider(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Resource provider registration (subscription level)."""
    registered = st.setdefault("providers", [])
    namespace = one(opts, "namespace", "n")
    if cmd == "provider show":
        return {
            "namespace": namespace,
            "registrationState": "Registered" if namespace in registered else "NotRegistered",
        }
    if cmd == "provider register":
        if namespace not in registered:
            registered.append(namespace)
        return None
    raise Unsupported


def az_ad(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Entra ID."""
    if cmd == "ad group show":
        group_id = one(opts, "group", "g")
        found = st.get("ad_groups", {}).get(group_id)
        if found is None:
            absent = "does not exist or one of its queried reference-property objects are not present"
            raise Fail(3, f"ERROR: Resource '{group_id}' {absent}.")
        return found
    if cmd == "ad app list":
        name = one(opts, "display-name")
        return [a for a in st["apps"] if a["displayName"].startswith(name)]
    if cmd == "ad app create":
        app = {"appId": new_id(), "id": new_id(), "displayName": one(opts, "display-name")}
        st["apps"].append(app)
        return app
    if cmd == "ad sp list":
        app_id = one(opts, "filter").split("'")[1]
        return [s for s in st["sps"] if s["appId"] == app_id]
    if cmd == "ad sp create":
        app_id = one(opts, "id")
        if not any(a["appId"] == app_id for a in st["apps"]):
            raise Fail(1, f"ERROR: app {app_id} does not exist")
        sp = {"id": new_id(), "appId": app_id}
        st["sps"].append(sp)
        return sp
    if cmd == "ad app federated-credential list":
        return st["fics"].get(one(opts, "id"), [])
    if cmd == "ad app federated-credential create":
        app_id = one(opts, "id")
        if not any(a["appId"] == app_id for a in st["apps"]):
            raise Fail(1, f"ERROR: app {app_id} does not exist")
        params = json.loads(one(opts, "parameters"))
        existing = st["fics"].setdefault(app_id, [])
        if any(c["name"] == params["name"] or c["subject"] == params["subject"] for c in existing):
            raise Fail(1, "ERROR: federated credential name or subject already exists")
        if len(existing) >= 20:
            raise Fail(1, "ERROR: an application can have at most 20 federated identity credentials")
        existing.append(params)
        return params
    raise Unsupported


def az_role(cmd: str, opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    """Role assignments."""
    if cmd == "role assignment list":
        found = st["role_assignments"]
        assignee = opt(opts, "assignee")
        if assignee is not None:
            if not principal_exists(st, assignee):
                raise Fail(1, f"ERROR: Cannot find user or service principal in graph database for '{assignee}'.")
            found = [a for a in found if a["principalId"] == assignee]
        if opt(opts, "role") is not None:
            found = [a for a in found if a["roleDefinitionName"] == opt(opts, "role")]
        scope = opt(opts, "scope")
        if scope is not None:
            found = [a for a in found if a["scope"].lower() == scope.rstrip("/").lower()]
        elif "all" in opts:
            found = [a for a in found if a["scope"].lower().startswith(sub_id(st).lower())]
        else:
            found = [a for a in found if a["scope"].lower() == sub_id(st).lower()]
        return found
    if cmd == "role assignment create":
        role, scope, principal = one(opts, "role"), one(opts, "scope"), one(opts, "assignee-object-id")
        if role not in BUILTIN_ROLES and not any(d["roleName"] == role for d in st["role_definitions"]):
            raise Fail(1, f"ERROR: Role '{role}' doesn't exist.")
        if not scope_exists(st, scope):
            raise Fail(3, f"ERROR: (InvalidScope / NotFound) The scope '{scope}' does not exist.")
        if not principal_exists(st, principal):
            raise Fail(1, f"ERROR: (PrincipalNotFound) Principal {principal} does not exist in the directory.")
        if any(
            a["principalId"] == principal and a["roleDefinitionName"] == role and a["scope"].lower() == scope.lower()
            for a in st["role_assignments"]
        ):
            raise Fail(1, "ERROR: (RoleAssignmentExists) The role assignment already exists.")
        role_guid = hashlib.sha256(role.encode()).hexdigest()
        assignment = {
            "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{new_id()}",
            "principalId": principal,
            "principalType": one(opts, "assignee-principal-type"),
            "roleDefinitionName": role,
            "roleDefinitionId": f"{sub_id(st)}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{role_guid[:8]}-{role_guid[8:12]}-{role_guid[12:16]}-{role_guid[16:20]}-{role_guid[20:32]}",
            "scope": scope,
            "condition": opt(opts, "condition"),
            "description": opt(opts, "description"),
        }
        st["role_assignments"].append(assignment)
        return assignment
    if cmd == "role definition list":
        return [d for d in st["role_definitions"] if d["roleName"] == opt(opts, "name")]
    raise Unsupported


AZ_AREAS = {
    "group": az_groups,
    "lock": az_groups,
    "storage": az_storage,
    "identity": az_identity,
    "keyvault": az_keyvault,
    "acr": az_acr,
    "containerapp": az_containerapp,
    "resource": az_resource,
    "provider": az_provider,
    "monitor": az_monitor,
    "ad": az_ad,
    "role": az_role,
}


def handle_az(words: list[str], opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    cmd = " ".join(words)
    if not st["logged_in"]:
        raise Fail(1, "ERROR: Please run 'az login' to setup account.")
    if opt(opts, "subscription") not in (None, st["account"]["id"]):
        raise Fail(1, f"ERROR: Subscription '{opt(opts, 'subscription')}' not found.")
    if cmd == "account show":
        return st["account"]
    area = AZ_AREAS.get(words[0]) if words else None
    try:
        if area is None:
            raise Unsupported
        return area(cmd, opts, st, stdin)
    except Unsupported:
        raise Fail(99, f"fake az: unsupported command: {cmd}") from None


# ------------------------------------------------------------------------------------- gh commands


def gh_environment(st: dict[str, Any], name: str) -> dict[str, Any]:
    settings = st.setdefault("gh_env_settings", {}).setdefault(
        name, {"deployment_branch_policy": None, "branch_policies": [], "protection_rules": []}
    )
    rules = list(settings["protection_rules"])
    if settings["deployment_branch_policy"]:
        rules.append({"type": "branch_policy"})
    return {"name": name, "protection_rules": rules, "deployment_branch_policy": settings["deployment_branch_policy"]}


def handle_gh(words: list[str], opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    if words[:1] == ["api"]:
        path = words[1].strip("/").split("/")  # repos/ORG/REPO/environments/NAME[/deployment-branch-policies]
        method = opt(opts, "method", "X") or (
            "POST" if {"f", "F", "field", "raw-field", "input"} & set(opts) else "GET"
        )
        if len(path) < 5 or path[0] != "repos" or path[3] != "environments":
            raise Fail(99, f"fake gh: unsupported api path: {words[1]}")
        name = path[4]
        if len(path) == 5 and method == "GET":
            if name not in st["gh_envs"]:
                raise Fail(1, "gh: Not Found (HTTP 404)")
            return gh_environment(st, name)
        if len(path) == 5 and method == "PUT":
            body = json.loads(stdin) if stdin.strip() else {}
            if name not in st["gh_envs"]:
                st["gh_envs"].append(name)
            settings = st.setdefault("gh_env_settings", {})
            gh_environment(st, name)
            if "deployment_branch_policy" in body:
                settings[name]["deployment_branch_policy"] = body["deployment_branch_policy"]
            if "reviewers" in body:
                settings[name]["protection_rules"] = [
                    {
                        "type": "required_reviewers",
                        "reviewers": [{"type": r["type"], "reviewer": {"id": r["id"]}} for r in body["reviewers"]],
                    }
                ]
            return gh_environment(st, name)
        if len(path) == 6 and path[5] == "deployment-branch-policies":
            if name not in st["gh_envs"]:
                raise Fail(1, "gh: Not Found (HTTP 404)")
            settings = st["gh_env_settings"][name]
            if method == "GET":
                return {"total_count": len(settings["branch_policies"]), "branch_policies": settings["branch_policies"]}
            if method == "POST":
                if not (settings["deployment_branch_policy"] or {}).get("custom_branch_policies"):
                    raise Fail(1, "gh: custom_branch_policies is not enabled for this environment (HTTP 422)")
                fields = dict(f.split("=", 1) for f in [*opts.get("f", []), *opts.get("F", [])])
                if any(p["name"] == fields["name"] for p in settings["branch_policies"]):
                    raise Fail(1, "gh: Validation Failed: name already exists (HTTP 422)")
                policy = {
                    "id": len(settings["branch_policies"]) + 1,
                    "name": fields["name"],
                    "type": fields.get("type", "branch"),
                }
                settings["branch_policies"].append(policy)
                return policy
        raise Fail(99, f"fake gh: unsupported api call: {method} {words[1]}")
    scope = opt(opts, "env", "e") or "<repo>"
    if scope != "<repo>" and scope not in st["gh_envs"]:
        raise Fail(1, "gh: HTTP 404: Not Found (environment does not exist)")
    if words[:2] == ["variable", "list"]:
        return [{"name": k, "value": v} for k, v in st["gh_vars"].get(scope, {}).items()]
    if words[:2] == ["variable", "set"]:
        st["gh_vars"].setdefault(scope, {})[words[2]] = one(opts, "body", "b")
        return None
    raise Fail(99, f"fake gh: unsupported command: {' '.join(words)}")


# ------------------------------------------------------------------------------------- output


def query(value: Any, path: str) -> Any:
    """The subset of JMESPath the scripts use: dotted names (`value`, `properties.vaultUri`)."""
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def render(result: Any, opts: dict[str, list[str]]) -> str | None:
    output = opt(opts, "output", "o") or "json"
    if output == "none":
        return None
    if opt(opts, "query") is not None:
        result = query(result, one(opts, "query"))
    if result is None:
        return None
    if output == "tsv":

        def cell(v: Any) -> str:
            return str(v).lower() if isinstance(v, bool) else "" if v is None else str(v)

        if isinstance(result, list):
            return "\n".join("\t".join(map(cell, r.values())) if isinstance(r, dict) else cell(r) for r in result)
        return "\t".join(map(cell, result.values())) if isinstance(result, dict) else cell(result)
    return json.dumps(result)


def is_write(tool: str, words: list[str], opts: dict[str, list[str]]) -> bool:
    if tool == "gh" and words[:1] == ["api"]:
        method = opt(opts, "method", "X")
        return method in GH_WRITE_METHODS or (method is None and bool({"f", "F", "field", "input"} & set(opts)))
    return bool(set(words) & WRITE_VERBS)


def main() -> int:
    tool = os.path.basename(sys.argv[0])
    argv = sys.argv[1:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    words, opts = parse(argv)
    with open(os.environ[LOG_VAR], "a") as log:
        record = {"tool": tool, "argv": argv, "write": is_write(tool, words, opts), "stdin_bytes": len(stdin)}
        log.write(json.dumps(record) + "\n")
    try:
        with fake_azure.locked(os.environ[ENV_VAR]) as state:
            handler = handle_gh if tool == "gh" else handle_az
            result = handler(words, opts, state, stdin)
    except Fail as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    text = render(result, opts)
    if text is not None:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

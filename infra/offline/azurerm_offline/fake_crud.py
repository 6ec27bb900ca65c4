"""Fake-Azure mode of the offline provider: plan, apply and read against the :mod:`fake_azure` JSON state.

Selected by :func:`azurerm_offline.provider.make_servicer` when the plugin starts with ``FAKE_AZURE_STATE``
in its environment, so real ``terraform plan -out`` / ``apply tfplan`` / ``show -json`` / ``output`` run
offline. Resources are not modelled one by one: every object is built from the schema.

* Plan: create plans the proposed object with every computed attribute left unset in the configuration
  unknown; update plans the proposed object (Terraform already carries prior values of unset computed
  attributes into it); changes to azurerm's usual ForceNew arguments (:data:`FORCE_NEW`) require replacement.
* Apply fills unknowns with deterministic fakes derived from the resource's name (:class:`Faker`), records
  the object in ``state["resources"]`` and, for Container Apps, makes a revision when the template changed
  (:func:`fake_azure.apply_container_app`).
* Read keeps a resource as it is while its id is in the fake state (no drift) and drops it otherwise.
* Data sources (:data:`DATA_SOURCES`) answer from what the bootstrap created: groups, identities, vaults,
  registries.
"""

from __future__ import annotations

import functools
import hashlib
import json
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from msgpack import ExtType
from tf.gen import tfplugin_pb2 as pb
from tf.types import Unknown
from tf.utils import read_dynamic_value, to_dynamic_value

from azurerm_offline import fake_azure
from azurerm_offline.provider import SchemaOnlyServicer

SINGLE = pb.Schema.NestedBlock.SINGLE
GROUP = pb.Schema.NestedBlock.GROUP
MAP = pb.Schema.NestedBlock.MAP

DEFAULT_LOCATION = "westeurope"

# ---------------------------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class Attr:
    type: Any  # cty type in its JSON form: "string", ["list", "string"], ["object", {...}], ...
    computed: bool


@dataclass(frozen=True)
class Nested:
    nesting: int
    block: Block


@dataclass(frozen=True)
class Block:
    attributes: dict[str, Attr]
    blocks: dict[str, Nested]


def block_from_pb(block: pb.Schema.Block) -> Block:
    return Block(
        attributes={a.name: Attr(type=json.loads(a.type), computed=a.computed) for a in block.attributes},
        blocks={n.type_name: Nested(nesting=n.nesting, block=block_from_pb(n.block)) for n in block.block_types},
    )


# ---------------------------------------------------------------------------------------------- values


def is_unknown(value: Any) -> bool:
    """Terraform's unknown: plain (msgpack extension 0) or refined (extension 12, Terraform >= 1.6)."""
    return value is Unknown or (isinstance(value, ExtType) and value.code in (0, 12))


def conform_type(value: Any, ty: Any) -> Any:
    """``value`` with every object attribute of ``ty`` present (null when missing) and no extra ones."""
    if value is None or is_unknown(value) or not isinstance(ty, list):
        return value  # primitives, and "dynamic" values, which are passed through as received
    kind = ty[0]
    if kind in ("list", "set") and isinstance(value, list):
        return [conform_type(v, ty[1]) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: conform_type(v, ty[1]) for k, v in value.items()}
    if kind == "object" and isinstance(value, dict):
        return {k: conform_type(value.get(k), t) for k, t in ty[1].items()}
    if kind == "tuple" and isinstance(value, list):
        return [conform_type(v, t) for v, t in zip(value, ty[1], strict=False)]
    return value


def conform_block(value: Any, block: Block) -> dict[str, Any]:
    """An object of ``block``: every attribute and nested block present, with its schema's shape.

    Missing attributes are null; missing list/set blocks are empty lists, map blocks empty maps, single
    blocks null, group blocks an object of nulls; unknown nested blocks stay unknown.
    """
    src = value if isinstance(value, dict) else {}
    out = {name: conform_type(src.get(name), attr.type) for name, attr in block.attributes.items()}
    for name, nested in block.blocks.items():
        out[name] = _conform_nested(src.get(name), nested)
    return out


def _conform_nested(value: Any, nested: Nested) -> Any:
    if is_unknown(value):
        return value
    if nested.nesting == SINGLE:
        return None if value is None else conform_block(value, nested.block)
    if nested.nesting == GROUP:
        return conform_block(value, nested.block)
    if nested.nesting == MAP:
        return {k: conform_block(v, nested.block) for k, v in (value or {}).items()}
    return [conform_block(v, nested.block) for v in (value or [])]  # list, set


def unknown_computed(planned: dict[str, Any], config: Any, block: Block) -> dict[str, Any]:
    """``planned`` with every computed attribute that is null in ``config`` unknown, in nested blocks too.

    Nested list/set elements are matched to the configuration by position (on create the proposed
    object is the configuration, so the two line up); a nested block itself is never made unknown.
    """
    cfg = config if isinstance(config, dict) else {}
    out = dict(planned)
    for name, attr in block.attributes.items():
        if attr.computed and cfg.get(name) is None:
            out[name] = Unknown
    for name, nested in block.blocks.items():
        value, cval = out.get(name), cfg.get(name)
        if value is None or is_unknown(value):
            continue
        if nested.nesting in (SINGLE, GROUP):
            out[name] = unknown_computed(value, cval if isinstance(cval, dict) else value, nested.block)
        elif nested.nesting == MAP:
            cmap = cval if isinstance(cval, dict) else {}
            out[name] = {k: unknown_computed(v, cmap.get(k, v), nested.block) for k, v in value.items()}
        else:
            clist = cval if isinstance(cval, list) and len(cval) == len(value) else value
            out[name] = [unknown_computed(v, c, nested.block) for v, c in zip(value, clist, strict=True)]
    return out


def fill_block(value: dict[str, Any], block: Block, fake: Callable[[str, Any], Any]) -> dict[str, Any]:
    """``value`` with every unknown replaced by ``fake(attribute name, cty type)``."""
    out = {name: _fill(value.get(name), attr.type, name, fake) for name, attr in block.attributes.items()}
    for name, nested in block.blocks.items():
        item = value.get(name)
        if is_unknown(item):
            item = _conform_nested(None, nested)
        child = _nested_fake(fake, name)
        if nested.nesting in (SINGLE, GROUP):
            out[name] = None if item is None else fill_block(item, nested.block, child)
        elif nested.nesting == MAP:
            out[name] = {k: fill_block(v, nested.block, child) for k, v in (item or {}).items()}
        else:
            out[name] = [fill_block(v, nested.block, child) for v in item or []]
    return out


def _nested_fake(fake: Callable[[str, Any], Any], block_name: str) -> Callable[[str, Any], Any]:
    """In a nested block, a computed ``id`` is a child of its parent's: ``<parent id>/<block name>``."""

    def child(attr: str, ty: Any) -> Any:
        value = fake(attr, ty)
        return f"{value}/{block_name}" if attr == "id" and isinstance(value, str) else value

    return child


def _fill(value: Any, ty: Any, name: str, fake: Callable[[str, Any], Any]) -> Any:
    if is_unknown(value):
        return fake(name, ty)
    if value is None or not isinstance(ty, list):
        return value
    kind = ty[0]
    if kind in ("list", "set") and isinstance(value, list):
        return [_fill(v, ty[1], name, fake) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _fill(v, ty[1], name, fake) for k, v in value.items()}
    if kind == "object" and isinstance(value, dict):
        return {k: _fill(value.get(k), t, k, fake) for k, t in ty[1].items()}
    return value


def stable_hash(value: Any) -> str:
    """sha256 of a value's canonical JSON (unknowns, which apply never sees, as a marker)."""
    text = json.dumps(value, sort_keys=True, default=lambda v: "<unknown>" if is_unknown(v) else repr(v))
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------- ids and fakes

ARM_TYPES = {
    "azurerm_application_insights": "Microsoft.Insights/components",
    "azurerm_application_insights_standard_web_test": "Microsoft.Insights/webTests",
    "azurerm_application_insights_workbook": "Microsoft.Insights/workbooks",
    "azurerm_container_app": "Microsoft.App/containerApps",
    "azurerm_container_app_environment": "Microsoft.App/managedEnvironments",
    "azurerm_container_registry": "Microsoft.ContainerRegistry/registries",
    "azurerm_key_vault": "Microsoft.KeyVault/vaults",
    "azurerm_log_analytics_saved_search": "Microsoft.OperationalInsights/workspaces/savedSearches",
    "azurerm_log_analytics_workspace": "Microsoft.OperationalInsights/workspaces",
    "azurerm_managed_redis": "Microsoft.Cache/redisEnterprise",
    "azurerm_management_lock": "Microsoft.Authorization/locks",
    "azurerm_monitor_action_group": "Microsoft.Insights/actionGroups",
    "azurerm_monitor_diagnostic_setting": "Microsoft.Insights/diagnosticSettings",
    "azurerm_monitor_metric_alert": "Microsoft.Insights/metricAlerts",
    "azurerm_monitor_scheduled_query_rules_alert_v2": "Microsoft.Insights/scheduledQueryRules",
    "azurerm_redis_cache": "Microsoft.Cache/redis",
    "azurerm_resource_group": "Microsoft.Resources/resourceGroups",
    "azurerm_role_assignment": "Microsoft.Authorization/roleAssignments",
    "azurerm_storage_account": "Microsoft.Storage/storageAccounts",
    "azurerm_user_assigned_identity": "Microsoft.ManagedIdentity/userAssignedIdentities",
}


def arm_type(type_name: str) -> str:
    return ARM_TYPES.get(type_name, f"Microsoft.Fake/{type_name}")


def parse_arm_id(resource_id: str) -> tuple[str | None, str, str] | None:
    """(resource group, ARM type, name) of ``/subscriptions/../resourceGroups/../providers/ns/type/name[/...]``."""
    parts = resource_id.strip("/").split("/")
    lower = [p.lower() for p in parts]
    if "providers" not in lower:
        if len(parts) == 4 and lower[0] == "subscriptions" and lower[2] == "resourcegroups":
            return parts[3], "Microsoft.Resources/resourceGroups", parts[3]
        return None
    at = len(lower) - 1 - lower[::-1].index("providers")
    rest = parts[at + 1 :]
    if len(rest) < 3 or len(rest) % 2 == 0:
        return None
    group = parts[3] if len(parts) > 3 and lower[2] == "resourcegroups" else None
    return group, "/".join([rest[0], *rest[1::2]]), rest[-1]


def _location_slug(location: str) -> str:
    return location.replace(" ", "").lower()


def _known_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Faker:
    """Deterministic stand-ins for the unknowns of one planned object, derived from its name."""

    def __init__(self, type_name: str, planned: dict[str, Any], state: dict[str, Any]) -> None:
        self.type_name = type_name
        self.planned = planned
        self.group = _known_str(planned.get("resource_group_name"))
        known = {k: v for k, v in planned.items() if isinstance(v, str | int | float | bool)}
        self.seed = f"{type_name}/{self.group}/{known.get('name') or stable_hash(known)}"
        self.name = _known_str(planned.get("name")) or self.guid("name")
        group_location = state["groups"].get(self.group or "", {}).get("location")
        self.location = _known_str(planned.get("location")) or group_location or DEFAULT_LOCATION

    def digest(self, salt: str) -> str:
        return hashlib.sha256(f"{self.seed}/{salt}".encode()).hexdigest()

    def guid(self, salt: str) -> str:
        return str(uuid.UUID(self.digest(salt)[:32]))

    @functools.cached_property
    def resource_id(self) -> str:
        value = self.planned.get("id")
        if isinstance(value, str):
            return value
        planned, name = self.planned, self.name
        scope = _known_str(planned.get("scope"))
        if self.type_name == "azurerm_resource_group":
            return f"/subscriptions/{fake_azure.SUBSCRIPTION}/resourceGroups/{name}"
        if self.type_name == "azurerm_log_analytics_saved_search":
            return f"{planned.get('log_analytics_workspace_id')}/savedSearches/{name}"
        if self.type_name == "azurerm_monitor_diagnostic_setting":
            return f"{planned.get('target_resource_id')}|{name}"
        if self.type_name == "azurerm_management_lock" and scope:
            return f"{scope.rstrip('/')}/providers/Microsoft.Authorization/locks/{name}"
        if self.type_name == "azurerm_role_assignment" and scope:
            return f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}"
        redis = _known_str(planned.get("managed_redis_id"))
        if self.type_name == "azurerm_managed_redis_access_policy_assignment" and redis:
            object_id = str(planned.get("object_id")).replace("-", "")
            return f"{redis}/databases/default/accessPolicyAssignments/{object_id}"
        if self.group:
            return (
                f"/subscriptions/{fake_azure.SUBSCRIPTION}/resourceGroups/{self.group}"
                f"/providers/{arm_type(self.type_name)}/{name}"
            )
        # No group: an extension of its scope or of the first ARM id it refers to, else of the subscription.
        parents = [scope] + [planned[k] for k in sorted(planned) if k.endswith("_id") and k != "id"]
        parent = next((p for p in parents if isinstance(p, str) and p.startswith("/subscriptions/")), None)
        parent = (parent or f"/subscriptions/{fake_azure.SUBSCRIPTION}").rstrip("/")
        return f"{parent}/providers/{arm_type(self.type_name)}/{name}"

    @functools.cached_property
    def default_domain(self) -> str:
        """A Container Apps environment's domain; its apps derive theirs from the environment's id."""
        environment = _known_str(self.planned.get("container_app_environment_id")) or self.resource_id
        digest = hashlib.sha256(environment.encode()).hexdigest()[:10]
        return f"fake-{digest}.{_location_slug(self.location)}.azurecontainerapps.io"

    def __call__(self, attr: str, ty: Any) -> Any:
        if ty == "string":
            return self.string(attr)
        if ty == "number":
            return 0
        if ty == "bool":
            return False
        if isinstance(ty, list) and ty[0] in ("list", "set", "tuple"):
            return [self(attr, t) for t in ty[1]] if ty[0] == "tuple" else []
        if isinstance(ty, list) and ty[0] == "map":
            return {}
        if isinstance(ty, list) and ty[0] == "object":
            return {k: self(k, t) for k, t in ty[1].items()}
        return None  # dynamic

    def string(self, attr: str) -> str:
        slug = _location_slug(self.location)
        fixed = {
            "id": self.resource_id,
            "name": self.name,
            "location": self.location,
            "fqdn": f"{self.name}.{self.default_domain}",
            "latest_revision_fqdn": f"{self.name}.{self.default_domain}",
            "default_domain": self.default_domain,
            "hostname": f"{self.name}.{slug}.redis.azure.net",
            "login_server": f"{self.name}.azurecr.io",
            "vault_uri": f"https://{self.name}.vault.azure.net/",
            "tenant_id": fake_azure.TENANT,
            "subscription_id": fake_azure.SUBSCRIPTION,
        }
        if attr in fixed:
            return fixed[attr]
        if attr.endswith(("_key", "connection_string", "_password", "_secret")):
            return f"fake-{attr.replace('_', '-')}-{self.digest(attr)[:16]}"
        if attr.endswith("_id"):
            return self.guid(attr)
        if attr.endswith("ip_address"):
            return "192.0.2.10"  # TEST-NET-1
        return "fake"


# ------------------------------------------------------------------------------------- replacement

# azurerm's ForceNew arguments: the common three, plus per type (top-level attributes only).
FORCE_NEW_COMMON = ("name", "location", "resource_group_name")
FORCE_NEW: dict[str, tuple[str, ...]] = {
    "azurerm_container_app": ("container_app_environment_id",),
    "azurerm_container_app_environment": (
        "log_analytics_workspace_id",
        "infrastructure_subnet_id",
        "infrastructure_resource_group_name",
        "internal_load_balancer_enabled",
        "zone_redundancy_enabled",
    ),
    "azurerm_log_analytics_workspace": (),
    "azurerm_log_analytics_saved_search": (
        "log_analytics_workspace_id",
        "category",
        "display_name",
        "query",
        "function_alias",
        "function_parameters",
        "tags",
    ),
    "azurerm_application_insights": ("application_type",),
    "azurerm_monitor_diagnostic_setting": ("target_resource_id",),
    "azurerm_management_lock": ("scope", "lock_level", "notes"),
    "azurerm_role_assignment": (
        "scope",
        "principal_id",
        "principal_type",
        "role_definition_id",
        "role_definition_name",
        "delegated_managed_identity_resource_id",
    ),
}


def managed_redis_rules(new: dict[str, Any]) -> None:
    """What Azure and azurerm do for a Managed Redis: the database listens on 10000, and the access keys are
    only listed (so only land in state) when access keys are on (azurerm managed_redis_resource.go, Read)."""
    for database in new.get("default_database") or []:
        if is_unknown(database.get("port")) or not database.get("port"):
            database["port"] = 10000
        if not database.get("access_keys_authentication_enabled"):
            database["primary_access_key"] = ""
            database["secondary_access_key"] = ""


def _same(attr: str, prior: Any, proposed: Any) -> bool:
    if is_unknown(proposed):
        return False
    if attr == "location" and isinstance(prior, str) and isinstance(proposed, str):
        return _location_slug(prior) == _location_slug(proposed)
    return bool(prior == proposed)


def requires_replace(type_name: str, prior: dict[str, Any], proposed: dict[str, Any], block: Block) -> list[str]:
    names = (*FORCE_NEW_COMMON, *FORCE_NEW.get(type_name, ()))
    return [n for n in names if n in block.attributes and not _same(n, prior.get(n), proposed.get(n))]


def attribute_path(name: str) -> pb.AttributePath:
    return pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name=name)])


# ------------------------------------------------------------------------------------- data sources


class NotFound(Exception):
    """A data source's object is not in the fake subscription (the summary reads like azurerm's)."""


def _group_location(state: dict[str, Any], group: str | None) -> str | None:
    location = state["groups"].get(group or "", {}).get("location")
    return location if isinstance(location, str) else None


def _client_config(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    client_id = "00000000-0000-0000-0000-0000000000c1"
    object_id = "00000000-0000-0000-0000-0000000000b1"
    tenant = state["account"].get("tenantId", fake_azure.TENANT)
    subscription = state["account"].get("id", fake_azure.SUBSCRIPTION)
    return {
        "id": f"clientConfigs/clientId={client_id};objectId={object_id};"
        f"subscriptionId={subscription};tenantId={tenant}",
        "client_id": client_id,
        "object_id": object_id,
        "tenant_id": tenant,
        "subscription_id": subscription,
    }


def _subscription(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    subscription = config.get("subscription_id") or state["account"].get("id", fake_azure.SUBSCRIPTION)
    return {
        "id": f"/subscriptions/{subscription}",
        "subscription_id": subscription,
        "tenant_id": state["account"].get("tenantId", fake_azure.TENANT),
        "display_name": state["account"].get("name", "fake"),
        "state": "Enabled",
        "tags": {},
    }


def _resource_group(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    group = state["groups"].get(config["name"])
    if group is None:
        raise NotFound(f'Resource Group "{config["name"]}" was not found')
    return {
        "id": group.get("id") or f"/subscriptions/{fake_azure.SUBSCRIPTION}/resourceGroups/{config['name']}",
        "location": group.get("location"),
        "tags": group.get("tags") or {},
        "managed_by": None,
    }


def _in_group(entry: dict[str, Any] | None, group: str) -> bool:
    if entry is None:
        return False
    parsed = parse_arm_id(str(entry.get("id", "")))
    actual = entry.get("resourceGroup") or (parsed[0] if parsed else None)
    return str(actual).lower() == group.lower()


def _identity(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    name, group = config["name"], config["resource_group_name"]
    identity = state["identities"].get(name)
    if identity is None or not _in_group(identity, group):
        raise NotFound(f'User Assigned Identity "{name}" (Resource Group "{group}") was not found')
    return {
        "id": identity["id"],
        "client_id": identity.get("clientId"),
        "principal_id": identity.get("principalId"),
        "tenant_id": identity.get("tenantId") or fake_azure.TENANT,
        "location": identity.get("location") or _group_location(state, group),
        "tags": identity.get("tags") or {},
    }


def _key_vault(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    name, group = config["name"], config["resource_group_name"]
    vault = state["vaults"].get(name)
    if vault is None or not _in_group(vault, group):
        raise NotFound(f'Key Vault "{name}" (Resource Group "{group}") was not found')
    props = vault.get("properties") or {}
    acls = props.get("networkAcls")
    return {
        "id": vault["id"],
        "vault_uri": props.get("vaultUri") or f"https://{name}.vault.azure.net/",
        "tenant_id": props.get("tenantId") or fake_azure.TENANT,
        "location": vault.get("location") or _group_location(state, group),
        "sku_name": (props.get("sku") or {}).get("name", "standard"),
        "rbac_authorization_enabled": bool(props.get("enableRbacAuthorization", False)),
        "purge_protection_enabled": bool(props.get("enablePurgeProtection", False)),
        "enabled_for_deployment": bool(props.get("enabledForDeployment", False)),
        "enabled_for_disk_encryption": bool(props.get("enabledForDiskEncryption", False)),
        "enabled_for_template_deployment": bool(props.get("enabledForTemplateDeployment", False)),
        "public_network_access_enabled": props.get("publicNetworkAccess", "Enabled") == "Enabled",
        "access_policy": [],
        "network_acls": [
            {
                "bypass": acls.get("bypass", "AzureServices"),
                "default_action": acls.get("defaultAction", "Allow"),
                "ip_rules": [r["value"] if isinstance(r, dict) else r for r in acls.get("ipRules", [])],
                "virtual_network_subnet_ids": [],
            }
        ]
        if isinstance(acls, dict)
        else [],
        "tags": vault.get("tags") or {},
    }


def _container_registry(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    name, group = config["name"], config["resource_group_name"]
    found = [r for r in state["registries"].get(group, []) if r.get("name") == name]
    if not found:
        raise NotFound(f'Container Registry "{name}" (Resource Group "{group}") was not found')
    registry = found[0]
    return {
        "id": registry["id"],
        "login_server": registry.get("loginServer") or f"{name}.azurecr.io",
        "location": registry.get("location") or _group_location(state, group),
        "sku": registry.get("sku", "Basic"),
        "admin_enabled": False,
        "data_endpoint_enabled": False,
        "data_endpoint_host_names": [],
        "tags": registry.get("tags") or {},
    }


def inventory(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The fake subscription's top-level resources, as ARM lists them.

    Not listed, as in Azure: resource groups, child resources (saved searches) and extension resources
    (locks, role assignments, diagnostic settings).
    """
    found: dict[str, dict[str, Any]] = {}

    def add(entry: dict[str, Any], fallback_type: str | None = None) -> None:
        resource_id = entry.get("id")
        if not isinstance(resource_id, str) or "|" in resource_id:
            return
        parsed = parse_arm_id(resource_id)
        group = entry.get("resourceGroup") or (parsed[0] if parsed else None)
        resource_type = parsed[1] if parsed else fallback_type or "Microsoft.Fake/unknown"
        namespace = resource_type.split("/")[0].lower()
        if resource_type.count("/") != 1 or namespace in ("microsoft.authorization", "microsoft.resources"):
            return
        found.setdefault(
            resource_id.lower(),
            {
                "id": resource_id,
                "name": entry.get("name") or (parsed[2] if parsed else resource_id),
                "type": resource_type,
                "resource_group_name": group,
                "location": entry.get("location") or _group_location(state, group),
                "tags": entry.get("tags") or {},
            },
        )

    for kind in ("identities", "vaults", "storage"):
        for entry in state.get(kind, {}).values():
            add(entry)
    for registries in state["registries"].values():
        for entry in registries:
            add(entry)
    for resource_id, record in state["resources"].items():
        add({**record, "id": resource_id}, arm_type(str(record.get("type"))))
    return list(found.values())


def _resources(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    group, kind, name = config.get("resource_group_name"), config.get("type"), config.get("name")
    tags = config.get("required_tags") or {}
    matches = [
        r
        for r in inventory(state)
        if (group is None or str(r["resource_group_name"]).lower() == group.lower())
        and (kind is None or r["type"].lower() == kind.lower())
        and (name is None or r["name"] == name)
        and all(r["tags"].get(k) == v for k, v in tags.items())
    ]
    return {"id": f"resource-{stable_hash([group, kind, name, tags])[:16]}", "resources": matches}


DATA_SOURCES: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "azurerm_client_config": _client_config,
    "azurerm_container_registry": _container_registry,
    "azurerm_key_vault": _key_vault,
    "azurerm_resource_group": _resource_group,
    "azurerm_resources": _resources,
    "azurerm_subscription": _subscription,
    "azurerm_user_assigned_identity": _identity,
}


# ------------------------------------------------------------------------------------- the servicer


def _error(summary: str, detail: str = "") -> list[pb.Diagnostic]:
    return [pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)]


def _null() -> pb.DynamicValue:
    return to_dynamic_value(None)


def _diagnosed(response: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn an exception in a handler into an error diagnostic Terraform prints (not a bare gRPC error)."""

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def run(self: FakeAzureServicer, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return handler(self, request, context)
            except Exception as exc:
                summary = f"fake Azure provider failed in {handler.__name__}: {exc}"
                return response(diagnostics=_error(summary, traceback.format_exc()))

        return run

    return wrap


class FakeAzureServicer(SchemaOnlyServicer):
    """The schema-only servicer plus CRUD against the fake subscription in ``state_path``."""

    def __init__(self, schema_path: Path, state_path: str) -> None:
        super().__init__(schema_path)
        self.state_path = state_path
        self._blocks: dict[tuple[str, str], Block] = {}

    def block(self, type_name: str, data: bool = False) -> Block:
        key = ("data" if data else "resource", type_name)
        if key not in self._blocks:
            schema = self.schema()
            table = schema.data_source_schemas if data else schema.resource_schemas
            if type_name not in table:
                raise KeyError(f"azurerm has no {'data source' if data else 'resource'} {type_name}")
            self._blocks[key] = block_from_pb(table[type_name].block)
        return self._blocks[key]

    @_diagnosed(pb.UpgradeResourceState.Response)
    def UpgradeResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not request.raw_state.json:
            return pb.UpgradeResourceState.Response(diagnostics=_error("fake Azure: only JSON raw state is supported"))
        raw = json.loads(request.raw_state.json)
        upgraded = None if raw is None else conform_block(raw, self.block(request.type_name))
        return pb.UpgradeResourceState.Response(upgraded_state=to_dynamic_value(upgraded))

    @_diagnosed(pb.PlanResourceChange.Response)
    def PlanResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        prior = read_dynamic_value(request.prior_state)
        proposed = read_dynamic_value(request.proposed_new_state)
        config = read_dynamic_value(request.config)
        if proposed is None:  # destroy
            return pb.PlanResourceChange.Response(planned_state=_null())
        block = self.block(request.type_name)
        planned = conform_block(proposed, block)
        replace: list[str] = []
        if prior is None:
            planned = unknown_computed(planned, config, block)
        else:
            replace = requires_replace(request.type_name, prior, planned, block)
            if request.type_name == "azurerm_container_app" and stable_hash(prior.get("template")) != stable_hash(
                planned.get("template")
            ):
                # a new revision: its name is only known once Azure made it
                planned["latest_revision_name"] = Unknown
                planned["latest_revision_fqdn"] = Unknown
        return pb.PlanResourceChange.Response(
            planned_state=to_dynamic_value(planned),
            requires_replace=[attribute_path(name) for name in replace],
            planned_private=request.prior_private,
        )

    @_diagnosed(pb.ApplyResourceChange.Response)
    def ApplyResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        prior = read_dynamic_value(request.prior_state)
        planned = read_dynamic_value(request.planned_state)
        type_name = request.type_name
        with fake_azure.locked(self.state_path) as state:
            if planned is None:
                self._delete(state, type_name, prior or {})
                return pb.ApplyResourceChange.Response(new_state=_null())
            new = self._create_or_update(state, type_name, planned)
        return pb.ApplyResourceChange.Response(new_state=to_dynamic_value(new), private=request.planned_private)

    def _delete(self, state: dict[str, Any], type_name: str, prior: dict[str, Any]) -> None:
        record = state["resources"].pop(prior.get("id"), None)
        if type_name == "azurerm_container_app" and isinstance(prior.get("name"), str):
            fake_azure.delete_container_app(state, prior["name"])
        if type_name == "azurerm_resource_group" and record is not None:
            state["groups"].pop(prior.get("name"), None)

    def _create_or_update(self, state: dict[str, Any], type_name: str, planned: dict[str, Any]) -> dict[str, Any]:
        faker = Faker(type_name, planned, state)
        new = fill_block(conform_block(planned, self.block(type_name)), self.block(type_name), faker)
        parsed = parse_arm_id(new["id"])
        group = new.get("resource_group_name") or (parsed[0] if parsed else None)
        state["resources"][new["id"]] = {
            "type": type_name,
            "name": new.get("name"),
            "resourceGroup": group,
            "location": new.get("location"),
            "tags": new.get("tags") or {},
        }
        if type_name == "azurerm_managed_redis":
            managed_redis_rules(new)
        if type_name == "azurerm_resource_group":
            state["groups"].setdefault(
                new["name"], {"id": new["id"], "name": new["name"], "location": new["location"], "tags": new["tags"]}
            )
        if type_name == "azurerm_container_app":
            template = new["template"]
            image = template[0]["container"][0]["image"]
            fake_azure.apply_container_app(state, new["name"], str(group), image, stable_hash(template))
            revision = state["containerapps"][new["name"]]["revisions"][-1]["name"]
            if is_unknown(planned.get("latest_revision_name")):
                new["latest_revision_name"] = revision
            if is_unknown(planned.get("latest_revision_fqdn")):
                new["latest_revision_fqdn"] = f"{revision}.{faker.default_domain}"
        return new

    @_diagnosed(pb.ReadResource.Response)
    def ReadResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        current = read_dynamic_value(request.current_state)
        if current is None:
            return pb.ReadResource.Response(new_state=request.current_state, private=request.private)
        if current.get("id") in fake_azure.read_state(self.state_path)["resources"]:
            return pb.ReadResource.Response(new_state=request.current_state, private=request.private)
        return pb.ReadResource.Response(new_state=_null())  # deleted out of band: Terraform plans to recreate

    @_diagnosed(pb.ReadDataSource.Response)
    def ReadDataSource(self, request: Any, context: grpc.ServicerContext) -> Any:
        reader = DATA_SOURCES.get(request.type_name)
        if reader is None:
            return pb.ReadDataSource.Response(
                diagnostics=_error(
                    f"fake Azure does not implement data source {request.type_name}",
                    f"Implemented: {', '.join(sorted(DATA_SOURCES))} (azurerm_offline/fake_crud.py).",
                )
            )
        block = self.block(request.type_name, data=True)
        config = conform_block(read_dynamic_value(request.config), block)
        try:
            values = reader(config, fake_azure.read_state(self.state_path))
        except NotFound as exc:
            detail = f"fake Azure subscription {self.state_path}: has the bootstrap run?"
            return pb.ReadDataSource.Response(diagnostics=_error(str(exc), detail))
        return pb.ReadDataSource.Response(state=to_dynamic_value(conform_block({**config, **values}, block)))

    def ImportResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ImportResourceState.Response(
            diagnostics=_error(f"fake Azure does not support importing {request.type_name}")
        )

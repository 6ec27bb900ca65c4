"""A fake `az` (and `gh`) for the bootstrap script tests.

Installed by the `fake_cli` fixture as executables named `az`/`gh` first on PATH. Every call is appended to
the JSON-lines log named by FAKE_CLI_LOG (argv, whether it writes); resources live in the JSON state file
named by FAKE_CLI_STATE, so tests can pre-create ("existing") or leave out ("missing") anything. A secret
value sent on stdin is stored only as a sha256, and flagged if it ever arrives in argv.
Unknown commands exit 99 so a script using an unsimulated command fails its test loudly.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fake runs with python -S: keep start-up imports to the minimum
    from typing import Any

WRITE_VERBS = {"create", "update", "set", "delete", "import", "add", "remove", "restart", "purge"}
SUB = "00000000-0000-0000-0000-000000000001"
TENANT = "00000000-0000-0000-0000-0000000000aa"


def empty_state() -> dict[str, Any]:
    return {
        "logged_in": True,
        "account": {"id": SUB, "tenantId": TENANT, "name": "fake", "user": {"name": "ops@example.com"}},
        "groups": {},
        "locks": {},
        "storage": {},
        "taken_storage_names": [],
        "blob_props": {},
        "containers": {},
        "apps": [],
        "sps": [],
        "fics": {},
        "role_assignments": [],
        "role_definitions": [],
        "vaults": {},
        "registries": {},
        "gh_envs": [],
        "gh_vars": {},
    }


class Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    words: list[str] = []
    opts: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-"):
            key = arg.lstrip("-")
            values: list[str] = []
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                values.append(argv[i])
                i += 1
            opts[key] = values
        else:
            words.append(arg)
            i += 1
    return words, opts


def one(opts: dict[str, list[str]], *keys: str) -> str:
    for key in keys:
        if opts.get(key):
            return opts[key][0]
    raise Fail(2, f"fake az: missing --{keys[0]}")


def not_found(what: str) -> Fail:
    return Fail(3, f"ERROR: (ResourceNotFound) The Resource '{what}' was not found.")


def new_id() -> str:
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def sub_id() -> str:
    return f"/subscriptions/{SUB}"


def handle_az(words: list[str], opts: dict[str, list[str]], st: dict[str, Any], stdin: str) -> Any:
    cmd = " ".join(words)
    if cmd == "account show":
        if not st["logged_in"]:
            raise Fail(1, "ERROR: Please run 'az login' to setup account.")
        return st["account"]
    if not st["logged_in"]:
        raise Fail(1, "ERROR: Please run 'az login' to setup account.")

    if cmd == "group show":
        name = one(opts, "name", "n")
        if name not in st["groups"]:
            raise Fail(3, f"ERROR: (ResourceGroupNotFound) Resource group '{name}' could not be found.")
        return st["groups"][name]
    if cmd == "group create":
        name = one(opts, "name", "n")
        st["groups"][name] = {
            "id": f"{sub_id()}/resourceGroups/{name}",
            "name": name,
            "location": one(opts, "location", "l"),
        }
        return st["groups"][name]
    if cmd == "lock list":
        return [{"name": n} for n in st["locks"].get(one(opts, "resource-group"), [])]
    if cmd == "lock create":
        st["locks"].setdefault(one(opts, "resource-group"), []).append(one(opts, "name"))
        return {"name": one(opts, "name")}

    if cmd == "storage account check-name":
        name = one(opts, "name")
        taken = name in st["taken_storage_names"] or name in st["storage"]
        return {"nameAvailable": not taken, "reason": "AlreadyExists" if taken else None}
    if cmd == "storage account show":
        name = one(opts, "name")
        if name not in st["storage"]:
            raise not_found(name)
        return st["storage"][name]
    if cmd in ("storage account create", "storage account update"):
        name = one(opts, "name")
        group = one(opts, "resource-group")
        if cmd.endswith("create"):
            if group not in st["groups"]:
                raise Fail(3, f"ERROR: (ResourceGroupNotFound) Resource group '{group}' could not be found.")
            st["storage"][name] = {
                "id": f"{sub_id()}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{name}",
                "name": name,
                "sku": {"name": one(opts, "sku")},
                "kind": one(opts, "kind"),
                "allowSharedKeyAccess": True,
                "minimumTlsVersion": "TLS1_0",
                "allowBlobPublicAccess": True,
                "enableHttpsTrafficOnly": False,
            }
        account = st["storage"][name]
        mapping = {
            "allow-shared-key-access": "allowSharedKeyAccess",
            "allow-blob-public-access": "allowBlobPublicAccess",
            "https-only": "enableHttpsTrafficOnly",
        }
        for flag, prop in mapping.items():
            if flag in opts:
                account[prop] = one(opts, flag) == "true"
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
        st["blob_props"][name] = {
            "isVersioningEnabled": one(opts, "enable-versioning") == "true",
            "deleteRetentionPolicy": {
                "enabled": one(opts, "enable-delete-retention") == "true",
                "days": int(one(opts, "delete-retention-days")),
            },
            "containerDeleteRetentionPolicy": {
                "enabled": one(opts, "enable-container-delete-retention") == "true",
                "days": int(one(opts, "container-delete-retention-days")),
            },
        }
        return st["blob_props"][name]
    if cmd in ("storage container-rm show", "storage container-rm create"):
        account, name = one(opts, "storage-account"), one(opts, "name")
        containers = st["containers"].setdefault(account, [])
        if cmd.endswith("show"):
            if name not in containers:
                raise not_found(name)
        else:
            containers.append(name)
        return {"name": name}

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
        params = json.loads(one(opts, "parameters"))
        existing = st["fics"].setdefault(one(opts, "id"), [])
        if any(c["name"] == params["name"] for c in existing):
            raise Fail(1, "ERROR: federated credential name already exists")
        existing.append(params)
        return params

    if cmd == "role assignment list":
        who, role, scope = one(opts, "assignee"), one(opts, "role"), one(opts, "scope")
        return [
            a
            for a in st["role_assignments"]
            if a["principalId"] == who and a["roleDefinitionName"] == role and a["scope"] == scope
        ]
    if cmd == "role assignment create":
        role = one(opts, "role")
        known = {
            "Contributor",
            "Reader",
            "Role Based Access Control Administrator",
            "Storage Blob Data Contributor",
            "Storage Blob Data Reader",
            "Key Vault Secrets Officer",
            "AcrPush",
            "AcrPull",
        }
        if role not in known and not any(d["roleName"] == role for d in st["role_definitions"]):
            raise Fail(1, f"ERROR: Role '{role}' doesn't exist.")
        assignment = {
            "principalId": one(opts, "assignee-object-id"),
            "roleDefinitionName": role,
            "scope": one(opts, "scope"),
            "condition": opts["condition"][0] if opts.get("condition") else None,
            "principalType": one(opts, "assignee-principal-type"),
        }
        st["role_assignments"].append(assignment)
        return assignment
    if cmd == "role definition list":
        return [d for d in st["role_definitions"] if d["roleName"] == one(opts, "name")]
    if cmd == "role definition create":
        spec = json.loads(one(opts, "role-definition"))
        definition = {
            "roleName": spec["Name"],
            "permissions": [{"actions": spec["Actions"]}],
            "assignableScopes": spec["AssignableScopes"],
        }
        st["role_definitions"].append(definition)
        return definition

    if cmd == "keyvault show":
        name = one(opts, "name", "n")
        if name not in st["vaults"]:
            raise Fail(3, f"ERROR: (ResourceNotFound) The Resource 'Microsoft.KeyVault/vaults/{name}' was not found.")
        return {"id": st["vaults"][name]["id"], "name": name}
    if cmd in ("keyvault secret list", "keyvault secret set"):
        vault_name = one(opts, "vault-name")
        if vault_name not in st["vaults"]:
            raise Fail(1, f"ERROR: Failed to resolve '{vault_name}.vault.azure.net'")
        vault = st["vaults"][vault_name]
        if cmd.endswith("list"):
            return [{"name": n, "id": f"https://{vault_name}.vault.azure.net/secrets/{n}"} for n in vault["secrets"]]
        if "value" in opts:
            raise Fail(97, "fake az: secret value passed in argv")
        if one(opts, "file") != "/dev/stdin":
            raise Fail(98, "fake az: secret read from a file on disk")
        if not stdin:
            raise Fail(1, "ERROR: empty secret value on stdin")
        secret = vault["secrets"].setdefault(one(opts, "name"), {"versions": 0})
        secret["versions"] += 1
        secret["sha256"] = hashlib.sha256(stdin.encode()).hexdigest()
        return {"id": f"https://{vault_name}.vault.azure.net/secrets/{one(opts, 'name')}", "value": stdin}

    if cmd == "acr list":
        group = one(opts, "resource-group")
        if group not in st["groups"]:
            raise Fail(3, f"ERROR: (ResourceGroupNotFound) Resource group '{group}' could not be found.")
        return st["registries"].get(group, [])
    raise Fail(99, f"fake az: unsupported command: {cmd}")


def handle_gh(words: list[str], opts: dict[str, list[str]], st: dict[str, Any]) -> Any:
    if words[:1] == ["api"]:
        env = words[1].rsplit("/", 1)[1]
        if opts.get("method") == ["PUT"]:
            st["gh_envs"].append(env)
            return {"name": env}
        if env not in st["gh_envs"]:
            raise Fail(1, "gh: Not Found (HTTP 404)")
        return {"name": env}
    scope = (opts.get("env") or ["<repo>"])[0]
    if words[:2] == ["variable", "list"]:
        return [{"name": k, "value": v} for k, v in st["gh_vars"].get(scope, {}).items()]
    if words[:2] == ["variable", "set"]:
        st["gh_vars"].setdefault(scope, {})[words[2]] = one(opts, "body")
        return None
    raise Fail(99, f"fake gh: unsupported command: {' '.join(words)}")


def main() -> int:
    tool = os.path.basename(sys.argv[0])
    argv = sys.argv[1:]
    state_path = os.environ["FAKE_CLI_STATE"]
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
    else:
        state = empty_state()
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    words, opts = parse(argv)
    is_write = bool(set(words) & WRITE_VERBS) or opts.get("method") == ["PUT"]
    with open(os.environ["FAKE_CLI_LOG"], "a") as log:
        log.write(json.dumps({"tool": tool, "argv": argv, "write": is_write, "stdin_bytes": len(stdin)}) + "\n")
    try:
        result = handle_gh(words, opts, state) if tool == "gh" else handle_az(words, opts, state, stdin)
    except Fail as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    with open(state_path, "w") as f:
        json.dump(state, f)
    if result is not None and (opts.get("output") or opts.get("o") or ["json"])[0] != "none":
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

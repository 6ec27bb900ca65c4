"""Rules Terraform cannot express, checked on the HCL itself with python-hcl2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.infra.conftest import ENVS, INFRA, MODULE, REPO

pytestmark = pytest.mark.infra

# Each file once: the environment roots link to infra/env/shared (test_roots_share_one_set_of_files).
TF_FILES = sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts and not p.is_symlink())
HCL_FILES = TF_FILES + sorted(INFRA.rglob("*.tfvars")) + sorted(INFRA.rglob("*.tftest.hcl"))
SCANNED = HCL_FILES + sorted((REPO / "tests" / "infra").rglob("*.tf"))

SECRET_NAME = re.compile(r"(password|secret|api_?key|access_?key|client_secret|token|salt|connection_string)", re.I)
SECRET_LOOKING = [
    re.compile(r"sk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"AccountKey=|SharedAccessSignature=|InstrumentationKey=[0-9a-f-]{36}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?<![0-9a-fA-F:])[0-9a-fA-F]{32}(?![0-9a-fA-F])"),  # bare 32-hex Azure OpenAI key
    # long base64 blobs: mixed case and digits in one token (paths, digests and GUIDs are excluded)
    re.compile(
        r"(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+]*[a-z])(?=[A-Za-z0-9+]*[A-Z])(?=[A-Za-z0-9+]*[0-9])[A-Za-z0-9+]{32,}={0,2}"
    ),
]


def strip(value: Any) -> Any:
    """python-hcl2 8 keeps quotes around strings; drop them for comparisons."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _unquote_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {strip(k): _unquote_keys(v) for k, v in node.items() if k not in ("__comments__", "__is_block__")}
    if isinstance(node, list):
        return [_unquote_keys(v) for v in node]
    return node


def load(path: Path) -> dict[str, Any]:
    """The file as python-hcl2 8 parses it, with block labels unquoted (values keep their quotes)."""
    with path.open() as fh:
        data: dict[str, Any] = _unquote_keys(hcl2.load(fh))
    return data


def walk(node: Any, key: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += walk(v, strip(k))
    elif isinstance(node, list):
        for v in node:
            out += walk(v, key)
    else:
        out.append((key, node))
    return out


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(REPO)))
def test_no_secret_literal(path: Path) -> None:
    text = path.read_text()
    for pattern in SECRET_LOOKING:
        hits = [m.group(0) for m in pattern.finditer(text)]
        assert hits == [], f"{path}: secret-looking literal {hits}"
    for key, value in walk(load(path)):
        literal = isinstance(value, str) and value.startswith('"') and "${" not in value
        if SECRET_NAME.search(key) and literal and strip(value) not in ("", "key", "entra"):
            pytest.fail(f"{path}: {key} is assigned a literal string")


def test_no_key_vault_secret_values_in_terraform() -> None:
    for path in TF_FILES:
        for resource in load(path).get("resource", []):
            for rtype, instances in resource.items():
                if strip(rtype) == "azurerm_key_vault_secret":
                    for body in instances.values():
                        assert "value" not in body, f"{path}: use value_wo (write-only) or the secrets script"


@pytest.mark.parametrize(
    "path", [p for p in TF_FILES if p.name == "variables.tf"], ids=lambda p: str(p.relative_to(INFRA))
)
def test_every_variable_typed_and_described(path: Path) -> None:
    variables = [v for block in load(path).get("variable", []) for v in block.items()]
    assert variables
    for name, body in variables:
        assert "type" in body, f"{path}: variable {name} has no type"
        assert strip(body.get("description", "")).strip(), f"{path}: variable {name} has no description"


@pytest.mark.parametrize(
    "path", [p for p in TF_FILES if p.name == "outputs.tf"], ids=lambda p: str(p.relative_to(INFRA))
)
def test_every_output_described(path: Path) -> None:
    for block in load(path).get("output", []):
        for name, body in block.items():
            assert strip(body.get("description", "")).strip(), f"{path}: output {name} has no description"


def test_module_has_no_provider_block() -> None:
    for path in MODULE.glob("*.tf"):
        assert "provider" not in load(path), f"{path}: modules take providers from the root"


def test_roots_share_one_set_of_files() -> None:
    # Nothing is written three times: each root is the shared files plus its own terraform.tfvars.
    shared = sorted(p.name for p in (INFRA / "env" / "shared").glob("*.tf"))
    assert shared == ["main.tf", "outputs.tf", "terraform.tf", "variables.tf"]
    for env in ENVS:
        root = INFRA / "env" / env
        assert sorted(p.name for p in root.iterdir() if p.is_file() and not p.is_symlink()) == ["terraform.tfvars"]
        for name in shared:
            link = root / name
            assert link.is_symlink() and str(link.readlink()) == f"../shared/{name}", f"{env}/{name}"


def test_root_contract() -> None:
    shared = INFRA / "env" / "shared"
    terraform = load(shared / "terraform.tf")["terraform"][0]
    backend = terraform["backend"][0]["azurerm"]
    assert backend["use_oidc"] is True
    assert backend["use_azuread_auth"] is True
    assert strip(backend["key"]) == "aigateway.tfstate"
    # Account and the environment's own container come from scripts/deploy.py (-backend-config).
    assert "storage_account_name" not in backend and "container_name" not in backend
    azurerm = terraform["required_providers"][0]["azurerm"]
    assert strip(azurerm["version"]) == "5.10.0", "plan and apply run the same provider build: pin it exactly"
    outputs = {k for block in load(shared / "outputs.tf")["output"] for k in block}
    assert outputs == {"deployment"}
    deployment = (shared / "outputs.tf").read_text()
    for key in ("gateway_url", "resource_group_name", "container_app_name", "image", "key_vault_name"):
        assert f"{key} " in deployment, f"scripts/deploy.py reads deployment.{key}"
    variables = {k: v for block in load(shared / "variables.tf")["variable"] for k, v in block.items()}
    assert "default" not in variables["image"], "no apply without an image: it is required"


@pytest.mark.parametrize("env", ENVS)
def test_tfvars_per_environment(env: str) -> None:
    tfvars = load(INFRA / "env" / env / "terraform.tfvars")
    assert strip(tfvars["env"]) == env
    assert "smoke" in {strip(k) for k in tfvars["projects"]}, "the pipeline's smoke suite uses project smoke"
    assert "image" not in tfvars, "the image comes from the pipeline (-var), never from tfvars"
    if env == "prod":
        assert tfvars["min_replicas"] >= 1
        assert tfvars["shared_limits_enabled"] is True, "prod runs up to 5 replicas: limits must be shared"
    else:
        assert tfvars.get("min_replicas", 0) == 0


def test_operations_doc_has_the_module_queries() -> None:
    doc = (REPO / "docs" / "operations.md").read_text()
    for kql in sorted((MODULE / "queries").glob("*.kql")):
        assert kql.read_text().strip() in doc, f"docs/operations.md must carry {kql.name} verbatim"


def test_module_readme_documents_every_input_and_output() -> None:
    readme = (MODULE / "README.md").read_text()
    for kind in ("variable", "output"):
        path = MODULE / ("variables.tf" if kind == "variable" else "outputs.tf")
        for block in load(path)[kind]:
            for name in block:
                assert f"| `{name}` |" in readme, f"module README misses {kind} {name}"

"""Rules Terraform cannot express, checked on the HCL itself with python-hcl2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.infra.conftest import ENVS, INFRA, MODULE, REPO

pytestmark = pytest.mark.infra

TF_FILES = sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts)
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


def test_roots_are_identical_but_for_the_state_key() -> None:
    files = ("terraform.tf", "providers.tf", "main.tf", "variables.tf", "outputs.tf")
    for name in files:
        dev = (INFRA / "env" / "dev" / name).read_text()
        for env in ENVS:
            text = (INFRA / "env" / env / name).read_text()
            assert text.replace(f"aigateway/{env}.tfstate", "aigateway/dev.tfstate") == dev, f"{env}/{name} drifted"


@pytest.mark.parametrize("env", ENVS)
def test_root_contract(env: str) -> None:
    root = INFRA / "env" / env
    backend = load(root / "terraform.tf")["terraform"][0]["backend"][0]["azurerm"]
    assert backend["use_oidc"] is True
    assert backend["use_azuread_auth"] is True
    assert strip(backend["container_name"]) == "tfstate"
    assert strip(backend["key"]) == f"aigateway/{env}.tfstate"
    assert "storage_account_name" not in backend, "supplied with -backend-config by the pipeline"
    outputs = {k for block in load(root / "outputs.tf")["output"] for k in block}
    assert {
        "gateway_url",
        "resource_group_name",
        "key_vault_name",
        "registry_name",
        "registry_login_server",
        "container_app_name",
    } <= outputs
    variables = {k: v for block in load(root / "variables.tf")["variable"] for k, v in block.items()}
    assert variables["image_digest"]["default"] is None


@pytest.mark.parametrize("env", ENVS)
def test_tfvars_per_environment(env: str) -> None:
    tfvars = load(INFRA / "env" / env / "terraform.tfvars")
    assert strip(tfvars["env"]) == env
    assert "smoke" in {strip(k) for k in tfvars["projects"]}, "the pipeline's smoke suite uses project smoke"
    assert "image_digest" not in tfvars, "the digest comes from the pipeline (-var), never from tfvars"
    if env == "prod":
        assert tfvars["min_replicas"] >= 1
        assert tfvars["key_vault_purge_protection_enabled"] is True
    else:
        assert tfvars["min_replicas"] == 0


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

"""terraform fmt / init -backend=false / validate / test, offline, against the real azurerm 5.10.0 schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.conftest import ENVS, INFRA, MODULE, TfRunner, copy_infra

pytestmark = pytest.mark.infra

ROOTS = {"module": Path("modules/aigateway_aca"), **{env: Path("env") / env for env in ENVS}}


def init_and_validate(tf: TfRunner, workdir: Path) -> str:
    init = tf("init", "-backend=false", "-input=false", cwd=workdir)
    assert init.returncode == 0, init.output
    validate = tf("validate", cwd=workdir)
    return ("OK " if validate.returncode == 0 else "FAIL ") + validate.output


def test_fmt_is_clean(tf: TfRunner) -> None:
    result = tf("fmt", "-check", "-recursive", "-diff", cwd=INFRA)
    assert result.returncode == 0, f"run `terraform fmt -recursive infra`:\n{result.output}"


def test_fmt_check_catches_misformatting(tf: TfRunner, infra_copy: Path) -> None:
    (infra_copy / "modules" / "aigateway_aca" / "extra.tf").write_text('locals {\n  x    =   "y"\n}\n')
    result = tf("fmt", "-check", "-recursive", cwd=infra_copy)
    assert result.returncode == 3
    assert "extra.tf" in result.output


@pytest.mark.parametrize("root", list(ROOTS))
def test_validates_against_real_schema(tf: TfRunner, infra_copy: Path, root: str) -> None:
    assert init_and_validate(tf, infra_copy / ROOTS[root]).startswith("OK Success! The configuration is valid.")


# Each mutation breaks the code the way a typo would; validate against the real schema must fail and name it.
MUTATIONS = {
    "misspelt_argument": (
        "modules/aigateway_aca/main.containerapp.tf",
        "target_port ",
        "target_prot ",
        'An argument named "target_prot" is not expected here',
    ),
    "misspelt_block": (
        "modules/aigateway_aca/main.containerapp.tf",
        "traffic_weight {",
        "trafic_weight {",
        'Blocks of type "trafic_weight" are not expected here',
    ),
    "missing_required_block": (
        "modules/aigateway_aca/main.containerapp.tf",
        "    traffic_weight {\n      latest_revision = true\n      percentage      = 100\n    }\n",
        "",
        'At least 1 "traffic_weight" blocks are required',
    ),
    "bad_attribute_reference": (
        "modules/aigateway_aca/outputs.tf",
        "azurerm_log_analytics_workspace.this.id",
        "azurerm_log_analytics_workspace.this.resource_id",
        'This object has no argument, nested block, or exported attribute named "resource_id"',
    ),
    "removed_4x_argument": (
        "modules/aigateway_aca/main.monitoring.tf",
        'sku                 = "PerGB2018"',
        "local_authentication_disabled = true",
        'An argument named "local_authentication_disabled" is not expected here',
    ),
    "unknown_resource_type": (
        "modules/aigateway_aca/main.redis.tf",
        'resource "azurerm_managed_redis" "this"',
        'resource "azurerm_managed_rediss" "this"',
        "The provider hashicorp/azurerm does not support resource type",
    ),
    "wrong_value_type": (
        "modules/aigateway_aca/main.containerapp.tf",
        'revision_mode                = "Single"',
        'revision_mode                = ["Single"]',
        "Incorrect attribute value type",
    ),
    "root_misspelt_module_argument": (
        "env/shared/main.tf",
        "shared_limits_enabled     = var.shared_limits_enabled",
        "shared_limits_enable      = var.shared_limits_enabled",
        'An argument named "shared_limits_enable" is not expected here',
    ),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_validate_fails_on_broken_code(tf: TfRunner, tmp_path: Path, name: str) -> None:
    rel, old, new, expected = MUTATIONS[name]
    infra = copy_infra(tmp_path)
    target = infra / rel
    text = target.read_text()
    assert old in text, f"mutation {name} no longer applies: update it"
    target.write_text(text.replace(old, new, 1))
    workdir = infra / ("env/prod" if rel.startswith("env/") else "modules/aigateway_aca")
    outcome = init_and_validate(tf, workdir)
    assert outcome.startswith("FAIL"), outcome
    assert expected in " ".join(outcome.split()), outcome


def test_terraform_test_passes(tf: TfRunner, tmp_path: Path) -> None:
    workdir = copy_infra(tmp_path) / "modules" / "aigateway_aca"
    assert tf("init", "-backend=false", "-input=false", cwd=workdir).returncode == 0
    result = tf("test", cwd=workdir, timeout=400)
    assert result.returncode == 0, result.output
    summary = re.search(r"Success! (\d+) passed, 0 failed\.", result.output)
    assert summary, result.output
    runs = len(re.findall(r'^run "', (MODULE / "tests" / "unit.tftest.hcl").read_text(), re.MULTILINE))
    assert int(summary.group(1)) == runs


def test_terraform_test_catches_a_wrong_default(tf: TfRunner, tmp_path: Path) -> None:
    """A behaviour change the schema cannot see (prod scaling to zero) must fail terraform test."""
    workdir = copy_infra(tmp_path) / "modules" / "aigateway_aca"
    locals_tf = workdir / "locals.tf"
    locals_tf.write_text(locals_tf.read_text().replace('var.env == "prod" ? 1 : 0', "0", 1))
    (workdir / "tests" / "unit.tftest.hcl").write_text(
        (MODULE / "tests" / "unit.tftest.hcl").read_text().split('run "image_from_the_shared_registry"')[0]
    )
    assert tf("init", "-backend=false", "-input=false", cwd=workdir).returncode == 0
    result = tf("test", cwd=workdir, timeout=400)
    assert result.returncode != 0
    assert 'run "prod_keeps_one_replica"... fail' in result.output

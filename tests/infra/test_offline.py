"""Tests of infra/offline (azurerm_offline): the schema builder, the schema-only provider, the mirror."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from azurerm_offline import AZURERM_VERSION, OfflineMirror
from azurerm_offline.provider import OFFLINE_ERROR, SchemaOnlyServicer, block_to_pb, load_schema
from azurerm_offline.schema import PROVIDER_ADDRESS, _Module, resource_block

pytestmark = pytest.mark.infra

SYNTHETIC_JS = """
class ThingNestedOutputReference extends cdktn.ComplexObject {
    // label - computed: false, optional: false, required: true
    get label() {
        return this.getStringAttribute('label');
    }
    // seen - computed: true, optional: false, required: false
    get seen() {
        return this.getBooleanAttribute('seen');
    }
}
class ThingNestedList extends cdktn.ComplexList {
    get(index) {
        return new ThingNestedOutputReference(this.terraformResource, this.terraformAttribute, index, this.wrapsSet);
    }
}
class ThingOutOutputReference extends cdktn.ComplexObject {
    // port - computed: true, optional: false, required: false
    get port() {
        return this.getNumberAttribute('port');
    }
}
class ThingOutList extends cdktn.ComplexList {
    get(index) {
        return new ThingOutOutputReference(this.terraformResource, this.terraformAttribute, index, this.wrapsSet);
    }
}
class Thing extends cdktn.TerraformResource {
    static tfResourceType = "azurerm_thing";
    // name - computed: false, optional: false, required: true
    get name() {
        return this.getStringAttribute('name');
    }
    // ids - computed: false, optional: true, required: false
    get ids() {
        return cdktn.Fn.tolist(this.getListAttribute('ids'));
    }
    // labels - computed: true, optional: false, required: false
    _labels = new cdktn.StringMap(this, "labels");
    // nested - computed: false, optional: true, required: false
    _nested = new ThingNestedList(this, "nested", true);
    // out - computed: true, optional: false, required: false
    _out = new ThingOutList(this, "out", false);
}
"""


def test_builder_reads_flags_types_and_nesting() -> None:
    block = _Module(SYNTHETIC_JS).block("Thing")
    assert block["attributes"]["name"] == {"type": "string", "required": True}
    assert block["attributes"]["ids"] == {"type": ["set", "string"], "optional": True}
    assert block["attributes"]["labels"] == {"type": ["map", "string"], "computed": True}
    assert block["attributes"]["out"] == {"type": ["list", ["object", {"port": "number"}]], "computed": True}
    nested = block["block_types"]["nested"]
    assert nested["nesting_mode"] == "set"
    assert nested["block"]["attributes"]["label"] == {"type": "string", "required": True}
    assert nested["block"]["attributes"]["seen"] == {"type": "bool", "computed": True}


@pytest.fixture(scope="module")
def schema(offline_mirror: OfflineMirror) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(offline_mirror.schema.read_text())
    return document


def test_real_schema_matches_documented_azurerm_5(schema: dict[str, Any]) -> None:
    provider = schema["provider_schemas"][PROVIDER_ADDRESS]
    assert len(provider["resource_schemas"]) > 1000
    assert len(provider["data_source_schemas"]) > 300
    kv = resource_block(schema, "azurerm_key_vault")["attributes"]
    assert kv["rbac_authorization_enabled"].get("required") is True  # 5.0: required
    assert "enable_rbac_authorization" not in kv  # removed in 5.0
    app = resource_block(schema, "azurerm_container_app")
    assert app["block_types"]["template"]["min_items"] == 1
    assert app["block_types"]["secret"]["nesting_mode"] == "set"
    ingress = app["block_types"]["ingress"]["block"]
    assert ingress["attributes"]["fqdn"] == {"type": "string", "computed": True}
    assert ingress["block_types"]["traffic_weight"]["min_items"] == 1
    scale = app["block_types"]["template"]["block"]["block_types"]["http_scale_rule"]["block"]
    assert scale["attributes"]["concurrent_requests"]["type"] == "string"
    startup = app["block_types"]["template"]["block"]["block_types"]["container"]["block"]["block_types"][
        "startup_probe"
    ]
    assert "termination_grace_period_seconds" not in startup["block"]["attributes"]  # removed in 5.0
    env = resource_block(schema, "azurerm_container_app_environment")["attributes"]
    assert env["logs_destination"] == {"type": "string", "optional": True}
    assert "tenant_id" in resource_block(schema, "azurerm_client_config", data=True)["attributes"]
    assert "features" in provider["provider"]["block"]["block_types"]


def test_serialised_schema_equals_json_conversion(schema: dict[str, Any], offline_mirror: OfflineMirror) -> None:
    from_pb = load_schema(offline_mirror.schema.with_suffix(".pb"))
    app = from_pb.resource_schemas["azurerm_container_app"]
    assert app.block == block_to_pb(resource_block(schema, "azurerm_container_app"))
    assert set(from_pb.data_source_schemas) == set(schema["provider_schemas"][PROVIDER_ADDRESS]["data_source_schemas"])


def test_servicer_refuses_real_operations(offline_mirror: OfflineMirror) -> None:
    servicer = SchemaOnlyServicer(offline_mirror.schema.with_suffix(".pb"))
    response = servicer.PlanResourceChange(None, None)
    assert [d.summary for d in response.diagnostics] == [OFFLINE_ERROR]
    assert "azurerm_container_app" in servicer.GetProviderSchema(None, None).resource_schemas


def test_mirror_launcher_speaks_the_plugin_handshake(offline_mirror: OfflineMirror) -> None:
    launcher = next(offline_mirror.mirror.rglob(f"terraform-provider-azurerm_v{AZURERM_VERSION}"))
    assert os.access(launcher, os.X_OK)
    proc = subprocess.Popen([str(launcher)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        fields = proc.stdout.readline().strip().split("|")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # go-plugin: core protocol 1, plugin protocol 6 (tfplugin6), unix socket, grpc, server cert
    assert fields[:3] == ["1", "6", "unix"]
    assert fields[4] == "grpc"
    assert len(fields[5]) > 100


def test_cli_config_only_uses_the_mirror(offline_mirror: OfflineMirror) -> None:
    text = offline_mirror.cli_config.read_text()
    assert "filesystem_mirror" in text
    assert "direct" not in text
    assert offline_mirror.env({})["CHECKPOINT_DISABLE"] == "1"


def test_schema_cache_is_reused(offline_mirror: OfflineMirror) -> None:
    from azurerm_offline.mirror import ensure_schema

    before = offline_mirror.schema.stat().st_mtime_ns
    assert ensure_schema(offline_mirror.cache) == offline_mirror.schema
    assert offline_mirror.schema.stat().st_mtime_ns == before


def test_wheel_hash_is_enforced(tmp_path: Path) -> None:
    from azurerm_offline.mirror import MirrorError, fetch_wheel
    from azurerm_offline.schema import WHEEL_NAME

    (tmp_path / WHEEL_NAME).write_bytes(b"not the wheel")
    with pytest.raises(MirrorError, match="sha256"):
        fetch_wheel(tmp_path)

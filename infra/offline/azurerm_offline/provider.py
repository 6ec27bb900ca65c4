"""A schema-only azurerm provider: answers GetProviderSchema from a rebuilt schema document.

Terraform needs nothing else for ``init``, ``validate`` and ``terraform test`` with ``mock_provider``
(mocks replace plan/apply/read). Validation and configuration are accepted as-is; any call that would
reach Azure (plan, apply, read, import) returns an error diagnostic, so a mistaken real ``plan`` against
this provider fails loudly instead of pretending.

Fake-Azure mode: started with ``FAKE_AZURE_STATE`` in its environment (Terraform passes its own environment
to plugins), the provider plans, applies and reads against that fake subscription file instead
(:mod:`azurerm_offline.fake_crud`), for deploy rehearsals with real ``terraform plan`` / ``apply``.

Run as ``python -m azurerm_offline.provider <schema.json>``; the go-plugin handshake, the gRPC server and
AutoMTLS come from the PyPI ``tf`` package (``tf.runner.run_provider``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import grpc
import tf.provider
from tf import runner
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc

from azurerm_offline import fake_azure
from azurerm_offline.schema import PROVIDER_ADDRESS, JsonObj

_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
    "group": pb.Schema.NestedBlock.GROUP,
}

OFFLINE_ERROR = "offline schema-only azurerm provider: this operation needs the real provider and Azure"


def block_to_pb(block: JsonObj) -> pb.Schema.Block:
    """Convert one ``providers schema -json`` block into its tfplugin6 message."""
    attributes = [
        pb.Schema.Attribute(
            name=name,
            type=json.dumps(attr["type"]).encode(),
            description=attr.get("description", ""),
            required=attr.get("required", False),
            optional=attr.get("optional", False),
            computed=attr.get("computed", False),
            sensitive=attr.get("sensitive", False),
        )
        for name, attr in sorted(block.get("attributes", {}).items())
    ]
    block_types = [
        pb.Schema.NestedBlock(
            type_name=name,
            block=block_to_pb(nested["block"]),
            nesting=_NESTING[nested["nesting_mode"]],
            min_items=nested.get("min_items", 0),
            max_items=nested.get("max_items", 0),
        )
        for name, nested in sorted(block.get("block_types", {}).items())
    ]
    return pb.Schema.Block(version=0, attributes=attributes, block_types=block_types)


def schema_to_pb(document: JsonObj) -> pb.GetProviderSchema.Response:
    """The whole GetProviderSchema response for the azurerm entry of a schema document."""
    provider = document["provider_schemas"][PROVIDER_ADDRESS]

    def table(kind: str) -> dict[str, pb.Schema]:
        return {
            name: pb.Schema(version=entry.get("version", 0), block=block_to_pb(entry["block"]))
            for name, entry in provider.get(kind, {}).items()
        }

    return pb.GetProviderSchema.Response(
        provider=pb.Schema(version=0, block=block_to_pb(provider["provider"]["block"])),
        provider_meta=pb.Schema(version=0, block=pb.Schema.Block()),
        resource_schemas=table("resource_schemas"),
        data_source_schemas=table("data_source_schemas"),
    )


def load_schema(path: Path) -> pb.GetProviderSchema.Response:
    """A schema document (``.json``) or its pre-serialised response (``.pb``, ~30x faster to load)."""
    if path.suffix == ".pb":
        return pb.GetProviderSchema.Response.FromString(path.read_bytes())
    return schema_to_pb(json.loads(path.read_text()))


def _offline_error() -> list[pb.Diagnostic]:
    return [pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=OFFLINE_ERROR)]


class SchemaOnlyServicer(rpc.ProviderServicer):  # type: ignore[misc]
    """tfplugin6 Provider service backed by a static schema document."""

    def __init__(self, schema_path: Path) -> None:
        self._schema_path = schema_path
        self._response: pb.GetProviderSchema.Response | None = None

    def schema(self) -> pb.GetProviderSchema.Response:
        if self._response is None:
            self._response = load_schema(self._schema_path)
        return self._response

    def GetMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.GetMetadata.Response(server_capabilities=pb.ServerCapabilities(plan_destroy=True))

    def GetProviderSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.schema()

    def ValidateProviderConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ConfigureProvider.Response()

    def GetFunctions(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.GetFunctions.Response()

    def UpgradeResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.UpgradeResourceState.Response(diagnostics=_offline_error())

    def ReadResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ReadResource.Response(diagnostics=_offline_error())

    def PlanResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.PlanResourceChange.Response(diagnostics=_offline_error())

    def ApplyResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ApplyResourceChange.Response(diagnostics=_offline_error())

    def ImportResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ImportResourceState.Response(diagnostics=_offline_error())

    def ReadDataSource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ReadDataSource.Response(diagnostics=_offline_error())

    def StopProvider(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.StopProvider.Response()


class _Identity:
    """The only part of ``tf.iface.Provider`` that ``run_provider`` uses outside the servicer."""

    def full_name(self) -> str:
        return PROVIDER_ADDRESS


def make_servicer(schema_path: Path, environ: dict[str, str] | None = None) -> SchemaOnlyServicer:
    """Schema-only, or fake Azure when ``FAKE_AZURE_STATE`` names a fake subscription file."""
    state = (os.environ if environ is None else environ).get(fake_azure.ENV_VAR)
    if state:
        from azurerm_offline.fake_crud import FakeAzureServicer  # loaded only in fake mode

        return FakeAzureServicer(schema_path, os.path.abspath(state))
    return SchemaOnlyServicer(schema_path)


def serve(schema_path: Path, argv: list[str]) -> None:
    """Serve the schema over the go-plugin protocol until Terraform stops the plugin."""
    servicer = make_servicer(schema_path)
    # run_provider builds its servicer as tf.provider.ProviderServicer(provider); hand it ours instead
    # of tf's class-per-resource one (we have 1,500 schemas, not Python classes).
    tf.provider.ProviderServicer = lambda _provider: servicer
    runner.run_provider(_Identity(), argv)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m azurerm_offline.provider SCHEMA.json|SCHEMA.pb")
    serve(Path(sys.argv[1]), sys.argv[1:])


if __name__ == "__main__":
    main()

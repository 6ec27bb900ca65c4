"""Rebuild the azurerm provider schema from the ``cdktn-provider-azurerm`` wheel.

The wheel carries ``_jsii/provider-azurerm@<v>.jsii.tgz``. Inside it:

* ``package/lib/<resource>/index.js`` is generated from the provider schema. Every attribute is
  preceded by ``// <name> - computed: <b>, optional: <b>, required: <b>`` and read back through a
  typed getter (``getStringAttribute('name')``, ``Fn.tolist(getListAttribute(..))`` for sets);
  nested blocks are ``new <X>List(this, "name", <wrapsSet>)`` or ``new <X>OutputReference(this, "name")``
  (a block of at most one item). That is enough for resources and data sources.
* ``package/.jsii`` holds the provider configuration (its getters carry no types), whose snake_case
  names come from the registry anchors in each property's docs link.

The output has the shape of ``terraform providers schema -json`` (format 1.0). Not reproduced: value
validation (enums, regexes, ConflictsWith), sensitivity, deprecation and schema versions.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WHEEL_VERSION = "18.9.0"
AZURERM_VERSION = "5.10.0"
WHEEL_NAME = f"cdktn_provider_azurerm-{WHEEL_VERSION}-py3-none-any.whl"
# sha256 of the wheel on PyPI; a different file is refused rather than trusted.
WHEEL_SHA256 = "83dc7e7d1e8e0dcc62d0ceeb8aff741bf70f5132548d9b47169f619425a6b4e1"
PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/azurerm"

JsonObj = dict[str, Any]

_CLASS_RE = re.compile(r"^class (\w+) extends cdktn\.(\w+) \{$", re.MULTILINE)
_FIELD_RE = re.compile(
    r"^\s*// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)$", re.MULTILINE
)
_TYPE_RE = re.compile(r"^\s*static tfResourceType = \"(\w+)\";$", re.MULTILINE)
_COMPLEX_RE = re.compile(r"new (\w+)\(this, \"(\w+)\"(?:, (true|false))?\)")
_GETTER_RE = re.compile(r"this\.(get\w*Attribute|interpolationForAttribute)\('(\w+)'\)")
_ELEMENT_RE = re.compile(r"get\(index\) \{\s*return new (\w+)\(")
_ANCHOR_RE = re.compile(r"#(\w+) ")

_PRIMITIVE_GETTERS: dict[str, Any] = {
    "getStringAttribute": "string",
    "getNumberAttribute": "number",
    "getBooleanAttribute": "bool",
    "getListAttribute": ["list", "string"],
    "getNumberListAttribute": ["list", "number"],
    "getStringMapAttribute": ["map", "string"],
    "getNumberMapAttribute": ["map", "number"],
    "getBooleanMapAttribute": ["map", "bool"],
    "getAnyMapAttribute": ["map", "dynamic"],
    "interpolationForAttribute": "dynamic",
}


class SchemaBuildError(RuntimeError):
    """The wheel does not have the layout this builder understands."""


@dataclass
class _Field:
    name: str
    computed: bool
    optional: bool
    required: bool
    body: str


@dataclass
class _Class:
    name: str
    base: str
    body: str
    fields: list[_Field] = field(default_factory=list)


def _parse_classes(source: str) -> dict[str, _Class]:
    classes: dict[str, _Class] = {}
    heads = list(_CLASS_RE.finditer(source))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(source)
        body = source[head.end() : end]
        cls = _Class(head.group(1), head.group(2), body)
        marks = list(_FIELD_RE.finditer(body))
        for j, mark in enumerate(marks):
            stop = marks[j + 1].start() if j + 1 < len(marks) else len(body)
            cls.fields.append(
                _Field(
                    name=mark.group(1),
                    computed=mark.group(2) == "true",
                    optional=mark.group(3) == "true",
                    required=mark.group(4) == "true",
                    body=body[mark.end() : stop],
                )
            )
        classes[cls.name] = cls
    return classes


class _Module:
    """One ``lib/<name>/index.js``: its classes and the blocks built from them."""

    def __init__(self, source: str) -> None:
        self.classes = _parse_classes(source)

    def element_class(self, list_class: str) -> str:
        cls = self.classes[list_class]
        found = _ELEMENT_RE.search(cls.body)
        if not found:
            raise SchemaBuildError(f"{list_class}: no element class")
        return found.group(1)

    def object_type(self, class_name: str) -> Any:
        """cty type of a computed-only nested object: every getter becomes an object attribute."""
        attrs: JsonObj = {}
        for fld in self.classes[class_name].fields:
            attrs[fld.name] = self._field_type(fld)
        return ["object", attrs]

    def _field_type(self, fld: _Field) -> Any:
        complex_ = _COMPLEX_RE.search(fld.body)
        if complex_ and complex_.group(2) == fld.name:
            kind, wraps_set = complex_.group(1), complex_.group(3) == "true"
            if self.classes.get(kind, _Class("", "", "")).base == "MapList":
                return ["list", ["map", "dynamic"]]
            if kind.endswith("List"):
                return ["set" if wraps_set else "list", self.object_type(self.element_class(kind))]
            return ["list", self.object_type(kind)]
        if f'new cdktn.StringMap(this, "{fld.name}")' in fld.body:
            return ["map", "string"]
        getter = _GETTER_RE.search(fld.body)
        if not getter:
            raise SchemaBuildError(f"attribute {fld.name}: no typed getter")
        cty = _PRIMITIVE_GETTERS.get(getter.group(1))
        if cty is None:
            raise SchemaBuildError(f"attribute {fld.name}: unknown getter {getter.group(1)}")
        if isinstance(cty, list) and cty[0] == "list" and "Fn.tolist(" in fld.body:
            return ["set", cty[1]]
        return cty

    def block(self, class_name: str) -> JsonObj:
        attributes: JsonObj = {}
        block_types: JsonObj = {}
        for fld in self.classes[class_name].fields:
            complex_ = _COMPLEX_RE.search(fld.body)
            is_block = bool(complex_ and complex_.group(2) == fld.name) and (fld.optional or fld.required)
            if complex_ and is_block and self.classes.get(complex_.group(1), _Class("", "", "")).base != "MapList":
                kind, wraps_set = complex_.group(1), complex_.group(3) == "true"
                nested: JsonObj
                if kind.endswith("List"):
                    nested = {
                        "nesting_mode": "set" if wraps_set else "list",
                        "block": self.block(self.element_class(kind)),
                    }
                else:
                    nested = {"nesting_mode": "list", "block": self.block(kind), "max_items": 1}
                if fld.required:
                    nested["min_items"] = 1
                block_types[fld.name] = nested
                continue
            attr: JsonObj = {"type": self._field_type(fld)}
            for flag in ("required", "optional", "computed"):
                if getattr(fld, flag):
                    attr[flag] = True
            attributes[fld.name] = attr
        out: JsonObj = {"attributes": attributes}
        if block_types:
            out["block_types"] = block_types
        return out


def _jsii_block(types: JsonObj, fqn: str) -> JsonObj:
    """A block from a jsii struct (used for the provider configuration, whose getters are untyped)."""
    attributes: JsonObj = {}
    block_types: JsonObj = {}
    for prop in types[fqn].get("properties", []):
        docs = prop.get("docs", {})
        anchor = _ANCHOR_RE.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
        name = anchor.group(1) if anchor else re.sub(r"(?<!^)([A-Z])", r"_\1", prop["name"]).lower()
        required = not prop.get("optional", False)
        ptype = prop["type"]
        struct = None
        if "fqn" in ptype and not ptype["fqn"].startswith("cdktn."):
            struct = ptype["fqn"]
        elif "union" in ptype:
            for alt in ptype["union"]["types"]:
                elem = alt.get("collection", {}).get("elementtype", {})
                if "fqn" in elem:
                    struct = elem["fqn"]
        if struct:
            nested: JsonObj = {"nesting_mode": "list", "block": _jsii_block(types, struct)}
            if "fqn" in ptype:
                nested["max_items"] = 1
            if required:
                nested["min_items"] = 1
            block_types[name] = nested
            continue
        attributes[name] = {"type": _jsii_type(ptype), ("required" if required else "optional"): True}
    out: JsonObj = {"attributes": attributes}
    if block_types:
        out["block_types"] = block_types
    return out


def _jsii_type(ptype: JsonObj) -> Any:
    primitives = {"string": "string", "number": "number", "boolean": "bool", "any": "dynamic"}
    if "primitive" in ptype:
        return primitives[ptype["primitive"]]
    if "union" in ptype:
        prims = [t["primitive"] for t in ptype["union"]["types"] if "primitive" in t]
        return primitives[prims[0]] if prims else "dynamic"
    if "collection" in ptype:
        coll = ptype["collection"]
        kind = "map" if coll["kind"] == "map" else "list"
        return [kind, _jsii_type(coll["elementtype"])]
    return "dynamic"


def read_package(wheel: Path) -> tuple[JsonObj, dict[str, str]]:
    """The jsii type table and every ``lib/<dir>/index.js`` of the wheel's embedded npm package."""
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
        if len(members) != 1:
            raise SchemaBuildError(f"{wheel.name}: expected one .jsii.tgz, found {members}")
        blob = zf.read(members[0])
    jsii: JsonObj | None = None
    modules: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.name == "package/.jsii":
                jsii = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            elif len(parts) == 4 and parts[1] == "lib" and parts[3] == "index.js":
                handle = tar.extractfile(member)
                if handle is not None:
                    modules[parts[2]] = handle.read().decode()
    if jsii is None:
        raise SchemaBuildError(f"{wheel.name}: no package/.jsii")
    return jsii, modules


def build_schema(wheel: Path) -> JsonObj:
    """The provider schema document (``terraform providers schema -json`` shape) from the wheel."""
    jsii, modules = read_package(wheel)
    resources: JsonObj = {}
    data_sources: JsonObj = {}
    for source in modules.values():
        if "static tfResourceType" not in source:
            continue
        module = _Module(source)
        for cls in module.classes.values():
            if cls.base not in ("TerraformResource", "TerraformDataSource"):
                continue
            type_name = _TYPE_RE.search(cls.body)
            if not type_name:
                raise SchemaBuildError(f"{cls.name}: no tfResourceType")
            target = resources if cls.base == "TerraformResource" else data_sources
            target[type_name.group(1)] = {"version": 0, "block": module.block(cls.name)}
    provider_fqn = next(fqn for fqn, t in jsii["types"].items() if t.get("base") == "cdktn.TerraformProvider")
    provider_block = _jsii_block(jsii["types"], provider_fqn + "Config")
    # Every TerraformMetaArguments property is a meta-argument (alias), not provider configuration.
    provider_block["attributes"].pop("alias", None)
    return {
        "format_version": "1.0",
        "provider_schemas": {
            PROVIDER_ADDRESS: {
                "provider": {"version": 0, "block": provider_block},
                "resource_schemas": dict(sorted(resources.items())),
                "data_source_schemas": dict(sorted(data_sources.items())),
            }
        },
    }


def resource_block(schema: JsonObj, type_name: str, *, data: bool = False) -> JsonObj:
    """The top-level block of one resource (or data source) in a built schema."""
    provider = schema["provider_schemas"][PROVIDER_ADDRESS]
    table = provider["data_source_schemas" if data else "resource_schemas"]
    block: JsonObj = table[type_name]["block"]
    return block

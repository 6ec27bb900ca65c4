"""Every KQL query (the module's files, the workbook's tiles, docs/operations.md, `aigateway usage`) reads only
telemetry fields that the gateway writes, so renaming a field in the telemetry line breaks this suite, not a
dashboard or an alert.

The contract is the line itself: the keys of ``RequestRecord.to_line()`` (``event``, ``ts``, ``latency_ms``,
``ttfb_ms`` and the record's fields). A query reads a field as ``parse_json(Log_s).<field>``, ``Log.<field>``
(``extend Log = parse_json(Log_s)``) or, after ``extend r = parse_json(Log_s)``, ``r.<field>`` / ``r["field"]``.
"""

from __future__ import annotations

import json
import re

import pytest

from aigateway.proxy.telemetry import RequestRecord
from tests.infra.conftest import MODULE, REPO

pytestmark = pytest.mark.infra

QUERIES = MODULE / "queries"
OPERATIONS = REPO / "docs" / "operations.md"

ALIAS = re.compile(r"\b(\w+)\s*=\s*parse_json\(\s*Log_s\s*\)")
DIRECT = re.compile(r"parse_json\(\s*Log_s\s*\)\s*(?:\.\s*(\w+)|\[\s*[\"'](\w+)[\"']\s*\])")


def telemetry_fields() -> set[str]:
    line = RequestRecord(request_id="0", route="responses", method="POST").to_line()
    return set(json.loads(line))


def fields_read(query: str) -> set[str]:
    """Telemetry field names a query reads from Log_s (parsed JSON), however it names the parsed object."""
    fields = {a or b for a, b in DIRECT.findall(query)}
    for alias in set(ALIAS.findall(query)) | ({"Log"} if "Log_s" in query else set()):
        pattern = rf"(?<![\w.]){re.escape(alias)}\s*(?:\.\s*(\w+)|\[\s*[\"'](\w+)[\"']\s*\])"
        fields |= {a or b for a, b in re.findall(pattern, query)}
    return fields


def file_queries() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(QUERIES.glob("*.kql"))}


def doc_queries() -> dict[str, str]:
    blocks = re.findall(r"```kusto\n(.*?)```", OPERATIONS.read_text(), flags=re.S)
    return {f"docs/operations.md#{i}": b for i, b in enumerate(blocks)}


def workbook_files() -> list[str]:
    """Query files the workbook's tiles load (main.workbook.tf), in order."""
    text = (MODULE / "main.workbook.tf").read_text()
    return re.findall(r'file\s*=\s*"([^"]+\.kql)"', text)


def code_queries() -> dict[str, str]:
    """KQL in the gateway's own code (`aigateway usage`), when that module is present."""
    try:
        from aigateway import usage
    except ImportError:
        return {}
    query = getattr(usage, "USAGE_KQL", None)
    return {"aigateway.usage.USAGE_KQL": query} if isinstance(query, str) else {}


ALL = {**file_queries(), **doc_queries(), **code_queries()}


def test_the_contract_is_what_the_gateway_writes() -> None:
    fields = telemetry_fields()
    assert {"event", "ts", "project", "route", "status", "latency_ms", "ttfb_ms", "error_source"} <= fields


@pytest.mark.parametrize("name", sorted(ALL))
def test_query_reads_only_contract_fields(name: str) -> None:
    query = ALL[name]
    unknown = fields_read(query) - telemetry_fields()
    assert not unknown, f"{name} reads {sorted(unknown)}, which the telemetry line (RequestRecord.to_line) lacks"
    if "parse_json(Log_s)" in query:
        assert fields_read(query), f"{name} parses Log_s but the checker found no field: extend fields_read"


def test_workbook_tiles_are_query_files() -> None:
    tiles = workbook_files()
    assert len(tiles) >= 8
    missing = [t for t in tiles if not (QUERIES / t).is_file()]
    assert not missing, f"main.workbook.tf loads missing query files {missing}"
    # One place for the KQL: the workbook carries no inline query.
    text = (MODULE / "main.workbook.tf").read_text()
    assert re.findall(r"\bquery\s*=\s*(.*)", text) == ['file("${path.module}/queries/${tile.file}")']


def test_every_query_file_is_used() -> None:
    module_text = "".join(p.read_text() for p in MODULE.glob("*.tf"))
    unused = [name for name in file_queries() if f'"{name}"' not in module_text]
    assert not unused, f"query files no alert, saved search or tile uses: {unused}"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('| extend r = parse_json(Log_s)\n| extend x = tostring(r.projekt), y = r["status"]', {"projekt", "status"}),
        ("| extend Log = parse_json(Log_s)\n| where Log.route == 'x'", {"route"}),
        ("| where tostring(parse_json(Log_s).latency) > 1", {"latency"}),
        ('| where Log_s has "gateway_request"', set()),
    ],
)
def test_the_checker_finds_fields(query: str, expected: set[str]) -> None:
    assert fields_read(query) == expected


def test_a_renamed_field_breaks_the_suite() -> None:
    query = file_queries()["request-counts.kql"].replace("r.input_tokens", "r.prompt_tokens")
    assert fields_read(query) - telemetry_fields() == {"prompt_tokens"}


def test_the_checker_sees_what_the_queries_read() -> None:
    # Guards the checker itself: if it stopped finding fields, every query would pass vacuously.
    read = set().union(*(fields_read(q) for q in ALL.values()))
    expected = {"event", "project", "model", "route", "stream", "status", "latency_ms", "ttfb_ms", "attempts"}
    expected |= {"upstream_status", "input_tokens", "output_tokens", "error_class", "error_source"}
    assert expected <= read

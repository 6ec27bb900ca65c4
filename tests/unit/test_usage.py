"""`aigateway usage`: aggregation of a recorded telemetry file, the time range, the KQL sent to a fake
LogsQueryClient, and the table / JSON / CSV output."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from azure.core.exceptions import HttpResponseError

from aigateway import usage
from aigateway.cli import main
from aigateway.proxy.telemetry import RequestRecord
from aigateway.usage import ProjectUsage, TimeWindow, UsageError


def line(project: str | None, status: int, latency: float, tokens: tuple[int | None, int | None], ts: str) -> str:
    return json.dumps(
        {
            "event": "gateway_request",
            "ts": ts,
            "request_id": "r",
            "project": project,
            "route": "/v1/responses",
            "method": "POST",
            "model": "gpt-5.3-codex",
            "stream": False,
            "status": status,
            "latency_ms": latency,
            "ttfb_ms": latency,
            "upstream_status": status,
            "attempts": 1,
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "error_class": None,
            "error_source": None,
            "client_disconnected": False,
            "source": "0123456789abcdef",
        },
        separators=(",", ":"),
    )


# What `aigateway serve` prints: a banner, library log records, and one line per request.
RECORDED = "\n".join(
    [
        "aigateway gateway",
        "  base URL  http://127.0.0.1:4000/v1",
        '{"event":"log","ts":"2026-11-30T07:59:59.000Z","level":"INFO","logger":"uvicorn.error",'
        '"message":"Application startup complete.","exception":null}',
        line("team-a", 200, 100.0, (10, 5), "2026-11-30T08:00:00.000Z"),
        line("team-a", 200, 300.0, (20, 7), "2026-11-30T08:10:00.000Z"),
        line("team-a", 429, 2.0, (None, None), "2026-11-30T08:20:00.000Z"),
        line("team-a", 502, 900.0, (None, None), "2026-11-30T09:00:00.000Z"),
        line("team-b", 200, 50.0, (1000, 0), "2026-11-30T08:30:00.000Z"),
        line("team-b", 400, 1.5, (None, None), "2026-11-30T08:31:00.000Z"),
        line(None, 401, 0.7, (None, None), "2026-11-30T08:32:00.000Z"),
        '{"event":"gateway_request", truncated by a crash',
        "not json at all",
    ]
)


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "telemetry.jsonl"
    path.write_text(RECORDED + "\n")
    return path


ALL = TimeWindow(start=None, end=None)


def test_recorded_file_counts_per_project(recorded: Path) -> None:
    rows = usage.usage_from_file(str(recorded), ALL)
    assert rows == [
        ProjectUsage("team-a", 4, 2, 0, 1, 1, 30, 12, 100.0, 900.0),
        ProjectUsage("team-b", 2, 1, 1, 0, 0, 1000, 0, 1.5, 50.0),
        ProjectUsage("(none)", 1, 1, 1, 0, 0, 0, 0, 0.7, 0.7),
    ]


def test_nearest_rank_percentiles() -> None:
    records = [json.loads(line("p", 200, float(ms), (1, 1), "2026-11-30T08:00:00Z")) for ms in range(1, 101)]
    (row,) = usage.aggregate(records, ALL)
    assert (row.p50_ms, row.p95_ms, row.requests, row.input_tokens) == (50.0, 95.0, 100, 100)


def test_time_range_filters_the_file(recorded: Path) -> None:
    window = usage.time_window(None, "2026-11-30T08:05:00Z", "2026-11-30T09:00:00Z", default_since=None)
    rows = {row.project: row for row in usage.usage_from_file(str(recorded), window)}
    # [from, to): 08:00 is before the start and 09:00 is the (exclusive) end.
    assert rows["team-a"].requests == 2 and rows["team-a"].input_tokens == 20
    assert rows["team-b"].requests == 2
    since = usage.time_window("1h", None, "2026-11-30T08:30:00Z", default_since=None)
    assert {r.project: r.requests for r in usage.usage_from_file(str(recorded), since)} == {"team-a": 3}


def test_a_line_written_by_the_gateway_is_counted() -> None:
    """The reader follows RequestRecord: a renamed field breaks this test, not the report."""
    record = RequestRecord(request_id="x", route="/v1/embeddings", method="POST", project="roo", status=200)
    record.input_tokens, record.output_tokens = 7, 0
    (row,) = usage.aggregate(usage.read_records([record.to_line().decode()]), ALL)
    assert (row.project, row.requests, row.errors, row.input_tokens) == ("roo", 1, 0, 7)
    assert row.p50_ms is not None


def test_kql_reads_only_contract_fields_and_returns_every_column() -> None:
    sample = orjson.loads(RequestRecord(request_id="x", route="/", method="GET").to_line())
    read = set(re.findall(r"\br\.(\w+)", usage.USAGE_KQL))
    assert read and read <= set(sample), read - set(sample)
    summarized = re.findall(r"(\w+) = (?:count|countif|sum|percentile)\(", usage.USAGE_KQL)
    assert ["project", *summarized] == list(usage.COLUMNS)
    assert "by project" in usage.USAGE_KQL


@pytest.mark.parametrize(
    ("since", "start", "end", "message"),
    [
        ("24", None, None, "bad --since '24'"),
        ("0d", None, None, "more than zero"),
        ("1h", "2026-11-30", None, "--since or --from, not both"),
        (None, "2026-11-30T10:00Z", "2026-11-30T09:00Z", "is not before --to"),
        (None, "yesterday", None, "bad --from 'yesterday'"),
        (None, None, "30/11/2026", "bad --to"),
    ],
)
def test_bad_time_ranges(since: str | None, start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        usage.time_window(since, start, end, default_since=timedelta(hours=24))


def test_time_window_defaults() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    window = usage.time_window(None, None, None, default_since=timedelta(hours=24), now=now)
    assert window == TimeWindow(now - timedelta(hours=24), now)
    assert usage.time_window("7d", None, None, default_since=None, now=now).start == now - timedelta(days=7)
    # No offset means UTC; an offset is converted.
    start = usage.time_window(None, "2026-11-30T10:00+02:00", "2026-11-30T09:00", default_since=None).start
    assert start == datetime(2026, 11, 30, 8, tzinfo=UTC)


class FakeTable:
    def __init__(self, columns: list[str], rows: list[list[Any]]) -> None:
        self.columns, self.rows = columns, rows


class FakeResult:
    def __init__(self, tables: list[FakeTable], partial_error: Any = None) -> None:
        self.tables, self.partial_error = tables, partial_error


class FakeLogsClient:
    """Records each call as LogsQueryClient would receive it and answers with a canned table."""

    def __init__(self, result: FakeResult | None = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, str, str, Any]] = []
        self.result, self.error = result, error

    def _answer(self, kind: str, target: str, query: str, timespan: Any) -> FakeResult:
        self.calls.append((kind, target, query, timespan))
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def query_workspace(self, workspace_id: str, query: str, *, timespan: Any, **kwargs: Any) -> FakeResult:
        return self._answer("workspace", workspace_id, query, timespan)

    def query_resource(self, resource_id: str, query: str, *, timespan: Any, **kwargs: Any) -> FakeResult:
        return self._answer("resource", resource_id, query, timespan)


WORKSPACE = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
WINDOW = TimeWindow(datetime(2026, 11, 29, 12, tzinfo=UTC), datetime(2026, 11, 30, 12, tzinfo=UTC))
KUSTO_TABLE = FakeTable(
    list(usage.COLUMNS),
    [
        ["team-b", 3, 0, 0, 0, 0, 1200, 0, 40.3, 61.0],
        ["team-a", 1520, 31, 4, 25, 2, 2_345_678, 345_678, 812.4, 4012.0],
    ],
)


def test_workspace_query_sends_the_kql_and_range() -> None:
    client = FakeLogsClient(FakeResult([KUSTO_TABLE]))
    rows = usage.usage_from_workspace(WORKSPACE, WINDOW, client=client)
    assert client.calls == [("workspace", WORKSPACE, usage.USAGE_KQL, (WINDOW.start, WINDOW.end))]
    assert [r.project for r in rows] == ["team-a", "team-b"]
    assert rows[0] == ProjectUsage("team-a", 1520, 31, 4, 25, 2, 2_345_678, 345_678, 812.4, 4012.0)


def test_workspace_resource_id_uses_query_resource() -> None:
    resource = "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w"
    client = FakeLogsClient(FakeResult([]))
    assert usage.usage_from_workspace(resource, WINDOW, client=client) == []
    assert client.calls[0][:2] == ("resource", resource)


def test_table_rendering() -> None:
    rows = usage.usage_from_workspace(WORKSPACE, WINDOW, client=FakeLogsClient(FakeResult([KUSTO_TABLE])))
    assert usage.render_table(rows, WINDOW, "Log Analytics").splitlines() == [
        "usage per project, 2026-11-29T12:00:00Z .. 2026-11-30T12:00:00Z (from Log Analytics)",
        "project  requests  errors  4xx  429  5xx  input tokens  output tokens  p50 ms   p95 ms",
        "team-a      1,520      31    4   25    2     2,345,678        345,678   812.4  4,012.0",
        "team-b          3       0    0    0    0         1,200              0    40.3     61.0",
    ]
    assert usage.render_table([], WINDOW, "x").splitlines()[1] == "no gateway requests in this range"


@pytest.mark.parametrize(
    ("client", "message"),
    [
        (FakeLogsClient(error=HttpResponseError(message="(BadArgumentError) The request had some invalid\nmore")),
         "Log Analytics query failed: (BadArgumentError) The request had some invalid"),
        (FakeLogsClient(error=HttpResponseError(message="DefaultAzureCredential failed to retrieve a token")),
         "(sign in with az login)"),
        (FakeLogsClient(FakeResult([KUSTO_TABLE], partial_error="query exceeded the row limit")),
         "partial result"),
        (FakeLogsClient(FakeResult([FakeTable(["project", "requests"], [])])), "returned no errors"),
    ],
)  # fmt: skip
def test_failed_queries_are_one_line_errors(client: FakeLogsClient, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        usage.usage_from_workspace(WORKSPACE, WINDOW, client=client)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_workspace_must_look_like_an_id() -> None:
    with pytest.raises(UsageError, match="workspace ID"):
        usage.usage_from_workspace("pvc-dev-aigateway-log-san", WINDOW, client=FakeLogsClient())


def test_cli_json_round_trips(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--file", str(recorded), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    expected = usage.usage_from_file(str(recorded), ALL)
    assert [ProjectUsage(**item) for item in parsed] == expected


def test_cli_csv(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--file", str(recorded), "--csv", "--from", "2026-11-30T08:30:00Z"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["project"], r["requests"], r["input_tokens"]) for r in rows] == [
        ("team-b", "2", "1000"),
        ("(none)", "1", "0"),
        ("team-a", "1", "0"),
    ]


def test_cli_table_from_workspace(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeLogsClient(FakeResult([KUSTO_TABLE]))
    monkeypatch.setattr(usage, "default_logs_client", lambda: client)
    assert main(["usage", "--workspace", WORKSPACE, "--since", "7d"]) == 0
    out = capsys.readouterr().out
    assert "(from Log Analytics)" in out and "team-a      1,520" in out
    start, end = client.calls[0][3]
    assert end - start == timedelta(days=7)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--file", "/nonexistent/t.jsonl"], "aigateway: telemetry file not found: /nonexistent/t.jsonl"),
        (["--file", "x.jsonl", "--since", "soon"], "aigateway: bad --since 'soon'"),
        (["--workspace", WORKSPACE, "--from", "2026-12-01", "--to", "2026-11-01"], "is not before --to"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1

"""`aigateway usage`: requests, errors, 429s, tokens and latency per project for a time range.

Two sources, one result shape (`ProjectUsage`):

- a local JSON-lines file (the stdout of `aigateway serve`): lines that are not telemetry lines (the start
  banner, library log records) are skipped, and the aggregation happens here;
- a Log Analytics workspace: the KQL below aggregates server-side and only one row per project comes back,
  read with `azure-monitor-query`'s `LogsQueryClient` and the caller's Azure login (`DefaultAzureCredential`).

Status classes: `errors` counts every status >= 400; it splits into `client_errors` (4xx other than 429),
`throttled` (429, whoever refused: the gateway's limits or Azure's) and `server_errors` (5xx). Requests refused
before a key was checked have no project and are counted under `(none)`. Latency percentiles are nearest-rank
in the local file and Kusto's `percentile()` in the workspace (an estimate that matches nearest-rank on small
sets), rounded to 0.01 ms.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from aigateway.errors import GatewayError

NO_PROJECT = "(none)"
TELEMETRY_EVENT = "gateway_request"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class UsageError(GatewayError):
    """A bad time range, a missing file or a failed query: one line for the user."""


@dataclass(frozen=True, slots=True)
class ProjectUsage:
    project: str
    requests: int
    errors: int
    client_errors: int
    throttled: int
    server_errors: int
    input_tokens: int
    output_tokens: int
    p50_ms: float | None
    p95_ms: float | None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ProjectUsage))


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Half-open [start, end) in UTC; `None` start means "from the beginning" (local files only)."""

    start: datetime | None
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def describe(self) -> str:
        start = _iso(self.start) if self.start else "start of file"
        end = _iso(self.end) if self.end else "end of file"
        return f"{start} .. {end}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `24h`, `7d`, `2w`."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"bad --since {text!r}: use a number and a unit (s, m, h, d, w), e.g. 24h or 7d")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"bad --since {text!r}: the duration must be more than zero")
    return timedelta(seconds=seconds)


def parse_instant(text: str, option: str) -> datetime:
    """ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"bad {option} {text!r}: use ISO 8601, e.g. 2026-11-30 or 2026-11-30T08:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def time_window(
    since: str | None,
    start: str | None,
    end: str | None,
    *,
    default_since: timedelta | None,
    now: datetime | None = None,
) -> TimeWindow:
    """The range from `--since` or `--from`/`--to`; `--to` defaults to now when anything else is given."""
    if since is not None and start is not None:
        raise UsageError("give --since or --from, not both")
    end_at = parse_instant(end, "--to") if end is not None else None
    if start is not None:
        start_at = parse_instant(start, "--from")
        end_at = end_at or (now or datetime.now(UTC))
    elif since is not None or default_since is not None:
        end_at = end_at or (now or datetime.now(UTC))
        start_at = end_at - (parse_duration(since) if since is not None else (default_since or timedelta()))
    else:
        return TimeWindow(start=None, end=end_at)
    if start_at >= end_at:
        raise UsageError(f"bad time range: --from {_iso(start_at)} is not before --to {_iso(end_at)}")
    return TimeWindow(start=start_at, end=end_at)


# --- local file -----------------------------------------------------------------------------------------


def read_records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The telemetry records among a process's output lines; everything else is skipped."""
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == TELEMETRY_EVENT:
            yield record


def _record_time(record: dict[str, Any]) -> datetime | None:
    try:
        return parse_instant(str(record["ts"]), "ts")
    except (KeyError, UsageError):
        return None


def _nearest_rank(ordered: Sequence[float], percent: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


def _as_int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def aggregate(records: Iterable[dict[str, Any]], window: TimeWindow) -> list[ProjectUsage]:
    """Per-project usage of the records inside `window` (records without a readable `ts` only when unbounded)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    unbounded = window.start is None and window.end is None
    for record in records:
        moment = _record_time(record)
        if moment is None and not unbounded:
            continue
        if moment is not None and not window.contains(moment):
            continue
        groups.setdefault(record.get("project") or NO_PROJECT, []).append(record)
    result = []
    for project, items in groups.items():
        statuses = [_as_int(r.get("status")) for r in items]
        latencies = sorted(float(r["latency_ms"]) for r in items if isinstance(r.get("latency_ms"), int | float))
        result.append(
            ProjectUsage(
                project=str(project),
                requests=len(items),
                errors=sum(1 for s in statuses if s >= 400),
                client_errors=sum(1 for s in statuses if 400 <= s < 500 and s != 429),
                throttled=sum(1 for s in statuses if s == 429),
                server_errors=sum(1 for s in statuses if s >= 500),
                input_tokens=sum(_as_int(r.get("input_tokens")) for r in items),
                output_tokens=sum(_as_int(r.get("output_tokens")) for r in items),
                p50_ms=_nearest_rank(latencies, 50),
                p95_ms=_nearest_rank(latencies, 95),
            )
        )
    return _ordered(result)


def _ordered(rows: Iterable[ProjectUsage]) -> list[ProjectUsage]:
    return sorted(rows, key=lambda row: (-row.requests, row.project))


def usage_from_file(path: str, window: TimeWindow) -> list[ProjectUsage]:
    """`path` is a JSON-lines file, or `-` for standard input."""
    if path == "-":
        return aggregate(read_records(sys.stdin), window)
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"telemetry file not found: {path}")
    try:
        with file.open(encoding="utf-8", errors="replace") as lines:
            return aggregate(read_records(lines), window)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


# --- Log Analytics --------------------------------------------------------------------------------------

# The same parsing as infra/modules/aigateway_aca/queries/*.kql; the time range is the query's timespan.
USAGE_KQL = """\
ContainerAppConsoleLogs_CL
| where Log_s has "gateway_request"
| extend r = parse_json(Log_s)
| where tostring(r.event) == "gateway_request"
| extend project = iff(isempty(tostring(r.project)), "(none)", tostring(r.project)),
         status = toint(r.status), latency_ms = todouble(r.latency_ms)
| summarize requests = count(), errors = countif(status >= 400),
            client_errors = countif(status >= 400 and status < 500 and status != 429),
            throttled = countif(status == 429), server_errors = countif(status >= 500),
            input_tokens = sum(tolong(r.input_tokens)), output_tokens = sum(tolong(r.output_tokens)),
            p50_ms = percentile(latency_ms, 50), p95_ms = percentile(latency_ms, 95)
    by project
| order by requests desc, project asc"""


class LogsClient(Protocol):
    """The part of `azure.monitor.query.LogsQueryClient` this module uses (tests inject a fake)."""

    def query_workspace(self, workspace_id: str, query: str, *, timespan: Any, **kwargs: Any) -> Any: ...

    def query_resource(self, resource_id: str, query: str, *, timespan: Any, **kwargs: Any) -> Any: ...


def default_logs_client() -> LogsClient:
    from azure.identity import DefaultAzureCredential

    # The SDK logs each failed credential on stderr as a multi-line warning; the CLI says it in one line.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    from azure.monitor.query import LogsQueryClient

    client: LogsClient = LogsQueryClient(DefaultAzureCredential())
    return client


def _one_line(exc: BaseException) -> str:
    message = str(getattr(exc, "message", None) or exc).strip()
    first = message.splitlines()[0] if message else type(exc).__name__
    return first[:300]


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 2)


def rows_from_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[ProjectUsage]:
    missing = [name for name in COLUMNS if name not in columns]
    if missing:
        raise UsageError(f"the usage query returned no {', '.join(missing)} column")
    index = {name: columns.index(name) for name in COLUMNS}
    result = []
    for row in rows:
        result.append(
            ProjectUsage(
                project=str(row[index["project"]]),
                requests=_as_int(row[index["requests"]]),
                errors=_as_int(row[index["errors"]]),
                client_errors=_as_int(row[index["client_errors"]]),
                throttled=_as_int(row[index["throttled"]]),
                server_errors=_as_int(row[index["server_errors"]]),
                input_tokens=_as_int(row[index["input_tokens"]]),
                output_tokens=_as_int(row[index["output_tokens"]]),
                p50_ms=_number(row[index["p50_ms"]]),
                p95_ms=_number(row[index["p95_ms"]]),
            )
        )
    return _ordered(result)


def usage_from_workspace(workspace: str, window: TimeWindow, client: LogsClient | None = None) -> list[ProjectUsage]:
    """`workspace` is the workspace ID (a GUID) or its Azure resource ID (the module's
    `log_analytics_workspace_id` output)."""
    if window.start is None or window.end is None:
        raise UsageError("a workspace query needs a bounded time range")
    workspace = workspace.strip()
    by_resource = workspace.startswith("/subscriptions/")
    if not by_resource and not _GUID.match(workspace):
        raise UsageError(
            f"bad --workspace {workspace!r}: give the workspace ID (a GUID) or its resource ID (/subscriptions/...)"
        )
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    try:
        logs = client or default_logs_client()
        timespan = (window.start, window.end)
        if by_resource:
            response = logs.query_resource(workspace, USAGE_KQL, timespan=timespan)
        else:
            response = logs.query_workspace(workspace, USAGE_KQL, timespan=timespan)
    except AzureError as exc:
        # LogsQueryClient re-raises a failed login as HttpResponseError; the message still says "credential".
        login = isinstance(exc, ClientAuthenticationError) or "credential" in _one_line(exc).lower()
        hint = " (sign in with az login)" if login else ""
        raise UsageError(f"Log Analytics query failed{hint}: {_one_line(exc)}") from None
    partial_error = getattr(response, "partial_error", None)
    if partial_error is not None:
        # Partial data would print numbers that look right and are not.
        raise UsageError(f"Log Analytics query failed (partial result): {_one_line(partial_error)}")
    tables = list(getattr(response, "tables", None) or [])
    if not tables:
        return []
    table = tables[0]
    return rows_from_table(list(table.columns), (list(row) for row in table.rows))


# --- output ---------------------------------------------------------------------------------------------

_HEADERS = {
    "project": "project",
    "requests": "requests",
    "errors": "errors",
    "client_errors": "4xx",
    "throttled": "429",
    "server_errors": "5xx",
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_table(rows: Sequence[ProjectUsage], window: TimeWindow, source: str) -> str:
    """Aligned columns for a terminal: the project left, numbers right; `4xx` excludes 429."""
    lines = [f"usage per project, {window.describe()} (from {source})"]
    if not rows:
        lines.append("no gateway requests in this range")
        return "\n".join(lines)
    cells = [[_HEADERS[name] for name in COLUMNS]]
    cells += [[_cell(getattr(row, name)) for name in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    for line in cells:
        first = line[0].ljust(widths[0])
        rest = [value.rjust(width) for value, width in zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
    return "\n".join(lines)


def render_json(rows: Sequence[ProjectUsage]) -> str:
    return json.dumps([asdict(row) for row in rows], indent=2)


def render_csv(rows: Sequence[ProjectUsage]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})
    return out.getvalue().rstrip("\n")

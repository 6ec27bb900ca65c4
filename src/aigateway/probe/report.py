"""The probe's results: one row per case, Azure's error code pulled from any error shape, the matrix.

Only codes, statuses and ids ever reach a row: never a prompt, an answer or an error's message (Azure's
messages can quote the request), so the matrix is safe in a public job summary.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    """What identifies a failure without its message: Azure's `code` (else its `type`) and `param`."""

    code: str | None = None
    param: str | None = None
    upstream_request_id: str | None = None


@dataclass
class CaseResult:
    name: str
    client: str
    ok: bool
    seconds: float
    status: int | None = None
    code: str | None = None
    param: str | None = None
    request_id: str | None = None  # the gateway's x-request-id of the last request the case sent
    upstream_request_id: str | None = None  # Azure's apim-request-id, when the gateway's error body carries it
    detail: str = ""  # the probe's own words, never the model's


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_code(payload: Any) -> ErrorCode | None:
    """Azure's code and param from any error shape the gateway relays, or None when there is no error.

    Shapes: an HTTP error body `{"error": {...}}` (chat chunks too); a flat in-band event `{"type":
    "error", "code", "param"}`; Azure's nested in-band event `{"type": "error", "error": {...}}`; and
    `{"type": "response.failed", "response": {"error": {...}}}`.
    """
    if not isinstance(payload, dict):
        return None
    error: Any = None
    if payload.get("type") == "response.failed":
        response = payload.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        error = error if isinstance(error, dict) else {}
    elif isinstance(payload.get("error"), dict):
        error = payload["error"]
    elif payload.get("type") == "error":
        error = payload
    if error is None:
        return None
    code = _text(error.get("code")) or (_text(error.get("type")) if error is not payload else None)
    return ErrorCode(
        code=code or "unknown",
        param=_text(error.get("param")),
        upstream_request_id=_text(error.get("upstream_request_id")),
    )


def error_code_from_body(raw: bytes) -> ErrorCode:
    """The code of a non-2xx answer; a body that is not JSON (a proxy's HTML page) has none."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return ErrorCode(code="non_json_body")
    return error_code(parsed) or ErrorCode(code="no_error_object")


def _code_cell(r: CaseResult) -> str:
    if r.ok or r.code is None:
        return ""
    return f"{r.code} ({r.param})" if r.param else r.code


COLUMNS = ("case", "client", "result", "status", "code (param)", "time", "x-request-id", "upstream id", "detail")


def render_matrix(results: list[CaseResult]) -> str:
    """A fixed-width table, one row per case, and a count line."""
    rows = [
        (
            r.name,
            r.client,
            "PASS" if r.ok else "FAIL",
            str(r.status) if r.status is not None else "-",
            _code_cell(r),
            f"{r.seconds:.1f}s",
            r.request_id or "",
            r.upstream_request_id or "",
            r.detail,
        )
        for r in results
    ]
    widths = [max(len(cell) for cell in column) for column in zip(COLUMNS, *rows, strict=False)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(COLUMNS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    failed = [r.name for r in results if not r.ok]
    lines.append("")
    verdict = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    lines.append(verdict + (f": {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)


def render_json(results: list[CaseResult]) -> str:
    return json.dumps([asdict(r) for r in results], indent=1)

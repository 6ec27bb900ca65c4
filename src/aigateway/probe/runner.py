"""Run the cases in order against one gateway, within one time budget; every case becomes a row."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from aigateway.probe.cases import CASES, Case, ProbeSettings
from aigateway.probe.report import CaseResult
from aigateway.probe.wire import CaseFailure, ProbeClient


@dataclass(frozen=True)
class ProbeOptions:
    base_url: str
    key: str
    model: str = "gpt-5.3-codex"
    embeddings_model: str = "text-embedding-3-small"
    embeddings_dimensions: int = 1536
    keepalive_seconds: float = 15.0  # the deployed gateway's GATEWAY_KEEPALIVE_SECONDS
    budget_seconds: float = 120.0  # the whole probe
    request_timeout: float = 90.0  # one request, stream included
    cases: tuple[str, ...] = ()  # names to run; empty = all


def selected(names: Sequence[str]) -> list[Case]:
    return [c for c in CASES if not names or c.name in names]


def run_probe(options: ProbeOptions) -> list[CaseResult]:
    settings = ProbeSettings(
        model=options.model,
        embeddings_model=options.embeddings_model,
        embeddings_dimensions=options.embeddings_dimensions,
        keepalive_seconds=options.keepalive_seconds,
    )
    client = ProbeClient(
        options.base_url, options.key, time.monotonic() + options.budget_seconds, options.request_timeout
    )
    results = []
    try:
        for case in selected(options.cases):
            client.request_id = None
            start = time.perf_counter()
            result = CaseResult(case.name, case.client, ok=True, seconds=0.0)
            try:
                result.detail = case.run(client, settings)
                result.status = 200
            except CaseFailure as failure:
                result.ok = False
                result.detail = failure.detail
                result.status = failure.status
                result.code = failure.error.code
                result.param = failure.error.param
                result.upstream_request_id = failure.error.upstream_request_id
            except Exception as exc:  # a bug or an answer shaped beyond belief: a row, never a traceback
                result.ok = False
                result.detail = f"probe error: {type(exc).__name__}"
            result.seconds = time.perf_counter() - start
            result.request_id = client.request_id
            results.append(result)
    finally:
        client.close()
    return results

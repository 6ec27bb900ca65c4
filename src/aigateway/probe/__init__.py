"""`aigateway probe`: each supported client's exact request shape, sent through a deployed gateway.

The smoke suite proves the gateway works with an SDK; the probe proves each client's own body passes
Azure (issue 13): Codex's stateless tool loop, Roo's native and chat requests, Qoder's request, an
indexing batch of embeddings and a stream long enough to need keepalives. Prints a pass/fail matrix of
codes, statuses and ids only (docs/probe.md).
"""

from __future__ import annotations

from aigateway.probe.cases import CASE_NAMES
from aigateway.probe.report import CaseResult, error_code, render_json, render_matrix
from aigateway.probe.runner import ProbeOptions, run_probe

__all__ = ["CASE_NAMES", "CaseResult", "ProbeOptions", "error_code", "render_json", "render_matrix", "run_probe"]

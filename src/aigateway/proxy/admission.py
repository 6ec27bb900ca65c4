"""Admit: whether the replica and the project's limits have room for this request now.

Uploads in progress are capped per project first (`client_guard.UploadSlots`), which bounds the memory
partial bodies hold. Then two gates, in order: the replica-wide slot (`GATEWAY_MAX_CONCURRENCY`), taken
only for a request that is authenticated and complete, so one project's stalled uploads hold nothing
another project needs; then the project's own limits (concurrency and per-minute windows, `limits`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aigateway.proxy.client_guard import UploadSlots
from aigateway.proxy.limits import Limiter
from aigateway.proxy.rejection import Rejection
from aigateway.settings import Project


class Admission:
    def __init__(self, max_concurrency: int, limiter: Limiter) -> None:
        self.max_concurrency = max_concurrency
        self.limiter = limiter
        self.uploads = UploadSlots()
        self.inflight = 0

    def start_upload(self, project: Project) -> Rejection | None:
        """Room for one more body of this project being uploaded; `end_upload` when it is read."""
        if self.uploads.acquire(project.name, project.max_parallel):
            return None
        return Rejection.throttled(
            f"Project '{project.name}' already has {project.max_parallel} request bodies being uploaded; "
            "retry shortly.",
            "project_concurrency_limit",
            1,
        )

    def end_upload(self, project: Project) -> None:
        self.uploads.release(project.name)

    @contextlib.asynccontextmanager
    async def admit(
        self, project: Project, route: str, model: str | None, request_id: str
    ) -> AsyncIterator[Rejection | None]:
        """Yields None while the request holds its slots (released on exit), or the Rejection to answer."""
        if self.inflight >= self.max_concurrency:
            yield Rejection.throttled(
                "The gateway replica is at its concurrency limit; retry shortly.", "gateway_concurrency_limit", 1
            )
            return
        self.inflight += 1
        try:
            refusal = await self.limiter.admit(project, route, model, request_id)
            if refusal is not None:
                yield Rejection.throttled(refusal.message, refusal.code, refusal.retry_after)
                return
            try:
                yield None
            finally:
                self.limiter.release(project)
        finally:
            self.inflight -= 1

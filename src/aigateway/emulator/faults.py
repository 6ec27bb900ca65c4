"""Fault injection: turn the configured faults (persistent) and the script (one-shot) into a per-request plan."""

from __future__ import annotations

import random
from dataclasses import dataclass

from aigateway.emulator.config import Faults, RouteKind, ScriptedResponse


@dataclass
class FaultPlan:
    status: int = 200  # != 200: answer with this error instead of the real reply
    retry_after: int | None = None
    retry_after_ms: int | None = None
    omit_retry_after: bool = False
    body: dict[str, object] | None = None
    latency_ms: float = 0.0
    hang_ms: float = 0.0
    reset_before_first_byte: bool = False
    disconnect_after_events: int | None = None
    stream_failure: str | None = None
    stream_failure_after_events: int = 3
    stream_event_delay_ms: float = 0.0


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self.replace(faults)

    def replace(self, faults: Faults) -> None:
        self.faults = faults.model_copy(deep=True)  # the script is consumed; keep the caller's copy intact
        self._rng = random.Random(faults.seed)  # noqa: S311 - deterministic fault dice, not security

    def plan(self, route: RouteKind) -> FaultPlan:
        f = self.faults
        plan = FaultPlan()
        if f.applies_to(route):
            plan.latency_ms = f.latency_ms
            plan.hang_ms = f.hang_ms
            plan.reset_before_first_byte = f.reset_before_first_byte
            plan.disconnect_after_events = f.disconnect_after_events
            plan.stream_failure = f.stream_failure
            plan.stream_failure_after_events = f.stream_failure_after_events
            plan.stream_event_delay_ms = f.stream_event_delay_ms
            if f.error_rate > 0 and self._rng.random() < f.error_rate:
                plan.status = f.error_status
        scripted = self._take(route)
        if scripted is not None:
            self._apply(plan, scripted)
        return plan

    def _take(self, route: RouteKind) -> ScriptedResponse | None:
        for i, item in enumerate(self.faults.script):
            if item.route is None or item.route == route:
                return self.faults.script.pop(i)
        return None

    @staticmethod
    def _apply(plan: FaultPlan, s: ScriptedResponse) -> None:
        # A scripted entry decides this request's outcome, overriding the random error dice.
        plan.status = s.status
        plan.retry_after = s.retry_after
        plan.retry_after_ms = s.retry_after_ms
        plan.omit_retry_after = s.omit_retry_after
        plan.body = s.body
        plan.latency_ms = max(plan.latency_ms, s.latency_ms)
        plan.hang_ms = max(plan.hang_ms, s.hang_ms)
        plan.reset_before_first_byte = plan.reset_before_first_byte or s.reset_before_first_byte
        if s.disconnect_after_events is not None:
            plan.disconnect_after_events = s.disconnect_after_events
        if s.stream_failure is not None:
            plan.stream_failure = s.stream_failure
            plan.stream_failure_after_events = s.stream_failure_after_events

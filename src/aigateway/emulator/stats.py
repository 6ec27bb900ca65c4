"""Request counters for load tests: counts by route and status, window peaks, concurrency peak."""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any


class _Window:
    """Largest number of events seen inside any `span`-second window (exact: checked at every arrival)."""

    def __init__(self, span: float) -> None:
        self.span = span
        self.times: deque[float] = deque()
        self.peak = 0

    def add(self, now: float) -> None:
        times = self.times
        times.append(now)
        cutoff = now - self.span
        while times and times[0] <= cutoff:
            times.popleft()
        self.peak = max(self.peak, len(times))


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.time()
        self.by_route: Counter[str] = Counter()
        self.by_route_status: dict[str, Counter[str]] = {}
        self.window_60s = _Window(60.0)
        self.route_60s: dict[str, _Window] = {}
        self.route_1s: dict[str, _Window] = {}
        self.in_flight = 0
        self.max_in_flight = 0

    def begin(self, route: str) -> None:
        now = time.monotonic()
        self.by_route[route] += 1
        self.window_60s.add(now)
        self.route_60s.setdefault(route, _Window(60.0)).add(now)
        self.route_1s.setdefault(route, _Window(1.0)).add(now)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self, route: str, status: int | None) -> None:
        self.in_flight -= 1
        self.by_route_status.setdefault(route, Counter())[str(status) if status else "dropped"] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "since": self.started,
            "total": sum(self.by_route.values()),
            "by_route": dict(self.by_route),
            "by_route_status": {r: dict(c) for r, c in self.by_route_status.items()},
            "max_requests_in_any_60s_window": self.window_60s.peak,
            "max_requests_in_any_60s_window_by_route": {r: w.peak for r, w in self.route_60s.items()},
            "max_requests_per_second_by_route": {r: w.peak for r, w in self.route_1s.items()},
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

"""Per-deployment rate limits the way Azure enforces them.

RPM is checked over 10-second windows (a 600 RPM deployment takes 100 requests per 10 s), TPM over a
60-second window charged with the request's *estimated* cost at arrival (prompt estimate + max tokens).
Sliding windows keep the limit exact for load tests that assert the upstream never saw more than allowed.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from aigateway.emulator.config import Deployment

RPM_WINDOW_S = 10.0
TPM_WINDOW_S = 60.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    kind: str = ""  # "call" (RPM) or "token" (TPM) when refused
    retry_after: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


class _DeploymentWindow:
    def __init__(self) -> None:
        self.calls: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()
        self.token_sum = 0

    def expire(self, now: float) -> None:
        while self.calls and self.calls[0] <= now - RPM_WINDOW_S:
            self.calls.popleft()
        while self.tokens and self.tokens[0][0] <= now - TPM_WINDOW_S:
            self.token_sum -= self.tokens.popleft()[1]


class RateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, _DeploymentWindow] = {}

    def reset(self) -> None:
        self._windows.clear()

    def check(self, name: str, dep: Deployment, cost: int, now: float | None = None) -> Verdict:
        if dep.rpm is None and dep.tpm is None:
            return Verdict(True)
        now = time.monotonic() if now is None else now
        win = self._windows.setdefault(name, _DeploymentWindow())
        win.expire(now)
        call_cap = math.ceil(dep.rpm / 6) if dep.rpm is not None else None
        if call_cap is not None and len(win.calls) >= call_cap:
            wait = win.calls[0] + RPM_WINDOW_S - now
            return Verdict(False, "call", wait, self._headers(dep, win, refused=True))
        # Azure refuses once the minute's counter has reached the limit (not when this request would pass it).
        if dep.tpm is not None and win.token_sum >= dep.tpm:
            wait = self._token_wait(win, dep.tpm, now)
            return Verdict(False, "token", wait, self._headers(dep, win, refused=True))
        win.calls.append(now)
        if cost > 0:
            win.tokens.append((now, cost))
            win.token_sum += cost
        return Verdict(True, headers=self._headers(dep, win, refused=False))

    @staticmethod
    def _token_wait(win: _DeploymentWindow, tpm: int, now: float) -> float:
        remaining = win.token_sum
        for ts, tokens in win.tokens:
            remaining -= tokens
            if remaining < tpm:
                return ts + TPM_WINDOW_S - now
        return TPM_WINDOW_S

    @staticmethod
    def _headers(dep: Deployment, win: _DeploymentWindow, *, refused: bool) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        if dep.rpm is not None:
            cap = math.ceil(dep.rpm / 6)
            out.append(("x-ratelimit-limit-requests", str(dep.rpm)))
            out.append(("x-ratelimit-remaining-requests", str(max(0, cap - len(win.calls)))))
        if dep.tpm is not None:
            out.append(("x-ratelimit-limit-tokens", str(dep.tpm)))
            out.append(("x-ratelimit-remaining-tokens", str(max(0, dep.tpm - win.token_sum))))
        return tuple(out)

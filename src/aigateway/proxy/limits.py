"""Per-project limits, enforced by the front before a request reaches Azure or LiteLLM.

- requests per minute per project, and per project and embeddings model, over a sliding 60 s window:
  the busiest 60 s anywhere holds at most the limit (a fixed window lets twice the limit through across
  a boundary, which is exactly the burst an indexing storm makes);
- concurrent requests per project, per replica (a slot is freed when the response ends).

Windows live in this process, or in Redis when GATEWAY_REDIS_URL is set so that replicas share them.
If Redis fails, the replica falls back to its own windows rather than refusing work; Azure's quota
still stands behind it.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aigateway.settings import Project

WINDOW_SECONDS = 60.0
_REDIS_TIMEOUT_SECONDS = 0.5
_REDIS_PREFIX = "aigateway:rpm:"

log = logging.getLogger("aigateway.limits")


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Refusal:
    retry_after: int  # whole seconds, as SDKs read Retry-After
    message: str
    code: str


class WindowStore(Protocol):
    async def hit(self, windows: Sequence[Window], member: str) -> tuple[float, int]:
        """Count one request in every window if all have room: (0.0, -1). Otherwise count nothing and say
        how many seconds until they all have room, and which window is the last to free up."""


class LocalWindows:
    """Sliding windows as per-key deques of request times; one event loop, so no lock is needed."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, windows: Sequence[Window], member: str) -> tuple[float, int]:
        return self.hit_now(windows, time.monotonic())

    def hit_now(self, windows: Sequence[Window], now: float) -> tuple[float, int]:
        wait, binding = 0.0, -1
        for index, window in enumerate(windows):
            hits = self._hits.get(window.key)
            if not hits:
                continue
            while hits and hits[0] <= now - WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= window.limit:
                # The slot frees when the hit that pushed the window to its limit leaves it.
                frees_in = hits[len(hits) - window.limit] + WINDOW_SECONDS - now
                if frees_in > wait:
                    wait, binding = frees_in, index
        if binding >= 0:
            return wait, binding
        for window in windows:
            self._hits.setdefault(window.key, deque()).append(now)
        return 0.0, -1


# The same algorithm in one atomic script, on Redis's clock so replicas need not agree on the time.
_REDIS_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local wait, binding = 0, -1
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[i + 2])
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local edge = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local frees_in = tonumber(edge[2]) + window - now
    if frees_in > wait then wait, binding = frees_in, i - 1 end
  end
end
if binding >= 0 then return {wait, binding} end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, window)
end
return {0, -1}
"""


class RedisWindows:
    """Sliding windows in Redis sorted sets, shared by every replica; local windows when Redis fails."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError, TimeoutError)
        client = redis.Redis.from_url(
            url, socket_timeout=_REDIS_TIMEOUT_SECONDS, socket_connect_timeout=_REDIS_TIMEOUT_SECONDS
        )
        self._script = client.register_script(_REDIS_SCRIPT)
        self._fallback = LocalWindows()
        self._warned_at = -math.inf

    async def hit(self, windows: Sequence[Window], member: str) -> tuple[float, int]:
        keys = [_REDIS_PREFIX + w.key for w in windows]
        args: list[str | int] = [int(WINDOW_SECONDS * 1000), member, *(w.limit for w in windows)]
        try:
            wait_ms, binding = await self._script(keys=keys, args=args)
        except self._errors as exc:
            now = time.monotonic()
            if now - self._warned_at > WINDOW_SECONDS:
                self._warned_at = now
                log.warning("redis unavailable for rate limits (%s); this replica counts alone", type(exc).__name__)
            return self._fallback.hit_now(windows, now)
        return float(wait_ms) / 1000, int(binding)


class Limiter:
    def __init__(self, store: WindowStore, embeddings_models: frozenset[str]) -> None:
        self._store = store
        self._embeddings_models = embeddings_models
        self._inflight: dict[str, int] = {}

    async def admit(self, project: Project, route: str, model: str | None, request_id: str) -> Refusal | None:
        """Take a concurrency slot and count the request, or say why not. Admitted requests must `release`."""
        busy = self._inflight.get(project.name, 0)
        if busy >= project.max_parallel:
            return Refusal(
                1,
                f"Project '{project.name}' already has {project.max_parallel} requests in flight; retry shortly.",
                "project_concurrency_limit",
            )
        self._inflight[project.name] = busy + 1  # reserved now: other requests run while the store answers
        windows = [Window(project.name, project.rpm)]
        embeddings = route == "/v1/embeddings" and model in self._embeddings_models
        if embeddings:
            windows.append(Window(f"{project.name}:{model}", project.embeddings_rpm))
        wait, binding = await self._store.hit(windows, request_id)
        if binding < 0:
            return None
        self.release(project)
        retry_after = max(1, math.ceil(wait))
        if binding == 1:
            return Refusal(
                retry_after,
                f"Project '{project.name}' is over its limit of {project.embeddings_rpm} embeddings requests per "
                f"minute for '{model}'; retry after {retry_after} s.",
                "embeddings_rpm_limit",
            )
        return Refusal(
            retry_after,
            f"Project '{project.name}' is over its limit of {project.rpm} requests per minute; "
            f"retry after {retry_after} s.",
            "project_rpm_limit",
        )

    def release(self, project: Project) -> None:
        self._inflight[project.name] -= 1


def build_limiter(redis_url: str, embeddings_models: frozenset[str]) -> Limiter:
    store: WindowStore = RedisWindows(redis_url) if redis_url else LocalWindows()
    return Limiter(store, embeddings_models)

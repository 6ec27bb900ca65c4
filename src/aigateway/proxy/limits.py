"""Per-project limits, enforced by the front before a request reaches Azure or LiteLLM.

- requests per minute per project, and per project and embeddings model, over a sliding 60 s window:
  the busiest 60 s anywhere holds at most the limit (a fixed window lets twice the limit through across
  a boundary, which is exactly the burst an indexing storm makes);
- concurrent requests per project, per replica (a slot is freed when the response ends).

Windows live in this process, or in Redis when GATEWAY_REDIS_URL is set so that replicas share them
(with GATEWAY_REDIS_AUTH=entra the connection authenticates with the managed identity: proxy/redis_auth.py).
If Redis fails, or no Entra token can be had, the replica falls back to its own windows rather than
refusing work; Azure's quota still stands behind it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from aigateway.settings import Project

if TYPE_CHECKING:
    from aigateway.proxy.redis_auth import CredentialUnavailable, ProviderFactory

WINDOW_SECONDS = 60.0
_REDIS_TIMEOUT_SECONDS = 0.5
_REDIS_PREFIX = "aigateway:rpm:"


def redis_key(window_key: str) -> str:
    """`aigateway:rpm:{<project>}[:<model>]`: the project is a hash tag, so the keys one request's script
    touches share a slot and work on a clustered Redis (Azure Managed Redis shards by slot)."""
    project, sep, rest = window_key.partition(":")
    return f"{_REDIS_PREFIX}{{{project}}}{sep}{rest}"


_CREDENTIAL_RETRY_SECONDS = 10.0  # after an Entra token could not be had: count alone, then ask again

log = logging.getLogger("aigateway.limits")


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Refusal:
    retry_after: int  # the true wait in whole seconds (the Retry-After header caps it at 59)
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
    """Sliding windows in Redis sorted sets, shared by every replica; local windows when Redis fails.

    `credentials` (GATEWAY_REDIS_AUTH=entra) makes redis-py's credential providers; the URL's scheme is the
    caller's business (settings require rediss:// for Entra; tests use a plain local redis-server)."""

    def __init__(
        self,
        url: str,
        credentials: ProviderFactory | None = None,
        credential_retry_seconds: float = _CREDENTIAL_RETRY_SECONDS,
    ) -> None:
        import redis.asyncio as redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError, TimeoutError)
        options: dict[str, object] = {
            "socket_timeout": _REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": _REDIS_TIMEOUT_SECONDS,
        }
        self._credential_errors: tuple[type[BaseException], ...] = ()
        provider = None
        if credentials is not None:
            from aigateway.proxy.redis_auth import CredentialUnavailable

            self._credential_errors = (CredentialUnavailable,)
            provider = options["credential_provider"] = credentials(self._renewal_failed)
        # The pool is built apart and handed in with the provider: only then does redis-py register the
        # provider's re-authentication of pooled connections (Redis.from_url would skip it).
        self._pool = redis.ConnectionPool.from_url(url, **options)
        client = redis.Redis(connection_pool=self._pool, credential_provider=provider)
        self._script = client.register_script(_REDIS_SCRIPT)
        self._fallback = LocalWindows()
        self._warned_at = -math.inf
        self._credential_retry_seconds = credential_retry_seconds
        self._retry_at = -math.inf

    async def hit(self, windows: Sequence[Window], member: str) -> tuple[float, int]:
        now = time.monotonic()
        if now < self._retry_at:  # no token lately: do not make every request wait for the identity endpoint
            return self._fallback.hit_now(windows, now)
        keys = [redis_key(w.key) for w in windows]
        args: list[str | int] = [int(WINDOW_SECONDS * 1000), member, *(w.limit for w in windows)]
        try:
            wait_ms, binding = await self._script(keys=keys, args=args)
        except self._errors as exc:
            now = time.monotonic()
            cause = type(exc).__name__
            if isinstance(exc, self._credential_errors):
                self._retry_at = now + self._credential_retry_seconds
                cause = f"no Entra token: {exc}"  # the cause's type name, never a token or its error text
            self._warn(now, f"redis unavailable for rate limits ({cause}); this replica counts alone")
            return self._fallback.hit_now(windows, now)
        return float(wait_ms) / 1000, int(binding)

    async def aclose(self) -> None:
        await self._pool.aclose()

    def _warn(self, now: float, message: str) -> None:
        """One warning a minute at most, whatever keeps failing."""
        if now - self._warned_at > WINDOW_SECONDS:
            self._warned_at = now
            log.warning("%s", message)

    async def _renewal_failed(self, exc: CredentialUnavailable) -> None:
        """The provider could not renew the token: drop the connections, so that the next request opens a
        new one with a fresh token (or counts alone until one can be had)."""
        self._warn(time.monotonic(), f"redis re-authentication failed ({exc}); reconnecting with a new Entra token")
        with contextlib.suppress(*self._errors):
            await self._pool.disconnect()


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
        # The true wait, in the message too: the Retry-After header stops at 59 s (openai-node ignores 60+).
        retry_after = max(1, math.ceil(wait))
        frees = f"the window frees in {retry_after} s"
        if binding == 1:
            return Refusal(
                retry_after,
                f"Project '{project.name}' is over its limit of {project.embeddings_rpm} embeddings requests per "
                f"minute for '{model}'; {frees}.",
                "embeddings_rpm_limit",
            )
        return Refusal(
            retry_after,
            f"Project '{project.name}' is over its limit of {project.rpm} requests per minute; {frees}.",
            "project_rpm_limit",
        )

    def release(self, project: Project) -> None:
        self._inflight[project.name] -= 1


def build_limiter(
    redis_url: str, embeddings_models: frozenset[str], redis_auth: str = "none", client_id: str | None = None
) -> Limiter:
    """`redis_auth` and `client_id` are GATEWAY_REDIS_AUTH and AZURE_CLIENT_ID (the managed identity)."""
    store: WindowStore = LocalWindows()
    if redis_url and redis_auth == "entra":
        from aigateway.proxy import redis_auth as entra

        if not redis_url.startswith("rediss://"):
            raise ValueError("GATEWAY_REDIS_AUTH=entra needs a TLS GATEWAY_REDIS_URL (rediss://)")
        store = RedisWindows(redis_url, entra.entra_provider_factory(entra.redis_credential(client_id)))
    elif redis_url:
        store = RedisWindows(redis_url)
    return Limiter(store, embeddings_models)

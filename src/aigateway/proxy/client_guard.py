"""Who is knocking, and may they try now: the client's address behind the ingress, a pseudonymous id of it
for telemetry, the failed-authentication throttle per address, and the cap on one project's uploads.

Everything here is per replica and in process memory, bounded in size: it keeps one noisy source from
costing the replica much, it is not a ledger (Azure's quota and the per-project limits stand behind it).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from aigateway.proxy.asgi import Scope

WINDOW_SECONDS = 60.0
# Addresses remembered at once. Each holds at most `limit` timestamps, so 10,000 cost about 2 MB; beyond that
# the least recently failing address is forgotten (a forgotten address starts again from zero: fail open).
MAX_TRACKED_SOURCES = 10_000
_XFF = b"x-forwarded-for"


@dataclass(frozen=True, slots=True)
class Client:
    address: str  # the throttle's key: an IPv4 address, an IPv6 /64, or the peer as uvicorn gave it
    source: str  # pseudonymous id for telemetry; never the address itself
    local: bool = False  # this machine (loopback): never throttled


def client_address(scope: Scope, trusted_hops: int) -> str:
    """The client's address as the nearest trusted proxy saw it.

    Azure Container Apps' ingress (Envoy) appends the address of the peer it accepted to X-Forwarded-For and
    passes on whatever the client sent before it, so only the rightmost entry is trustworthy with one proxy
    in front (`trusted_hops=1`, the default); with Front Door before the ingress it is the second from the
    right (`trusted_hops=2`), and so on. Everything further left is the client's own claim. The header is read
    only when the TCP peer is not a public address, i.e. a proxy inside the environment: a gateway exposed
    directly (or a client reaching it around the ingress) cannot choose its own address by sending the header.
    """
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if trusted_hops > 0 and not _is_public(peer):
        hops = [entry.strip() for entry in _forwarded_for(scope["headers"]) if entry.strip()]
        if hops:
            claimed = hops[max(0, len(hops) - trusted_hops)]
            if _parses(claimed):
                return _network(claimed)
    return _network(peer)


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    # Several X-Forwarded-For lines are one list, in order (RFC 9110 5.3).
    entries: list[str] = []
    for name, value in headers:
        if name.lower() == _XFF:
            entries.extend(value.decode("latin-1").split(","))
    return entries


# The address helpers parse with `ipaddress` (microseconds each); clients repeat, so answers are cached.
_ADDRESS_CACHE = 4096


@lru_cache(maxsize=_ADDRESS_CACHE)
def _parses(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=_ADDRESS_CACHE)
def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=_ADDRESS_CACHE)
def _is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False  # a Unix socket or a test transport: not an internet peer


@lru_cache(maxsize=_ADDRESS_CACHE)
def _network(address: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds a whole /64 and could rotate through it."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address) and not parsed.is_loopback:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class ClientGuard:
    """Identifies the client of a request and throttles addresses that keep failing authentication.

    After `failures_per_minute` failed authentications within any 60 s from one address, every request from
    it is answered 429 without looking at its key, good keys included, until the oldest of those failures
    is 60 s old. Answering a good key during the throttle would tell the client which guess was right, so
    the throttle would no longer limit guessing. The cost: clients behind one NAT share the address, so one
    client with a wrong key can hold its neighbours off for up to a minute; the 429 says why.

    Clients on this machine (loopback) are not throttled: that is a developer's own laptop, or the test
    suite, never a client behind the ingress (the ingress's entry in X-Forwarded-For is the peer it saw).
    """

    def __init__(self, trusted_hops: int, failures_per_minute: int, id_secret: bytes) -> None:
        self._trusted_hops = trusted_hops
        self._limit = failures_per_minute
        self._id_key = id_secret
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def identify(self, scope: Scope) -> Client:
        address = client_address(scope, self._trusted_hops)
        return Client(address, source_id(self._id_key, address), _is_loopback(address))

    def throttled_for(self, client: Client, now: float | None = None) -> int:
        """Whole seconds until `client` may try a key again; 0 when it may now."""
        if self._limit == 0 or client.local:
            return 0
        failures = self._failures.get(client.address)
        if failures is None:
            return 0
        now = time.monotonic() if now is None else now
        while failures and failures[0] <= now - WINDOW_SECONDS:
            failures.popleft()
        if not failures:
            del self._failures[client.address]
            return 0
        if len(failures) < self._limit:
            return 0
        return max(1, math.ceil(failures[0] + WINDOW_SECONDS - now))

    def failed(self, client: Client, now: float | None = None) -> None:
        """Count one failed authentication from `client`."""
        if self._limit == 0 or client.local:
            return
        now = time.monotonic() if now is None else now
        failures = self._failures.pop(client.address, None)
        if failures is None:
            failures = deque(maxlen=self._limit)
            while len(self._failures) >= MAX_TRACKED_SOURCES:
                self._failures.popitem(last=False)
        failures.append(now)
        self._failures[client.address] = failures  # most recently failing last, so the oldest is evicted

    @property
    def tracked(self) -> int:
        return len(self._failures)


def source_id(key: bytes, address: str) -> str:
    """A keyed hash of the address: stable for one key, not reversible without it (an unkeyed hash of an
    IPv4 address is reversed by hashing all 2^32 of them)."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:16]


def id_secret(project_keys: Iterable[str]) -> bytes:
    """The key for `source_id`, derived from the configured project keys: every replica of a revision names
    a source alike (KQL can count one source across replicas), and no one without the keys can map an
    address to its id. Rotating a key changes the ids."""
    digest = hashlib.sha256(b"aigateway client source id\0")
    for key in sorted(project_keys):
        digest.update(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest())
    return digest.digest()


class UploadSlots:
    """Request bodies being received per project. The replica-wide slot is taken only once a body is
    complete, so uploads need their own bound: a project may have as many in progress as its concurrency
    limit (each at most GATEWAY_MAX_BODY_BYTES), which caps the memory one project's stalled or slow uploads
    can hold, and what they hold is theirs alone."""

    def __init__(self) -> None:
        self._busy: dict[str, int] = {}

    def acquire(self, project: str, limit: int) -> bool:
        busy = self._busy.get(project, 0)
        if busy >= limit:
            return False
        self._busy[project] = busy + 1
        return True

    def release(self, project: str) -> None:
        left = self._busy[project] - 1
        if left:
            self._busy[project] = left
        else:
            del self._busy[project]

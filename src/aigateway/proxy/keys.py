"""Project keys: where a client puts its key, and a constant-time lookup of the project it belongs to."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

from aigateway.settings import Project

BEARER = "bearer "


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The secret a client sent: `x-gateway-key`, `Authorization: Bearer`, Azure-style `api-key`, or
    `x-api-key` (Qoder CLI's custom providers with `authType: "api-key"`)."""
    key = headers.get("x-gateway-key")
    if key:
        return key.strip()
    authorization = headers.get("authorization", "")
    if authorization[: len(BEARER)].lower() == BEARER:
        return authorization[len(BEARER) :].strip() or None
    for name in ("api-key", "x-api-key"):
        key = headers.get(name)
        if key:
            return key.strip()
    return None


class KeyTable:
    """Maps a presented key to its project without leaking, through timing, which key was close.

    Keys are compared as SHA-256 digests (fixed length) with `hmac.compare_digest`, and every entry is
    compared on every lookup, so the time taken does not depend on which project matched, or where.
    """

    def __init__(self, projects: Iterable[Project]) -> None:
        self._entries = [(_digest(p.key.get_secret_value()), p) for p in projects]

    def lookup(self, key: str | None) -> Project | None:
        if not key:
            return None
        candidate = _digest(key)
        found: Project | None = None
        for digest, project in self._entries:
            if hmac.compare_digest(digest, candidate):
                found = project
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


CREDENTIAL_HEADERS = frozenset({b"x-gateway-key", b"authorization", b"api-key", b"x-api-key"})


def duplicated_credential(raw_headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The credential header a request carries more than once, if any: which copy counts would be up to
    whoever reads it, so such a request is refused rather than read one way here and another elsewhere."""
    seen: set[bytes] = set()
    for name, _ in raw_headers:
        lower = name.lower()
        if lower in CREDENTIAL_HEADERS:
            if lower in seen:
                return lower.decode("latin-1")
            seen.add(lower)
    return None

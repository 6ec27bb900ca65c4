"""Azure's key check: `api-key`, or `Authorization: Bearer` with the key (v1 only) or an Entra-style JWT."""

from __future__ import annotations

import hmac
import re

from aigateway.emulator.wire import Family

# Entra access tokens are JWTs: three base64url parts. Any such token stands in for managed identity, since the
# emulator cannot (and need not) validate Microsoft's signatures.
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def authorized(headers: dict[str, str], family: Family, api_key: str) -> bool:
    key = headers.get("api-key")
    if key is not None:
        return hmac.compare_digest(key.encode(), api_key.encode())
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    token = token.strip()
    if _JWT.match(token):
        return True
    # Only the v1 surface accepts the resource key as a Bearer token (that is why the stock OpenAI SDK works).
    return family == "v1" and hmac.compare_digest(token.encode(), api_key.encode())

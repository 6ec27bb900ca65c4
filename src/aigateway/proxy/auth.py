"""LiteLLM `custom_auth` hook: the request's project, from the project's own key.

The ASGI front has already rejected requests without a valid key; this hook repeats the (cheap,
constant-time) lookup so LiteLLM never serves a request on trust.
"""

from __future__ import annotations

from fastapi import Request
from litellm.proxy._types import ProxyErrorTypes, ProxyException, UserAPIKeyAuth

from aigateway.proxy.keys import presented_key
from aigateway.proxy.runtime import get_runtime

UNAUTHORIZED_MESSAGE = (
    "Missing or invalid gateway key: send your project key as 'Authorization: Bearer <key>', "
    "'x-gateway-key: <key>' or 'api-key: <key>'."
)


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    runtime = get_runtime()
    project = runtime.keys.lookup(presented_key(request.headers))
    if project is None:
        raise ProxyException(message=UNAUTHORIZED_MESSAGE, type=ProxyErrorTypes.auth_error, param=None, code=401)
    return UserAPIKeyAuth(
        # An identifier for LiteLLM's bookkeeping, never the key itself. Limits are the front's job.
        api_key=f"project:{project.name}",
        token=f"project:{project.name}",
        key_alias=project.name,
        user_id=project.name,
        metadata={"project": project.name},
    )

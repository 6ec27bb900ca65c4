"""LiteLLM `custom_auth` hook: the request's project and its limits, from the project's own key.

The ASGI front has already rejected requests without a valid key; this hook repeats the (cheap,
constant-time) lookup so LiteLLM never serves a request on trust, and hands LiteLLM the project's limits.
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
    settings = runtime.settings
    embeddings_aliases = [settings.gateway_embeddings_model] + [
        m.alias for m in settings.gateway_extra_models if m.kind == "embeddings"
    ]
    return UserAPIKeyAuth(
        # An identifier for LiteLLM's limiter counters, never the key itself.
        api_key=f"project:{project.name}",
        token=f"project:{project.name}",
        key_alias=project.name,
        user_id=project.name,
        rpm_limit=project.rpm,
        max_parallel_requests=project.max_parallel,
        metadata={
            "project": project.name,
            "model_rpm_limit": {alias: project.embeddings_rpm for alias in embeddings_aliases},
        },
    )

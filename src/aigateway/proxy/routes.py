"""Which paths the gateway serves: the OpenAI API routes (with or without `/v1`) and the health probes.

Paths are taken as clients send them: repeated slashes collapse (a base URL with a trailing slash makes
Roo Code post `//v1/responses`), and the Azure dialect that Azure-configured clients speak (Roo's "Use
Azure", the `AzureOpenAI` SDKs) maps onto the same routes: `/openai/deployments/{alias}/chat/completions`,
`.../responses` and `.../embeddings` (also without the `/openai` prefix, as openai-node's `AzureOpenAI`
sends it under a custom base URL), `/openai/v1/...` and `/openai/responses...`. The deployment segment
names the alias; the client's `api-version` is accepted and never forwarded (the gateway picks Azure's).

Everything else (LiteLLM's proxy routes such as `/model/info`, which showed the Azure endpoint; docs, admin,
UI, key management) is a 404: the gateway runs no other app behind the front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["api", "health", "double_v1", "unknown"]

# Response ids are relayed into Azure's URL: only id characters, so no `..` can walk to another Azure route.
_API_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/responses$"), "/v1/responses"),
    ("POST", re.compile(r"^/chat/completions$"), "/v1/chat/completions"),
    ("POST", re.compile(r"^/embeddings$"), "/v1/embeddings"),
    ("GET", re.compile(r"^/models$"), "/v1/models"),
    ("GET", re.compile(r"^/models/[^/]+$"), "/v1/models/{model}"),
    ("GET", re.compile(r"^/responses/[A-Za-z0-9_-]+$"), "/v1/responses/{id}"),
    ("DELETE", re.compile(r"^/responses/[A-Za-z0-9_-]+$"), "/v1/responses/{id}"),
    ("POST", re.compile(r"^/responses/[A-Za-z0-9_-]+/cancel$"), "/v1/responses/{id}/cancel"),
    ("GET", re.compile(r"^/responses/[A-Za-z0-9_-]+/input_items$"), "/v1/responses/{id}/input_items"),
)
# Azure's deployment routes: the alias is the deployment segment (alias characters only).
_DEPLOYMENT_ROUTE = re.compile(r"^(?:/openai)?/deployments/([A-Za-z0-9._-]+)/(chat/completions|responses|embeddings)$")
# Azure's v1 and Responses routes: the same API under an `/openai` prefix.
_AZURE_PREFIX = re.compile(r"^/openai(?=/v1/|/responses(?:/|$))")
_REPEATED_SLASHES = re.compile(r"/{2,}")
HEALTH_PATHS = frozenset({"/health/liveliness", "/health/liveness", "/health/readiness"})
# Routes whose body names a model alias that must be configured.
MODEL_ROUTES = frozenset({"/v1/responses", "/v1/chat/completions", "/v1/embeddings"})


@dataclass(frozen=True, slots=True)
class RouteMatch:
    kind: Kind
    name: str  # the normalised route used in logs, e.g. "/v1/responses"
    method_allowed: bool = True
    model: str | None = None  # the alias an Azure deployment path names; it decides the request's model


def normalise(path: str) -> str:
    """The path with repeated slashes collapsed and an Azure `/openai` prefix (v1 or Responses) removed."""
    path = _REPEATED_SLASHES.sub("/", path)
    return _AZURE_PREFIX.sub("", path, count=1)


def match(method: str, path: str) -> RouteMatch:
    path = normalise(path)
    if path in HEALTH_PATHS:
        return RouteMatch("health", path, method in ("GET", "HEAD"))
    if path.startswith("/v1/v1/"):
        return RouteMatch("double_v1", "/v1/v1")
    deployment = _DEPLOYMENT_ROUTE.match(path)
    if deployment is not None:
        return RouteMatch("api", "/v1/" + deployment.group(2), method == "POST", model=deployment.group(1))
    bare = path[3:] if path.startswith("/v1/") else path
    allowed_methods = [(m, name) for m, pattern, name in _API_ROUTES if pattern.match(bare)]
    if not allowed_methods:
        return RouteMatch("unknown", "other")
    for route_method, name in allowed_methods:
        if route_method == method:
            return RouteMatch("api", name)
    return RouteMatch("api", allowed_methods[0][1], method_allowed=False)

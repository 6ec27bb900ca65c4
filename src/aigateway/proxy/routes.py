"""Which paths the gateway serves: the OpenAI API routes (with or without `/v1`) and the health probes.

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
HEALTH_PATHS = frozenset({"/health/liveliness", "/health/liveness", "/health/readiness"})
# Routes whose body names a model alias that must be configured.
MODEL_ROUTES = frozenset({"/v1/responses", "/v1/chat/completions", "/v1/embeddings"})


@dataclass(frozen=True, slots=True)
class RouteMatch:
    kind: Kind
    name: str  # the normalised route used in logs, e.g. "/v1/responses"
    method_allowed: bool = True


def match(method: str, path: str) -> RouteMatch:
    if path in HEALTH_PATHS:
        return RouteMatch("health", path, method in ("GET", "HEAD"))
    if path.startswith("/v1/v1/"):
        return RouteMatch("double_v1", "/v1/v1")
    bare = path[3:] if path.startswith("/v1/") else path
    allowed_methods = [(m, name) for m, pattern, name in _API_ROUTES if pattern.match(bare)]
    if not allowed_methods:
        return RouteMatch("unknown", "other")
    for route_method, name in allowed_methods:
        if route_method == method:
            return RouteMatch("api", name)
    return RouteMatch("api", allowed_methods[0][1], method_allowed=False)

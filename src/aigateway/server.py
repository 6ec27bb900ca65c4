"""`aigateway serve`: configure the process, start the embedded emulator if needed, run the front.

LiteLLM is a library here (the chat -> Responses translation of `proxy/chat_bridge.py`), imported in the
background. Order matters: it reads several environment variables at import time, so they are set first.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Any

from aigateway.launcher import BASE_ENV
from aigateway.settings import (
    DEFAULT_LOCAL_KEY,
    LOCAL_PROJECT,
    Settings,
    has_project_keys,
    is_loopback_host,
    require_upstream,
)

# How long a chat request arriving during a cold start waits for LiteLLM before a 503 + Retry-After.
_LITELLM_START_WAIT_SECONDS = 60.0

# What LiteLLM reads at import: PRODUCTION = no `.env` file loaded from the working directory; its own log
# level (its lines are re-routed as JSON without their text, `proxy/logs.py`).
_LITELLM_ENV: dict[str, str] = {
    "LITELLM_MODE": "PRODUCTION",
    "LITELLM_LOG": "ERROR",
}


def _start_emulator(settings: Settings) -> tuple[str, str, Callable[[], None]]:
    from aigateway.emulator.config import EmulatorConfig
    from aigateway.emulator.server import start_in_thread

    config = EmulatorConfig.from_env()
    base_url, stop = start_in_thread("127.0.0.1", settings.gateway_emulator_port, config)
    return base_url, config.api_key, stop


def prepare_environment(settings: Settings, endpoint: str, azure_key: str | None) -> None:
    """Set the process environment LiteLLM reads at import. Nothing else goes there: the endpoint, the
    deployment and the credentials are handed to each call by the bridge (`settings`, `endpoint` and
    `azure_key` are not needed for that any more; the signature is kept for the callers)."""
    del settings, endpoint, azure_key
    for name, value in {**BASE_ENV, **_LITELLM_ENV}.items():
        os.environ.setdefault(name, value)


def build_app(settings: Settings, endpoint: str, azure_key: str | None) -> Any:
    """The ASGI app: the front, the direct path to Azure, and the chat bridge loading in the background
    (environment must be prepared first)."""
    from aigateway.proxy import logs, runtime, upstream
    from aigateway.proxy.chat_bridge import BridgeTarget
    from aigateway.proxy.engine import ChatHandler, LiteLLMEngine
    from aigateway.proxy.front import GatewayFront
    from aigateway.proxy.limits import build_limiter
    from aigateway.proxy.passthrough import AzureTargets

    logs.install()
    rt = runtime.configure(settings)
    policy = upstream.RetryPolicy(
        attempts=settings.gateway_retry_attempts,
        max_seconds=settings.gateway_retry_max_seconds,
        retry_after_cap_seconds=settings.gateway_retry_after_cap_seconds,
        prestream_max_seconds=settings.gateway_prestream_max_seconds,
        budget=upstream.RetryBudget(
            settings.gateway_retry_budget_percent, settings.gateway_retry_budget_min_concurrency
        ),
    )
    targets = AzureTargets.from_settings(settings, endpoint)
    bridge_target = BridgeTarget(
        endpoint=targets.endpoint,
        api_version=targets.responses_api_version,
        deployments=dict(targets.deployments),
        timeout_seconds=settings.gateway_upstream_timeout_seconds,
        force_store_false=settings.gateway_force_store_false,
    )
    bridge_auth = _azure_auth(settings, azure_key)

    def load_litellm() -> ChatHandler:
        upstream.install(policy)  # imports LiteLLM's HTTP handler; before LiteLLM creates any HTTP client
        from aigateway.proxy import chat_bridge

        _quiet_loggers()
        return chat_bridge.load(bridge_target, bridge_auth)

    engine = LiteLLMEngine(load_litellm, _after_startup, wait_seconds=_LITELLM_START_WAIT_SECONDS)
    limiter = build_limiter(
        settings.gateway_redis_url,
        frozenset(settings.embeddings_aliases()),
        settings.gateway_redis_auth,
        os.environ.get("AZURE_CLIENT_ID"),
    )
    return GatewayFront(engine, rt, limiter, _passthrough(settings, endpoint, azure_key, policy))


def _azure_auth(settings: Settings, azure_key: str | None) -> Any:
    """The chat bridge's credentials to Azure: the same kind the direct path uses (`_passthrough`)."""
    from aigateway.proxy import azure_auth

    if settings.azure_openai_auth == "entra" and not settings.uses_emulator:
        return azure_auth.EntraAuth(azure_auth.entra_credential(os.environ.get("AZURE_CLIENT_ID")))
    return azure_auth.ApiKeyAuth(azure_key or "")


def _after_startup(bridge: Any) -> None:
    """Let the GC run again, with everything loaded so far (LiteLLM's ~3,100 modules) frozen out of its
    scans."""
    del bridge
    gc.freeze()
    gc.enable()


def _passthrough(settings: Settings, endpoint: str, azure_key: str | None, policy: Any) -> Any:
    from aigateway.proxy import azure_auth, passthrough

    auth: azure_auth.AzureAuth
    if settings.azure_openai_auth == "entra" and not settings.uses_emulator:
        auth = azure_auth.EntraAuth(azure_auth.entra_credential(os.environ.get("AZURE_CLIENT_ID")))
    else:
        auth = azure_auth.ApiKeyAuth(azure_key or "")
    return passthrough.Passthrough(
        passthrough.AzureTargets.from_settings(settings, endpoint),
        auth,
        policy,
        settings.gateway_upstream_timeout_seconds,
        settings.gateway_max_concurrency,
    )


def _quiet_loggers() -> None:
    # LiteLLM added its own handlers at import, and uvicorn configured its loggers after build_app: both are
    # routed (again) through the JSON handler, which never writes request content (`proxy/logs.py`).
    from aigateway.proxy import logs

    logs.install()


def _banner(settings: Settings, endpoint: str) -> list[str]:
    """What the operator needs at start: where the gateway really listens, what it talks to, which key."""
    host, port = settings.gateway_host, settings.gateway_port
    shown_host = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        where = "   (listening on every interface, reachable from other machines)"
    else:
        where = "" if is_loopback_host(host) else "   (reachable from other machines)"
    lines = [f"aigateway: base URL  http://{shown_host}:{port}/v1{where}"]
    if settings.uses_emulator:
        asked = "   (GATEWAY_EMULATOR: fake completions, not Azure)" if settings.gateway_emulator else ""
        lines.append(f"aigateway: upstream  embedded Azure OpenAI emulator at {endpoint}{asked}")
        if not has_project_keys(settings, os.environ):
            local_key = settings.gateway_local_key.get_secret_value()
            shown = local_key if local_key == DEFAULT_LOCAL_KEY else "(the value of GATEWAY_LOCAL_KEY)"
            lines.append(f"aigateway: key       {shown}   (project '{LOCAL_PROJECT}')")
    else:
        lines.append(f"aigateway: upstream  {endpoint}")
        lines.append("aigateway: key       your project's key (GATEWAY_KEYS / GATEWAY_KEY_<PROJECT>)")
    lines.append(f"aigateway: models    {', '.join(settings.model_aliases())}")
    return lines


def serve(settings: Settings) -> None:
    # Before anything is imported or started: a production-like process without an endpoint stops here.
    require_upstream(settings, os.environ)
    # LiteLLM's import creates millions of long-lived objects; collecting while they are created costs
    # ~35% of its load time and finds nothing. Re-enabled (and they are frozen) once LiteLLM has started.
    gc.disable()
    import uvicorn

    stop_emulator: Callable[[], None] | None = None
    azure_key: str | None
    if settings.uses_emulator:
        endpoint, azure_key, stop_emulator = _start_emulator(settings)
    else:
        endpoint = settings.azure_openai_endpoint
        azure_key = settings.azure_openai_api_key.get_secret_value() or None
    prepare_environment(settings, endpoint, azure_key)
    app = build_app(settings, endpoint, azure_key)

    host, port = settings.gateway_host, settings.gateway_port
    print("\n".join(_banner(settings, endpoint)), flush=True)

    from aigateway.proxy.http_limits import HttpLimits, protocol_class

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        # httptools, bounded: header size and header time limits (proxy/http_limits.py).
        http=protocol_class(HttpLimits(settings.gateway_max_header_bytes, settings.gateway_header_timeout_seconds)),
        ws="websockets-sansio",
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level="warning",
        # Idle keep-alive connections: longer than the ingress keeps its own idle upstream connections, so the
        # proxy, not us, closes them (a close racing the proxy's next request on that connection fails it).
        timeout_keep_alive=settings.gateway_idle_timeout_seconds,
        # The client's address is the front's business (proxy/client_guard.py: which X-Forwarded-For entry
        # to trust); uvicorn's rewrite would trust the header from any loopback peer.
        proxy_headers=False,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if stop_emulator is not None:
            stop_emulator()

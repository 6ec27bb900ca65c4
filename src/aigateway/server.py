"""`aigateway serve`: configure the process, start the embedded emulator if needed, run LiteLLM behind the front.

Order matters: LiteLLM reads several environment variables at import time, so everything is set before
`litellm.proxy.proxy_server` is imported.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aigateway.launcher import BASE_ENV
from aigateway.litellm_config import AZURE_KEY_ENV, write_config
from aigateway.settings import DEFAULT_LOCAL_KEY, LOCAL_PROJECT, Settings

# The routes the front hands to LiteLLM, so their lazy route tables are built before they are used.
_LITELLM_PATHS = (("POST", "/v1/chat/completions"), ("POST", "/chat/completions"), ("GET", "/v1/model/info"))
# How long a chat request arriving during a cold start waits for LiteLLM before a 503 + Retry-After.
_LITELLM_START_WAIT_SECONDS = 60.0

# LiteLLM switches that only add surface or work: docs, admin UI, telemetry, background jobs.
_LITELLM_ENV: dict[str, str] = {
    "NO_DOCS": "True",
    "NO_REDOC": "True",
    "DISABLE_ADMIN_UI": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "LITELLM_MODE": "PRODUCTION",
    "LITELLM_LOG": "WARNING",
}


def _start_emulator(settings: Settings) -> tuple[str, str, Callable[[], None]]:
    from aigateway.emulator.config import EmulatorConfig
    from aigateway.emulator.server import start_in_thread

    config = EmulatorConfig.from_env()
    base_url, stop = start_in_thread("127.0.0.1", settings.gateway_emulator_port, config)
    return base_url, config.api_key, stop


def prepare_environment(settings: Settings, endpoint: str, azure_key: str | None) -> Path:
    """Set the process environment LiteLLM expects and write its config; returns the config path."""
    for name, value in {**BASE_ENV, **_LITELLM_ENV}.items():
        os.environ.setdefault(name, value)
    if azure_key is not None:
        os.environ[AZURE_KEY_ENV] = azure_key
    # LiteLLM refuses to start without a master key. Nobody uses it (our auth hook rejects it); it is
    # random per process so it can never be guessed.
    os.environ["LITELLM_MASTER_KEY"] = "sk-" + secrets.token_hex(24)
    if settings.azure_openai_auth == "entra":
        os.environ.setdefault(
            "AZURE_CREDENTIAL",
            "ManagedIdentityCredential" if os.environ.get("AZURE_CLIENT_ID") else "DefaultAzureCredential",
        )
    config_dir = Path(tempfile.mkdtemp(prefix="aigateway-"))
    config_path = write_config(settings, endpoint, config_dir)
    os.environ["CONFIG_FILE_PATH"] = str(config_path)
    return config_path


def build_app(settings: Settings, endpoint: str, azure_key: str | None) -> Any:
    """The ASGI app: the front, the direct path to Azure, and LiteLLM loading in the background
    (environment must be prepared first)."""
    from aigateway.proxy import runtime, upstream
    from aigateway.proxy.engine import LiteLLMEngine
    from aigateway.proxy.front import GatewayFront
    from aigateway.proxy.limits import build_limiter

    rt = runtime.configure(settings)
    policy = upstream.RetryPolicy(
        attempts=settings.gateway_retry_attempts,
        max_seconds=settings.gateway_retry_max_seconds,
        retry_after_cap_seconds=settings.gateway_retry_after_cap_seconds,
    )

    def load_litellm() -> Any:
        upstream.install(policy)  # before LiteLLM creates any HTTP client
        from litellm.proxy.proxy_server import app as litellm_app

        _quiet_loggers()
        return litellm_app

    engine = LiteLLMEngine(load_litellm, _after_startup, wait_seconds=_LITELLM_START_WAIT_SECONDS)
    limiter = build_limiter(
        settings.gateway_redis_url,
        frozenset(settings.embeddings_aliases()),
        settings.gateway_redis_auth,
        os.environ.get("AZURE_CLIENT_ID"),
    )
    return GatewayFront(engine, rt, limiter, _passthrough(settings, endpoint, azure_key, policy))


def _after_startup(litellm_app: Any) -> None:
    """Pay LiteLLM's lazy route-table build now, not in the first request; then let the GC run again,
    with everything loaded so far frozen out of its scans."""
    from starlette.routing import Match

    for method, path in _LITELLM_PATHS:
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}
        for route in litellm_app.router.routes:
            if route.matches(scope)[0] == Match.FULL:
                break
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
    # LiteLLM's loggers are the only ones that could carry request content; WARNING keeps them to errors
    # without payloads (canary tests in tests/e2e/test_reliability.py), and uvicorn's access log is replaced by ours.
    for name in ("LiteLLM", "LiteLLM Proxy", "LiteLLM Router", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


def serve(settings: Settings) -> None:
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
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    lines = [f"aigateway: base URL  http://{shown_host}:{port}/v1"]
    if settings.uses_emulator:
        lines.append(f"aigateway: upstream  embedded Azure OpenAI emulator at {endpoint}")
        if os.environ.get("GATEWAY_KEYS") is None and not any(k.startswith("GATEWAY_KEY_") for k in os.environ):
            local_key = settings.gateway_local_key.get_secret_value()
            shown = local_key if local_key == DEFAULT_LOCAL_KEY else "(the value of GATEWAY_LOCAL_KEY)"
            lines.append(f"aigateway: key       {shown}   (project '{LOCAL_PROJECT}')")
    else:
        lines.append(f"aigateway: upstream  {endpoint}")
        lines.append("aigateway: key       your project's key (GATEWAY_KEYS / GATEWAY_KEY_<PROJECT>)")
    lines.append(f"aigateway: models    {', '.join(settings.model_aliases())}")
    print("\n".join(lines), flush=True)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level="warning",
        timeout_keep_alive=75,  # longer than ACA/Envoy idle so the proxy, not us, closes idle connections
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if stop_emulator is not None:
            stop_emulator()

"""Render the LiteLLM proxy configuration from Settings.

The rendered YAML holds no secret: keys are referenced as `os.environ/...` and resolved by LiteLLM at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aigateway.settings import Settings

AZURE_KEY_ENV = "AZURE_OPENAI_API_KEY"
CUSTOM_AUTH = "aigateway.proxy.auth.user_api_key_auth"


def _azure_params(settings: Settings, endpoint: str, api_version: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "api_base": endpoint,
        "api_version": api_version,
        "timeout": settings.gateway_upstream_timeout_seconds,
        "stream_timeout": settings.gateway_upstream_timeout_seconds,
        # Retries live in aigateway.proxy.upstream; the SDK inside LiteLLM must not add its own.
        "max_retries": 0,
    }
    if settings.azure_openai_auth == "key":
        params["api_key"] = f"os.environ/{AZURE_KEY_ENV}"
    return params


def _responses_model(settings: Settings, endpoint: str, alias: str, deployment: str, base: str) -> dict[str, Any]:
    # `azure/responses/<deployment>` + mode: responses makes LiteLLM bridge chat completions to the
    # Responses API even when the deployment name is not a model LiteLLM knows; base_model silences its
    # "could not identify azure model" error and gives it the real model's capabilities.
    return {
        "model_name": alias,
        "litellm_params": {
            "model": f"azure/responses/{deployment}",
            **_azure_params(settings, endpoint, settings.azure_openai_responses_api_version),
        },
        "model_info": {"mode": "responses", "base_model": f"azure/{base}"},
    }


def _embeddings_model(settings: Settings, endpoint: str, alias: str, deployment: str, base: str) -> dict[str, Any]:
    return {
        "model_name": alias,
        "litellm_params": {
            "model": f"azure/{deployment}",
            **_azure_params(settings, endpoint, settings.azure_openai_embeddings_api_version),
        },
        "model_info": {"mode": "embedding", "base_model": f"azure/{base}"},
    }


def render_config(settings: Settings, endpoint: str) -> dict[str, Any]:
    """The LiteLLM config as a dict; `endpoint` is Azure's or the embedded emulator's base URL."""
    models = [
        _responses_model(
            settings,
            endpoint,
            settings.gateway_codex_model,
            settings.codex_deployment,
            settings.gateway_codex_model,
        ),
        _embeddings_model(
            settings,
            endpoint,
            settings.gateway_embeddings_model,
            settings.embeddings_deployment,
            settings.gateway_embeddings_model,
        ),
    ]
    for extra in settings.gateway_extra_models:
        builder = _responses_model if extra.kind == "responses" else _embeddings_model
        models.append(builder(settings, endpoint, extra.alias, extra.deployment, extra.alias))

    litellm_settings: dict[str, Any] = {
        # Roo sends temperature: 0, which codex rejects; dropping unsupported params is what clients expect.
        "drop_params": True,
        # Callbacks see "redacted-by-litellm" instead of prompts and completions.
        "turn_off_message_logging": True,
        "request_timeout": settings.gateway_upstream_timeout_seconds,
    }
    if settings.azure_openai_auth == "entra":
        litellm_settings["enable_azure_ad_token_refresh"] = True

    router_settings: dict[str, Any] = {
        # Retries happen in aigateway.proxy.upstream (bounded, capped Retry-After, no sleep after the last
        # attempt); LiteLLM's own loop, which sleeps once more after the final attempt, is off.
        "num_retries": 0,
        "timeout": settings.gateway_upstream_timeout_seconds,
        "stream_timeout": settings.gateway_upstream_timeout_seconds,
        # A single deployment per alias: cooling it down would turn Azure's 429 into "no deployments".
        "disable_cooldowns": True,
    }
    general_settings: dict[str, Any] = {
        "custom_auth": CUSTOM_AUTH,
        "disable_spend_logs": True,
        "disable_reset_budget": True,
        "allow_requests_on_db_unavailable": True,
        "background_health_checks": False,
        # The admin UI is closed by the front; an empty list says no proxy sits between clients and us.
        "trusted_proxy_ranges": [],
    }
    return {
        "model_list": models,
        "litellm_settings": litellm_settings,
        "router_settings": router_settings,
        "general_settings": general_settings,
    }


def write_config(settings: Settings, endpoint: str, directory: Path) -> Path:
    path = directory / "litellm_config.yaml"
    path.write_text(yaml.safe_dump(render_config(settings, endpoint), sort_keys=False))
    return path

"""Settings validation, project keys and their constant-time lookup, route matching, retry policy."""

from __future__ import annotations

import json

import httpx
import pytest

from aigateway.errors import SettingsError
from aigateway.proxy import routes
from aigateway.proxy.keys import KeyTable, presented_key
from aigateway.proxy.upstream import RetryPolicy, parse_retry_after
from aigateway.settings import build_projects, load_settings


def test_embedded_default_has_the_local_project() -> None:
    settings = load_settings({})
    assert settings.uses_emulator
    assert [(p.name, p.key.get_secret_value()) for p in build_projects(settings, {})] == [("local", "sk-local-dev")]


def test_keys_from_pairs_json_and_per_project_variables() -> None:
    env = {"GATEWAY_KEYS": "team-a=sk-aaaaaaaaaaaa", "GATEWAY_KEY_ROO_TEAM": "sk-bbbbbbbbbbbb"}
    projects = build_projects(load_settings(env), env)
    assert {p.name for p in projects} == {"team-a", "roo-team"}
    env = {"GATEWAY_KEYS": json.dumps({"x": "sk-cccccccccccc"})}
    assert [p.name for p in build_projects(load_settings(env), env)] == ["x"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GATEWAY_KEYS": "a=sk-aaaaaaaaaaaa,b=sk-aaaaaaaaaaaa"}, "GATEWAY_KEYS"),
        ({"GATEWAY_KEYS": "Bad_Name=sk-aaaaaaaaaaaa"}, "GATEWAY_KEYS"),
        ({"GATEWAY_KEYS": "a=sk-a", "GATEWAY_PROJECT_LIMITS": "{}"}, "GATEWAY_KEYS"),
        ({"GATEWAY_PROJECT_LIMITS": '{"ghost": {"rpm": 1}}'}, "GATEWAY_PROJECT_LIMITS"),
        ({"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com/openai"}, "AZURE_OPENAI_ENDPOINT"),
        ({"GATEWAY_REDIS_URL": "http://redis"}, "GATEWAY_REDIS_URL"),
        ({"GATEWAY_REDIS_AUTH": "managed-identity"}, "GATEWAY_REDIS_AUTH"),
        ({"GATEWAY_REDIS_AUTH": "entra", "GATEWAY_REDIS_URL": "redis://r.redis.azure.net:10000"}, "GATEWAY_REDIS_AUTH"),
        ({"GATEWAY_RETRY_ATTEMPTS": "0"}, "GATEWAY_RETRY_ATTEMPTS"),
    ],
)
def test_invalid_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(variable)
    assert "sk-aaaaaaaaaaaa" not in str(caught.value), "a key never appears in an error"


def test_redis_auth_values_and_entra_needs_a_tls_url_without_credentials() -> None:
    assert load_settings({}).gateway_redis_auth == "none"
    url = "rediss://gw-dev.westeurope.redis.azure.net:10000"
    assert load_settings({"GATEWAY_REDIS_AUTH": "entra", "GATEWAY_REDIS_URL": url}).gateway_redis_auth == "entra"
    with pytest.raises(SettingsError, match=r"^GATEWAY_REDIS_AUTH: Input should be 'none' or 'entra'$"):
        load_settings({"GATEWAY_REDIS_AUTH": "Entra", "GATEWAY_REDIS_URL": url})
    for plain in ("", "redis://gw-dev.westeurope.redis.azure.net:10000"):
        with pytest.raises(
            SettingsError, match=r"^GATEWAY_REDIS_AUTH: entra needs GATEWAY_REDIS_URL to be .*rediss://"
        ):
            load_settings({"GATEWAY_REDIS_AUTH": "entra", "GATEWAY_REDIS_URL": plain})
    with pytest.raises(SettingsError) as caught:
        load_settings({"GATEWAY_REDIS_AUTH": "entra", "GATEWAY_REDIS_URL": "rediss://u:access-key-1@r:10000"})
    assert str(caught.value).startswith("GATEWAY_REDIS_AUTH:") and "access-key-1" not in str(caught.value)


def test_azure_endpoint_needs_keys_configured() -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"}
    with pytest.raises(SettingsError, match="no project key configured"):
        load_settings(env)


def test_key_lookup_and_header_forms() -> None:
    env = {"GATEWAY_KEYS": "a=sk-aaaaaaaaaaaa,b=sk-bbbbbbbbbbbb"}
    table = KeyTable(build_projects(load_settings(env), env))
    assert table.lookup("sk-bbbbbbbbbbbb").name == "b"  # type: ignore[union-attr]
    assert table.lookup("sk-bbbbbbbbbbb") is None
    assert table.lookup(None) is None
    assert presented_key({"x-gateway-key": " k1 "}) == "k1"
    assert presented_key({"authorization": "Bearer k2"}) == "k2"
    assert presented_key({"authorization": "Basic k2"}) is None
    assert presented_key({"api-key": "k3"}) == "k3"


@pytest.mark.parametrize(
    ("method", "path", "kind", "name", "allowed"),
    [
        ("POST", "/v1/responses", "api", "/v1/responses", True),
        ("POST", "/responses", "api", "/v1/responses", True),
        ("GET", "/v1/responses", "api", "/v1/responses", False),
        ("DELETE", "/v1/responses/resp_1", "api", "/v1/responses/{id}", True),
        ("GET", "/v1/responses/..", "unknown", "other", True),  # never a way to another Azure route
        ("GET", "/v1/responses/resp_1%2F..", "unknown", "other", True),
        ("GET", "/v1/responses/../models/input_items", "unknown", "other", True),
        ("POST", "/v1/v1/responses", "double_v1", "/v1/v1", True),
        ("GET", "/health/readiness", "health", "/health/readiness", True),
        ("GET", "/health", "unknown", "other", True),
        ("GET", "/key/list", "unknown", "other", True),
        ("GET", "/v1/model/info", "unknown", "other", True),  # LiteLLM's route, which showed the Azure endpoint
    ],
)
def test_route_matching(method: str, path: str, kind: str, name: str, allowed: bool) -> None:
    match = routes.match(method, path)
    assert (match.kind, match.name, match.method_allowed) == (kind, name, allowed)


def test_retry_after_parsing_and_policy() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert parse_retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert parse_retry_after(httpx.Headers({})) is None
    policy = RetryPolicy(attempts=3, max_seconds=10, retry_after_cap_seconds=5)
    assert policy.delay_after(httpx.Headers({"retry-after": "30"}), 1) is None
    assert 2.0 <= policy.delay_after(httpx.Headers({"Retry-After": "2"}), 1) <= 2.25  # type: ignore[operator]
    for attempt in range(1, 8):
        assert 0 < policy.backoff(attempt) <= 8.0


def test_model_profiles_built_in_by_name_and_corrected_field_by_field() -> None:
    env = {"GATEWAY_EMULATOR": "true", "GATEWAY_KEYS": "team-a=sk-team-a-0123456789"}
    extra = json.dumps([{"alias": "fast", "deployment": "gpt-5.2-codex-eu", "kind": "responses"}])
    profiles = load_settings({**env, "GATEWAY_EXTRA_MODELS": extra}).model_profiles()
    assert profiles["gpt-5.3-codex"].verbosities == ("medium",)
    assert profiles["fast"].verbosities == ("medium",), "an alias is matched by its deployment's name too"
    corrected = json.dumps({"gpt-5.3-codex": {"prompt_cache_retention": ["in_memory", "24h"], "verbosities": None}})
    profile = load_settings({**env, "GATEWAY_MODEL_PROFILES": corrected}).model_profiles()["gpt-5.3-codex"]
    assert profile.prompt_cache_retention == ("in_memory", "24h") and profile.verbosities is None
    assert profile.efforts == ("low", "medium", "high", "xhigh"), "fields not given keep the built-in values"
    with pytest.raises(SettingsError, match="GATEWAY_MODEL_PROFILES"):
        load_settings({**env, "GATEWAY_MODEL_PROFILES": '{"gpt-5.3-codex": {"effort": ["low"]}}'})

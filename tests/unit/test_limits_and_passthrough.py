"""Sliding-window limits, Azure URL mapping for the direct path, and Entra token caching."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson
import pytest
from pydantic import SecretStr

from aigateway.proxy import redis_auth
from aigateway.proxy.azure_auth import COGNITIVE_SERVICES_SCOPE, EntraAuth
from aigateway.proxy.limits import Limiter, LocalWindows, RedisWindows, Window, build_limiter, redis_key
from aigateway.proxy.passthrough import AzureTargets
from aigateway.settings import Project, load_settings

ENDPOINT = "https://res.openai.azure.com"


def project(rpm: int = 100, max_parallel: int = 10, embeddings_rpm: int = 100) -> Project:
    return Project(
        name="team", key=SecretStr("sk-team-key-000"), rpm=rpm, max_parallel=max_parallel, embeddings_rpm=embeddings_rpm
    )


def test_sliding_window_admits_the_limit_in_any_60_seconds() -> None:
    windows = LocalWindows()
    three = [Window("p", 3)]
    assert [windows.hit_now(three, t) for t in (0.0, 10.0, 20.0)] == [(0.0, -1)] * 3
    assert windows.hit_now(three, 30.0) == (30.0, 0), "full: the hit at t=0 frees the slot at t=60"
    assert windows.hit_now(three, 59.9)[1] == 0, "a refused request is not counted, the window is still full"
    assert windows.hit_now(three, 60.0) == (0.0, -1)
    assert windows.hit_now(three, 61.0) == (9.0, 0), "now the hit at t=10 is the one to wait for"


def test_refusal_names_the_window_that_binds_and_counts_nowhere() -> None:
    windows = LocalWindows()
    both = [Window("p", 3), Window("p:embed", 1)]
    assert windows.hit_now(both, 0.0) == (0.0, -1)
    assert windows.hit_now(both, 1.0) == (59.0, 1)
    # The refused embeddings call did not spend the project's own window: two more plain calls fit.
    assert windows.hit_now([Window("p", 3)], 2.0) == (0.0, -1)
    assert windows.hit_now([Window("p", 3)], 3.0) == (0.0, -1)
    assert windows.hit_now([Window("p", 3)], 4.0) == (56.0, 0)


def test_limiter_concurrency_slots_and_refusal_messages() -> None:
    async def scenario() -> None:
        limiter = Limiter(LocalWindows(), frozenset({"embed"}))
        team = project(max_parallel=2, embeddings_rpm=1)
        assert await limiter.admit(team, "/v1/responses", "codex", "r1") is None
        assert await limiter.admit(team, "/v1/embeddings", "embed", "r2") is None
        busy = await limiter.admit(team, "/v1/responses", "codex", "r3")
        assert busy is not None and busy.code == "project_concurrency_limit" and busy.retry_after == 1
        limiter.release(team)
        limiter.release(team)
        throttled = await limiter.admit(team, "/v1/embeddings", "embed", "r4")
        assert throttled is not None and throttled.code == "embeddings_rpm_limit"
        assert 59 <= throttled.retry_after <= 60 and "1 embeddings requests per minute" in throttled.message
        # The refused request gave its slot back: two admissions still fit.
        assert await limiter.admit(team, "/v1/responses", "codex", "r5") is None
        assert await limiter.admit(team, "/v1/responses", "codex", "r6") is None

    asyncio.run(scenario())


def test_limiter_project_rpm_code() -> None:
    async def scenario() -> None:
        limiter = Limiter(LocalWindows(), frozenset({"embed"}))
        team = project(rpm=1)
        assert await limiter.admit(team, "/v1/embeddings", "embed", "r1") is None
        limiter.release(team)
        refused = await limiter.admit(team, "/v1/embeddings", "embed", "r2")
        assert refused is not None and refused.code == "project_rpm_limit"

    asyncio.run(scenario())


def targets(**env: str) -> AzureTargets:
    return AzureTargets.from_settings(load_settings({"AZURE_OPENAI_API_KEY": "k" * 12, **env}), ENDPOINT + "/")


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, f"{ENDPOINT}/openai/v1/responses?api-version=preview"),
        ({"AZURE_OPENAI_RESPONSES_API_VERSION": "v1"}, f"{ENDPOINT}/openai/v1/responses?api-version=v1"),
        (
            {"AZURE_OPENAI_RESPONSES_API_VERSION": "2025-04-01-preview"},
            f"{ENDPOINT}/openai/responses?api-version=2025-04-01-preview",
        ),
    ],
)
def test_responses_url_per_api_version(env: dict[str, str], url: str) -> None:
    body = b'{"model":"gpt-5.3-codex","input":"hi"}'
    assert targets(**env).request("/v1/responses", "/v1/responses", "", body, orjson.loads(body)) == (url, body)


def test_embeddings_urls_and_alias_mapped_to_deployment() -> None:
    payload = {"model": "text-embedding-3-small", "input": ["a"]}
    dated = targets(GATEWAY_EMBEDDINGS_DEPLOYMENT="embed-prod")
    url, body = dated.request("/v1/embeddings", "/v1/embeddings", "", orjson.dumps(payload), payload)
    assert url == f"{ENDPOINT}/openai/deployments/embed-prod/embeddings?api-version=2024-10-21"
    assert orjson.loads(body) == {"model": "embed-prod", "input": ["a"]}
    v1 = targets(AZURE_OPENAI_EMBEDDINGS_API_VERSION="v1")
    url, body = v1.request("/v1/embeddings", "/embeddings", "", orjson.dumps(payload), payload)
    assert url == f"{ENDPOINT}/openai/v1/embeddings?api-version=v1"


def test_stored_response_routes_keep_the_client_query_but_not_its_api_version() -> None:
    t = targets()
    url, _ = t.request(
        "/v1/responses/{id}/input_items",
        "/v1/responses/resp_1/input_items",
        "limit=5&api-version=2020-01-01&order=asc",
        b"",
        None,
    )
    assert url == f"{ENDPOINT}/openai/v1/responses/resp_1/input_items?limit=5&order=asc&api-version=preview"
    assert t.request("/v1/responses/{id}", "/responses/resp_2", "", b"", None)[0] == (
        f"{ENDPOINT}/openai/v1/responses/resp_2?api-version=preview"
    )


@dataclass
class Token:
    token: str
    expires_on: int


class CountingCredential:
    def __init__(self, lifetime: int) -> None:
        self.calls = 0
        self.lifetime = lifetime

    async def get_token(self, scope: str) -> Token:
        assert scope == COGNITIVE_SERVICES_SCOPE
        self.calls += 1
        await asyncio.sleep(0.01)
        return Token(f"t{self.calls}", int(time.time()) + self.lifetime)


def test_entra_token_fetched_once_while_valid_and_refreshed_near_expiry() -> None:
    async def scenario() -> None:
        credential = CountingCredential(lifetime=3600)
        auth = EntraAuth(credential)
        results = await asyncio.gather(*(auth.headers() for _ in range(20)))
        assert credential.calls == 1 and all(r == {"authorization": "Bearer t1"} for r in results)
        short = CountingCredential(lifetime=200)  # inside the 5-minute margin: never served from cache
        auth = EntraAuth(short)
        await auth.headers()
        assert (await auth.headers()) == {"authorization": "Bearer t2"}

    asyncio.run(scenario())


def test_entra_redis_uses_the_managed_identity_and_only_over_tls() -> None:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    client_id = "00000000-0000-0000-0000-00000000c11d"
    assert redis_auth.REDIS_SCOPE == "https://redis.azure.com/.default"
    assert isinstance(redis_auth.redis_credential(client_id), ManagedIdentityCredential)
    assert isinstance(redis_auth.redis_credential(None), DefaultAzureCredential)
    limiter = build_limiter("rediss://r.redis.azure.net:10000", frozenset(), "entra", client_id)
    assert isinstance(limiter._store, RedisWindows)  # connects lazily: nothing is fetched yet
    with pytest.raises(ValueError, match="rediss://"):
        build_limiter("redis://r.redis.azure.net:10000", frozenset(), "entra", None)
    assert isinstance(build_limiter("", frozenset(), "none")._store, LocalWindows)


def test_credential_failure_names_only_the_innermost_type() -> None:
    from redis.auth.err import RequestTokenErr

    secret = "eyJhbGciOi.secret-token-text"
    wrapped = RequestTokenErr(RuntimeError(f"endpoint said {secret}"))
    assert redis_auth._cause(wrapped) == "RuntimeError"
    assert redis_auth._cause(ValueError(secret)) == "ValueError"


def test_one_requests_redis_keys_share_a_cluster_slot() -> None:
    # The limiter's script touches the project window and the project+model window at once; on a
    # clustered Redis (Azure Managed Redis) keys in different slots make it fail with CROSSSLOT.
    from redis.crc import key_slot

    keys = [redis_key("roo-team"), redis_key("roo-team:text-embedding-3-small")]
    assert keys == ["aigateway:rpm:{roo-team}", "aigateway:rpm:{roo-team}:text-embedding-3-small"]
    assert key_slot(keys[0].encode()) == key_slot(keys[1].encode())
    assert key_slot(redis_key("a").encode()) != key_slot(redis_key("b").encode()), "projects still spread"

"""Paths as clients send them, Qoder's credential header, the output-token ceiling, and the client settings."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from aigateway.client_config import render
from aigateway.proxy import output_cap, routes
from aigateway.proxy.keys import duplicated_credential, presented_key
from aigateway.proxy.rejection import Rejection
from aigateway.proxy.request_body import BodyReader
from aigateway.proxy.telemetry import RequestRecord
from aigateway.settings import load_settings

CODEX = "gpt-5.3-codex"
EMBED = "text-embedding-3-small"
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "name", "model"),
    [
        ("POST", "//v1/responses", "/v1/responses", None),  # Roo, base URL with a trailing slash
        ("POST", "/v1//responses", "/v1/responses", None),
        ("POST", "//responses", "/v1/responses", None),
        ("GET", "/v1//models", "/v1/models", None),
        ("POST", "/openai/v1/responses", "/v1/responses", None),
        ("POST", "/openai/responses", "/v1/responses", None),
        ("GET", "/openai/responses/resp_1", "/v1/responses/{id}", None),
        ("POST", "/openai/v1/embeddings", "/v1/embeddings", None),
        ("POST", f"/openai/deployments/{CODEX}/chat/completions", "/v1/chat/completions", CODEX),
        ("POST", f"/openai/deployments/{CODEX}/responses", "/v1/responses", CODEX),
        ("POST", f"/openai/deployments/{EMBED}/embeddings", "/v1/embeddings", EMBED),
        ("POST", f"/deployments/{CODEX}/chat/completions", "/v1/chat/completions", CODEX),  # AzureOpenAI + baseURL
        ("POST", f"//openai//deployments/{CODEX}/chat/completions", "/v1/chat/completions", CODEX),
    ],
)
def test_paths_clients_send_map_to_the_api_routes(method: str, path: str, name: str, model: str | None) -> None:
    match = routes.match(method, path)
    assert (match.kind, match.name, match.method_allowed, match.model) == ("api", name, True, model)


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", f"/openai/deployments/{CODEX}/chat/completions", "api"),  # known route, wrong method: 405
        ("POST", "/openai/chat/completions", "unknown"),  # not an Azure route
        ("POST", "/openai/deployments/a/b/chat/completions", "unknown"),
        ("POST", "/openai/deployments/x/completions", "unknown"),
        ("POST", "/openai/models/info", "unknown"),
        ("GET", "//v1/responses/..", "unknown"),
        ("POST", "//v1/v1/responses", "double_v1"),
    ],
)
def test_other_paths_stay_closed(method: str, path: str, kind: str) -> None:
    match = routes.match(method, path)
    assert match.kind == kind
    if kind == "api":
        assert not match.method_allowed


def test_qoder_x_api_key_is_a_credential() -> None:
    """Qoder CLI 1.1.52 (`B2e` in bundle/qodercli.js) sends `x-api-key` for `authType: "api-key"`: a 401 before."""
    assert presented_key({"x-api-key": " sk-q "}) == "sk-q"
    assert presented_key({"authorization": "Bearer b", "x-api-key": "q"}) == "b"
    assert duplicated_credential([(b"X-Api-Key", b"a"), (b"x-api-key", b"b")]) == "x-api-key"
    assert duplicated_credential([(b"x-api-key", b"a"), (b"api-key", b"b")]) is None


@pytest.mark.parametrize(
    ("route", "field", "value", "ceiling", "sent"),
    [
        ("/v1/responses", "max_output_tokens", 128000, 32000, 32000),  # Roo-Code v3.52.1 openai-native.ts
        ("/v1/responses", "max_output_tokens", 32000, 32000, 32000),  # Qoder's default: unchanged
        ("/v1/responses", "max_output_tokens", 500, 32000, 500),
        ("/v1/responses", "max_output_tokens", -1, 32000, 32000),  # "no limit"
        ("/v1/responses", "max_output_tokens", 0, 32000, 32000),
        ("/v1/responses", "max_output_tokens", 10**18, 32000, 32000),
        ("/v1/responses", "max_output_tokens", 64000.0, 32000, 32000),
        ("/v1/responses", "max_output_tokens", 100.0, 32000, 100),
        ("/v1/chat/completions", "max_tokens", 128000, 16000, 16000),
        ("/v1/chat/completions", "max_completion_tokens", -1, 16000, 16000),
        ("/v1/responses", "max_output_tokens", -1, None, "absent"),  # no ceiling: "no limit" = no field
        ("/v1/responses", "max_output_tokens", 128000, None, 128000),
        ("/v1/responses", "max_output_tokens", None, 32000, None),  # null = the model's default
        ("/v1/responses", "max_output_tokens", "lots", 32000, "lots"),  # Azure's to refuse
        ("/v1/responses", "max_output_tokens", True, 32000, True),
        ("/v1/embeddings", "max_output_tokens", 128000, 32000, 128000),
    ],
)
def test_clamp(route: str, field: str, value: Any, ceiling: int | None, sent: Any) -> None:
    payload = {"model": CODEX, field: value}
    changed = output_cap.clamp(route, payload, ceiling)
    assert payload.get(field, "absent") == sent
    assert changed == (payload.get(field, "absent") != value or type(payload.get(field)) is not type(value))


def reader(ceilings: dict[str, int] | None = None) -> BodyReader:
    return BodyReader(1 << 20, 5.0, frozenset({CODEX, EMBED}), frozenset({EMBED}), ceilings)


def record(route: str) -> RequestRecord:
    return RequestRecord(request_id="r1", route=route, method="POST")


def test_body_reader_sends_the_clamped_body_on() -> None:
    """The body later stages relay (and the Responses path re-serialises) carries the ceiling."""
    body = orjson.dumps({"model": CODEX, "input": "hi", "max_output_tokens": 128000})
    got = reader({CODEX: 32000}).parse(body, JSON, "/v1/responses", record("/v1/responses"))
    assert not isinstance(got, Rejection)
    sent, payload = got
    assert payload is not None and payload["max_output_tokens"] == 32000
    assert orjson.loads(sent)["max_output_tokens"] == 32000


def test_chat_minus_one_is_clamped_not_refused() -> None:
    """The chat allow-list refuses max_tokens below 1; the ceiling comes first, so -1 is not a 400."""
    body = orjson.dumps({"model": CODEX, "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1})
    got = reader({CODEX: 32000}).parse(body, JSON, "/v1/chat/completions", record("/v1/chat/completions"))
    assert not isinstance(got, Rejection), got
    assert got[1] is not None and got[1]["max_tokens"] == 32000


def test_unchanged_body_is_relayed_as_sent() -> None:
    body = b'{"model": "gpt-5.3-codex", "input": "hi", "max_output_tokens": 100}'
    got = reader({CODEX: 32000}).parse(body, JSON, "/v1/responses", record("/v1/responses"))
    assert not isinstance(got, Rejection) and got[0] == body


@pytest.mark.parametrize("body_model", [None, CODEX, "something-else"])
def test_the_deployment_path_names_the_model(body_model: str | None) -> None:
    payload: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    if body_model is not None:
        payload["model"] = body_model
    rec = record("/v1/chat/completions")
    got = reader().parse(orjson.dumps(payload), JSON, "/v1/chat/completions", rec, path_model=CODEX)
    assert not isinstance(got, Rejection), got
    assert orjson.loads(got[0])["model"] == CODEX and rec.model == CODEX


def test_a_deployment_that_is_no_alias_is_unknown() -> None:
    body = orjson.dumps({"input": ["x"]})
    got = reader().parse(body, JSON, "/v1/embeddings", record("/v1/embeddings"), path_model="not-an-alias")
    assert isinstance(got, Rejection) and got.status == 404


def test_output_ceilings_from_settings() -> None:
    extra = [
        {"alias": "gpt-5.1-codex-max", "deployment": "max", "kind": "responses", "max_output_tokens": 64000},
        {"alias": "gpt-5.1-codex-mini", "deployment": "mini", "kind": "responses"},
        {"alias": "text-embedding-3-large", "deployment": "large", "kind": "embeddings"},
    ]
    env = {"GATEWAY_EXTRA_MODELS": json.dumps(extra)}
    ceilings = load_settings(env).output_ceilings()
    assert ceilings == {CODEX: 32000, "gpt-5.1-codex-max": 64000, "gpt-5.1-codex-mini": 32000}
    assert load_settings({**env, "GATEWAY_MAX_OUTPUT_TOKENS": "0"}).output_ceilings() == {"gpt-5.1-codex-max": 64000}


def test_client_config_qoder_provider_block() -> None:
    text = render("qoder", "https://gw.example/", CODEX, EMBED)
    block = json.loads(text[text.index("{") :])
    provider = block["providers"]["pvc-gateway"]
    assert provider["protocol"] == "openai-responses"
    assert provider["baseUrl"] == "https://gw.example/v1"  # Qoder appends only /responses
    assert provider["apiKey"] == "${AIGATEWAY_KEY}"
    model = provider["models"][0]
    assert model["model"] == CODEX and model["contextWindow"] == 400000 and model["maxOutputTokens"] == 32000
    assert model["capabilities"]["thinking"]["supportedEffortLevels"] == ["low", "medium", "high", "xhigh"]
    assert "signed-in Qoder account" in text and "BYOK" in text


def test_client_config_roo_names_the_indexing_prerequisites() -> None:
    text = render("roo", "https://gw.example", CODEX, EMBED)
    assert "Qdrant URL" in text and "Qdrant API Key" in text

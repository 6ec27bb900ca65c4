"""Route families, api-version rules, authentication, routing errors and Azure's headers."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from aigateway.emulator import errors

from .conftest import AUTH, DATED, KEY, RESPONSES_DATED

EMBED = {"model": "text-embedding-3-small", "input": "hello"}
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9.c2lnbmF0dXJl"


def test_every_response_carries_azure_request_headers_and_echoes_client_request_id(client: TestClient) -> None:
    r = client.post("/openai/v1/embeddings", json=EMBED, headers={**AUTH, "x-ms-client-request-id": "my-id-1"})
    assert r.status_code == 200
    uuid.UUID(r.headers["apim-request-id"])
    assert r.headers["x-request-id"] == r.headers["apim-request-id"]
    assert r.headers["x-ms-region"] == "South Africa North"
    assert r.headers["x-ms-client-request-id"] == "my-id-1"
    # Errors carry them too, including unknown paths handled outside the API pipeline.
    for resp in (client.post("/openai/v1/embeddings", json=EMBED), client.get("/openai/nope")):
        assert "apim-request-id" in resp.headers
        assert "x-ms-region" in resp.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"api-key": "wrong"},
        {"authorization": "Bearer wrong"},
        {"authorization": "Basic " + KEY},
        {"authorization": "Bearer a.b"},  # two parts is not a JWT
    ],
)
def test_bad_or_missing_key_gets_azures_exact_401(client: TestClient, headers: dict[str, str]) -> None:
    r = client.post("/openai/v1/embeddings", json=EMBED, headers=headers)
    assert r.status_code == 401
    assert r.content == (
        b'{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. '
        b"Make sure to provide a valid key for an active subscription and use a correct regional API endpoint "
        b'for your resource."}}'
    )
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


def test_bearer_key_works_on_v1_only_and_jwt_works_on_both(client: TestClient) -> None:
    bearer_key = {"authorization": f"Bearer {KEY}"}
    bearer_jwt = {"authorization": f"Bearer {JWT}"}
    dated = f"/openai/deployments/text-embedding-3-small/embeddings?api-version={DATED}"
    assert client.post("/openai/v1/embeddings", json=EMBED, headers=bearer_key).status_code == 200
    assert client.post(dated, json=EMBED, headers=bearer_key).status_code == 401
    assert client.post(dated, json=EMBED, headers=bearer_jwt).status_code == 200
    assert client.post("/openai/v1/embeddings", json=EMBED, headers=bearer_jwt).status_code == 200
    assert client.post(dated, json=EMBED, headers=AUTH).status_code == 200


@pytest.mark.parametrize("version", [None, "v1", "preview", "latest"])
def test_v1_api_version_is_optional_and_accepts_v1_values(client: TestClient, version: str | None) -> None:
    params = {"api-version": version} if version else {}
    r = client.post("/openai/v1/embeddings", json=EMBED, headers=AUTH, params=params)
    assert r.status_code == 200


def test_v1_rejects_a_dated_api_version(client: TestClient) -> None:
    r = client.post("/openai/v1/embeddings", json=EMBED, headers=AUTH, params={"api-version": "2020-01-01"})
    assert r.status_code == 400
    assert r.json() == errors.API_VERSION_NOT_SUPPORTED


@pytest.mark.parametrize(
    ("version", "status", "body"),
    [
        (None, 404, b'{"error":{"code":"404","message":"Resource not found"}}'),
        ("preview", 404, b'{"error":{"code":"404","message":"Resource not found"}}'),
        ("2099-01-01", 400, b'{"error":{"code":"BadRequest","message":"API version not supported"}}'),
    ],
)
def test_dated_api_version_is_required_and_validated(
    client: TestClient, version: str | None, status: int, body: bytes
) -> None:
    url = "/openai/deployments/text-embedding-3-small/embeddings"
    params = {"api-version": version} if version else {}
    r = client.post(url, json=EMBED, headers=AUTH, params=params)
    assert (r.status_code, r.content) == (status, body)


def test_responses_on_dated_path_needs_2025_03_01_preview_or_later(client: TestClient) -> None:
    body = {"model": "gpt-4o", "input": "hi"}
    old = client.post("/openai/responses", json=body, headers=AUTH, params={"api-version": "2024-10-21"})
    assert old.status_code == 400
    assert old.json()["error"]["message"] == (
        "Azure OpenAI Responses API is enabled only for api-version 2025-03-01-preview and later"
    )
    ok = client.post("/openai/responses", json=body, headers=AUTH, params={"api-version": RESPONSES_DATED})
    assert ok.status_code == 200
    by_path = client.post(
        "/openai/deployments/gpt-5.3-codex/responses",
        json={"input": "hi"},
        headers=AUTH,
        params={"api-version": RESPONSES_DATED},
    )
    assert by_path.status_code == 200
    assert by_path.json()["model"] == "gpt-5.3-codex-2026-02-24"
    # Seen on real Azure: gpt-5.3-codex refuses the first Responses preview.
    codex_first = client.post(
        "/openai/responses",
        json={"model": "gpt-5.3-codex", "input": "hi"},
        headers=AUTH,
        params={"api-version": "2025-03-01-preview"},
    )
    assert codex_first.json() == errors.API_VERSION_NOT_SUPPORTED


def test_unknown_deployment_gets_deployment_not_found(client: TestClient) -> None:
    dated = client.post(f"/openai/deployments/nope/embeddings?api-version={DATED}", json={"input": "x"}, headers=AUTH)
    v1 = client.post("/openai/v1/responses", json={"model": "nope", "input": "x"}, headers=AUTH)
    for r in (dated, v1):
        assert r.status_code == 404
        assert r.content == (
            b'{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not '
            b"exist. If you created the deployment within the last 5 minutes, please wait a moment and try "
            b'again."}}'
        )


def test_chat_on_responses_only_model_names_the_model_not_the_deployment(config, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    from aigateway.emulator import Deployment

    config.deployments["gpt5.3"] = Deployment(
        model="gpt-5.3-codex", kind="responses", model_version="2026-02-24", reasoning=True
    )
    msgs = {"messages": [{"role": "user", "content": "hi"}]}
    dated = client.post(f"/openai/deployments/gpt5.3/chat/completions?api-version={DATED}", json=msgs, headers=AUTH)
    assert dated.status_code == 400
    assert dated.content == (
        b'{"error":{"code":"OperationNotSupported","message":"The chatCompletion operation does not work with the '
        b"specified model, gpt-5.3-codex. Please choose different model and try again. You can learn more about "
        b'which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993."}}'
    )
    v1 = client.post("/openai/v1/chat/completions", json={"model": "gpt5.3", **msgs}, headers=AUTH)
    assert (v1.status_code, v1.content) == (400, b'{"error":{"message":"The requested operation is unsupported."}}')


def test_embeddings_on_a_chat_model_is_operation_not_supported(client: TestClient) -> None:
    r = client.post(f"/openai/deployments/gpt-4o/embeddings?api-version={DATED}", json={"input": "x"}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith(
        "The embeddings operation does not work with the specified model, gpt-4o."
    )


def test_unknown_paths_and_methods_answer_in_azure_shape(client: TestClient) -> None:
    r = client.post("/openai/v1/completions", json={}, headers=AUTH)
    assert (r.status_code, r.json()) == (404, {"error": {"code": "404", "message": "Resource not found"}})
    r = client.get("/openai/v1/embeddings", headers=AUTH)
    assert r.status_code == 405
    assert "error" in r.json()


def test_invalid_json_body_is_a_400(client: TestClient) -> None:
    r = client.post("/openai/v1/embeddings", content=b"{not json", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_models_lists_the_deployments(client: TestClient) -> None:
    r = client.get("/openai/v1/models", headers=AUTH)
    ids = {m["id"] for m in r.json()["data"]}
    assert {"gpt-5.3-codex", "gpt-4o", "text-embedding-3-small", "text-embedding-3-large"} <= ids
    assert client.get("/openai/v1/models").status_code == 401

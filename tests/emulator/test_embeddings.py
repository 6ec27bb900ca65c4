"""Embeddings: deterministic unit vectors, encodings, dimensions, Azure's limits, and speed."""

from __future__ import annotations

import base64
import math
import struct
import time

import pytest
from starlette.testclient import TestClient

from aigateway.emulator import embeddings, errors
from aigateway.emulator.config import default_deployments

from .conftest import AUTH, DATED

URL = f"/openai/deployments/text-embedding-3-small/embeddings?api-version={DATED}"


def embed(client: TestClient, url: str = URL, **body: object) -> dict:  # type: ignore[type-arg]
    r = client.post(url, json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def decode(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def test_float_vectors_are_deterministic_unit_vectors(client: TestClient) -> None:
    first = embed(client, input=["alpha", "beta", "alpha"])
    vectors = [d["embedding"] for d in first["data"]]
    assert [d["index"] for d in first["data"]] == [0, 1, 2]
    assert all(len(v) == 1536 for v in vectors)
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    assert math.isclose(math.fsum(x * x for x in vectors[0]), 1.0, rel_tol=1e-4)
    again = embed(client, input="alpha")
    assert again["data"][0]["embedding"] == vectors[0]
    assert first["model"] == "text-embedding-3-small"
    assert first["object"] == "list"


def test_base64_decodes_to_little_endian_float32_of_the_right_dimension(client: TestClient) -> None:
    b64 = embed(client, input=["alpha"], encoding_format="base64")["data"][0]["embedding"]
    floats = embed(client, input=["alpha"])["data"][0]["embedding"]
    decoded = decode(b64)
    assert len(decoded) == 1536
    assert decoded == pytest.approx(floats, abs=1e-7)
    large = embed(
        client, url="/openai/v1/embeddings", model="text-embedding-3-large", input="x", encoding_format="base64"
    )
    assert len(decode(large["data"][0]["embedding"])) == 3072


def test_dimensions_honoured_for_3_models_only(client: TestClient, config) -> None:  # type: ignore[no-untyped-def]
    small = embed(client, input="x", dimensions=256, encoding_format="base64")
    vec = decode(small["data"][0]["embedding"])
    assert len(vec) == 256
    assert math.isclose(math.fsum(v * v for v in vec), 1.0, rel_tol=1e-4)
    too_big = client.post(URL, json={"input": "x", "dimensions": 4000}, headers=AUTH)
    assert too_big.status_code == 400
    assert too_big.json()["error"]["param"] == "dimensions"
    from aigateway.emulator import Deployment

    config.deployments["ada"] = Deployment(model="text-embedding-ada-002", kind="embeddings", dimensions=1536)
    ada = client.post("/openai/v1/embeddings", json={"model": "ada", "input": "x", "dimensions": 256}, headers=AUTH)
    assert ada.status_code == 400


def test_token_array_inputs_and_usage(client: TestClient) -> None:
    body = embed(client, input=[[1, 2, 3], [4, 5]])
    assert len(body["data"]) == 2
    assert body["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    body = embed(client, input="a" * 10)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_more_than_2048_inputs_is_azures_400(client: TestClient) -> None:
    r = client.post(URL, json={"input": ["x"] * 2049}, headers=AUTH)
    assert r.status_code == 400
    assert r.content == (
        b'{"error":{"message":"Too many inputs. The max number of inputs is 2048.  We hope to increase the number '
        b"of inputs per request soon. Please contact us through an Azure support request at: "
        b'https://go.microsoft.com/fwlink/?linkid=2213926 for further questions.","type":"invalid_request_error",'
        b'"param":null,"code":null}}'
    )
    assert client.post(URL, json={"input": ["x"] * 2048}, headers=AUTH).status_code == 200


def test_an_item_over_8192_tokens_is_azures_400(client: TestClient) -> None:
    r = client.post(URL, json={"input": ["ok", "a" * (8193 * 4)]}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "This model's maximum context length is 8192 tokens, however you requested 8193 tokens (8193 in your "
        "prompt; 0 for the completion). Please reduce your prompt; or completion length."
    )
    assert client.post(URL, json={"input": "a" * (8192 * 4)}, headers=AUTH).status_code == 200


@pytest.mark.parametrize("bad", ["", [], [""], ["ok", ""], None, 5, [{"x": 1}]])
def test_empty_or_malformed_input_is_rejected(client: TestClient, bad: object) -> None:
    r = client.post(URL, json={"input": bad}, headers=AUTH)
    assert (r.status_code, r.json()) == (400, errors.INVALID_INPUT)


def test_bad_encoding_format(client: TestClient) -> None:
    r = client.post(URL, json={"input": "x", "encoding_format": "int8"}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "encoding_format"


def test_a_60_item_base64_batch_is_fast() -> None:
    dep = default_deployments()["text-embedding-3-small"]
    body = {"input": [f"segment {i} " + "x" * 1000 for i in range(60)], "encoding_format": "base64"}
    embeddings.create(body, dep)  # builds the vector pool once
    start = time.perf_counter()
    for _ in range(20):
        embeddings.create(body, dep)
    per_request_ms = (time.perf_counter() - start) / 20 * 1000
    assert per_request_ms < 5, per_request_ms  # ~1 ms on a laptop; the bound leaves room for slow CI

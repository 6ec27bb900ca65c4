"""Client auth on every API route, in each header form; probes open; every other route closed."""

from __future__ import annotations

import socket

import httpx
import pytest

from aigateway.launcher import GatewayProcess
from tests.helpers import TEAM_A_KEY, TEAM_B_KEY, Emulator, request_lines

pytestmark = pytest.mark.e2e

API_CALLS = [
    ("POST", "/v1/responses", {"model": "gpt-5.3-codex", "input": "hi"}),
    ("POST", "/responses", {"model": "gpt-5.3-codex", "input": "hi"}),
    ("POST", "/v1/chat/completions", {"model": "gpt-5.3-codex", "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/chat/completions", {"model": "gpt-5.3-codex", "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}),
    ("POST", "/embeddings", {"model": "text-embedding-3-small", "input": "hi"}),
    ("GET", "/v1/models", None),
    ("GET", "/models", None),
    ("GET", "/v1/responses/resp_123", None),
]


def call(gateway: GatewayProcess, method: str, path: str, body: object, headers: dict[str, str]) -> httpx.Response:
    return httpx.request(method, gateway.url + path, json=body, headers=headers, timeout=60)


@pytest.mark.parametrize(("method", "path", "body"), API_CALLS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer sk-wrong-key-0000000"},
        {"x-gateway-key": "nope"},
        {"api-key": TEAM_A_KEY + "x"},
        {"authorization": TEAM_A_KEY},
    ],
    ids=["missing", "wrong-bearer", "wrong-x-gateway-key", "wrong-api-key", "bearer-without-scheme"],
)
def test_missing_or_wrong_key_is_401_json(
    gateway: GatewayProcess, emulator: Emulator, method: str, path: str, body: object, headers: dict[str, str]
) -> None:
    response = call(gateway, method, path, body, headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert not [r for r in emulator.requests() if r["path"].startswith("/openai/")], "Azure must not be called"


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {TEAM_A_KEY}"},
        {"x-gateway-key": TEAM_A_KEY},
        {"api-key": TEAM_A_KEY},
        {"authorization": f"bearer {TEAM_A_KEY}"},
    ],
    ids=["bearer", "x-gateway-key", "api-key", "lower-case-bearer"],
)
@pytest.mark.parametrize(("method", "path", "body"), [c for c in API_CALLS if c[1] != "/v1/responses/resp_123"])
def test_each_header_form_is_accepted(
    gateway: GatewayProcess, method: str, path: str, body: object, headers: dict[str, str]
) -> None:
    response = call(gateway, method, path, body, headers)
    assert response.status_code == 200, response.text


def test_project_is_attached_per_key_and_never_the_key(gateway: GatewayProcess) -> None:
    for key in (TEAM_A_KEY, TEAM_B_KEY):
        response = call(gateway, "GET", "/v1/models", None, {"authorization": f"Bearer {key}"})
        assert response.status_code == 200
    output = gateway.output()
    lines = request_lines(output)
    by_id = {line["project"] for line in lines if line["route"] == "/v1/models" and line["status"] == 200}
    assert {"team-a", "team-b"} <= by_id
    assert TEAM_A_KEY not in output and TEAM_B_KEY not in output


@pytest.mark.parametrize("path", ["/health/liveliness", "/health/liveness", "/health/readiness"])
def test_probes_need_no_key_and_never_call_azure(gateway: GatewayProcess, emulator: Emulator, path: str) -> None:
    response = httpx.get(gateway.url + path, timeout=10)
    assert response.status_code == 200
    assert not emulator.requests()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/ui/",
        "/health",
        "/key/generate",
        "/model/new",
        "/metrics",
        "/user/info",
        "/v1/files",
        "/spend/logs",
        "/sso/key/generate",
        "/v1/model/info",  # LiteLLM's route, gone with its proxy app (it showed the Azure endpoint)
        "/model/info",
        "/v1/model/info/../../key/list",
    ],
)
@pytest.mark.parametrize("with_key", [False, True])
def test_every_other_route_is_closed(gateway: GatewayProcess, emulator: Emulator, path: str, with_key: bool) -> None:
    headers = {"authorization": f"Bearer {TEAM_A_KEY}"} if with_key else {}
    for method in ("GET", "POST"):
        response = httpx.request(method, gateway.url + path, headers=headers, timeout=10)
        assert response.status_code in (404, 405), (method, path, response.status_code)
        assert "error" in response.json()
    assert not emulator.requests()


@pytest.mark.parametrize("raw_path", ["/v1/responses/..", "/v1/responses/%2e%2e", "/v1/responses/x%2F..%2F..%2Fmodels"])
def test_response_ids_cannot_walk_to_other_azure_routes(
    gateway: GatewayProcess, emulator: Emulator, raw_path: str
) -> None:
    # Sent byte for byte (HTTP clients normalise `..` away): the id is relayed into Azure's URL, with our key.
    host, port = gateway.url.removeprefix("http://").split(":")
    request = (
        f"GET {raw_path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TEAM_A_KEY}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0].split()[1] == b"404", answer[:200]
    request_id = next(
        line.split(b":", 1)[1].strip().decode()
        for line in answer.split(b"\r\n")
        if line.lower().startswith(b"x-request-id")
    )
    line = next(entry for entry in request_lines(gateway.output()) if entry["request_id"] == request_id)
    assert (line["route"], line["attempts"]) == ("other", 0), "refused by the front; Azure never asked"

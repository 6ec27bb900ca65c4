"""Strict mode over HTTP: each rule answers Azure's 400, correct bodies still pass, and strict=False accepts all.

The bodies are what real clients sent when Azure answered these 400s (sources in docs/emulator.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from openai import OpenAI

from aigateway.emulator import Deployment, EmulatorConfig
from aigateway.emulator.sealing import ReasoningSealer
from aigateway.emulator.server import start_in_thread

from .conftest import AUTH, KEY

CODEX = "gpt-5.3-codex"
CODEX_MODEL = "gpt-5.3-codex-2026-02-24"
NOT_PERSISTED = (
    "Item with id '{}' not found. Items are not persisted when `store` is set to false. Try again with `store` "
    "set to true, or remove this item from your input."
)
TOOL = {
    "type": "function",
    "name": "read_file",
    "description": "Read a file.",
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    },
    "strict": True,
}
USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
# Signed by a key no emulator instance holds: a blob from another Azure resource.
FOREIGN_BLOB = ReasoningSealer().seal(CODEX)


def _error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _below_min(param: str, minimum: int, value: int) -> dict[str, Any]:
    return _error(
        f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
        param,
        "integer_below_min_value",
    )


def _unsupported_value(param: str, value: str, supported: str) -> dict[str, Any]:
    return _error(
        f"Unsupported value: '{value}' is not supported with the '{CODEX_MODEL}' model. Supported values are: "
        f"{supported}.",
        param,
        "unsupported_value",
    )


def _empty(param: str) -> dict[str, Any]:
    return _error(
        f"Invalid '{param}': empty string. Expected a string with minimum length 1, but got an empty string instead.",
        param,
        "empty_string",
    )


# (case id, extra body fields for gpt-5.3-codex on /openai/v1/responses, Azure's exact 400 body)
RESPONSES_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "unknown top-level parameter (Codex's client_metadata)",
        {"client_metadata": {"turn_id": "t"}},
        _error("Unknown parameter: 'client_metadata'.", "client_metadata", "unknown_parameter"),
    ),
    (
        "unknown item parameter",
        {"input": [USER, USER, USER, {**USER, "metadata": {"k": "v"}}]},
        _error("Unknown parameter: 'input[3].metadata'.", "input[3].metadata", "unknown_parameter"),
    ),
    (
        "unknown key on an easy message",
        {"input": [{"role": "user", "content": "hi", "internal_chat_message_metadata_passthrough": {}}]},
        _error(
            "Unknown parameter: 'input[0].internal_chat_message_metadata_passthrough'.",
            "input[0].internal_chat_message_metadata_passthrough",
            "unknown_parameter",
        ),
    ),
    ("empty tool description", {"tools": [{**TOOL, "description": ""}]}, _empty("tools[0].description")),
    ("empty tool name", {"tools": [TOOL, {**TOOL, "name": ""}]}, _empty("tools[1].name")),
    (
        "empty description of a namespace tool",
        {"tools": [{"type": "namespace", "name": "functions", "description": "", "tools": [TOOL]}]},
        _empty("tools[0].description"),
    ),
    (
        "text.verbosity the codex model does not support",
        {"text": {"verbosity": "low"}},
        _unsupported_value("text.verbosity", "low", "'medium'"),
    ),
    (
        "reasoning.effort the codex model does not support",
        {"reasoning": {"effort": "none"}},
        _unsupported_value("reasoning.effort", "none", "'low', 'medium', 'high', and 'xhigh'"),
    ),
    (
        "prompt_cache_retention on a model without extended caching",
        {"prompt_cache_retention": "24h"},
        _error(
            "prompt_cache_retention is not supported on this model", "prompt_cache_retention", "unsupported_parameter"
        ),
    ),
    (
        "service_tier the deployment does not offer",
        {"service_tier": "priority"},
        _unsupported_value("service_tier", "priority", "'auto' and 'default'"),
    ),
    ("max_output_tokens below the minimum", {"max_output_tokens": -1}, _below_min("max_output_tokens", 16, -1)),
    (
        "store:false reasoning item without id",
        {
            "store": False,
            "input": [USER, USER, {"type": "reasoning", "summary": [], "encrypted_content": FOREIGN_BLOB}],
        },
        _error("Missing required parameter: 'input[2].id'.", "input[2].id", "missing_required_parameter"),
    ),
    (
        "store:false message with an id",
        {"store": False, "input": [{**USER, "id": "msg_123"}]},
        _error(NOT_PERSISTED.format("msg_123"), "input", None),
    ),
    (
        "store:false function_call and output with ids",
        {
            "store": False,
            "input": [
                USER,
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "read_file", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "x"},
            ],
        },
        _error(NOT_PERSISTED.format("fc_1"), "input", None),
    ),
    (
        "store:false reasoning item from another resource",
        {
            "store": False,
            "input": [USER, {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": FOREIGN_BLOB}],
        },
        _error(
            f"The encrypted content {FOREIGN_BLOB[:4]}...{FOREIGN_BLOB[-4:]} could not be verified.",
            None,
            "invalid_encrypted_content",
        ),
    ),
]
# Refused by the lenient emulator too (the references it always refused), so not part of the strict=False check.
ALWAYS_REFUSED = [
    (
        "store:false reasoning item without encrypted_content",
        {"store": False, "input": [USER, {"type": "reasoning", "id": "rs_1", "summary": []}]},
        _error(NOT_PERSISTED.format("rs_1"), "input", None),
    ),
    (
        "store:false item_reference",
        {"store": False, "input": [{"type": "item_reference", "id": "msg_9"}]},
        _error(NOT_PERSISTED.format("msg_9"), "input", None),
    ),
]
CHAT_CASES = [
    ("max_tokens", 0),
    ("max_completion_tokens", -1),  # Roo's default chat request
]


@pytest.fixture(scope="module")
def lenient_url() -> Iterator[str]:
    url, stop = start_in_thread("127.0.0.1", 0, EmulatorConfig(strict=False))
    try:
        yield url
    finally:
        stop()


def _responses(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/openai/v1/responses", json={"model": CODEX, "input": "hi", **body}, headers=AUTH)


def _ids(cases: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    return [c[0] for c in cases]


@pytest.mark.parametrize(
    ("case", "body", "expected"), RESPONSES_CASES + ALWAYS_REFUSED, ids=_ids(RESPONSES_CASES + ALWAYS_REFUSED)
)
def test_each_rule_answers_azures_400(live: str, case: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    r = _responses(live, body)
    assert r.status_code == 400, case
    assert r.json() == expected
    assert "retry-after" not in r.headers


@pytest.mark.parametrize(("case", "body", "expected"), RESPONSES_CASES, ids=_ids(RESPONSES_CASES))
def test_strict_false_accepts_them(lenient_url: str, case: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    r = _responses(lenient_url, body)
    assert r.status_code == 200, (case, r.text)


@pytest.mark.parametrize(("param", "value"), CHAT_CASES)
@pytest.mark.parametrize(
    "path", ["/openai/v1/chat/completions", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"]
)
def test_chat_token_limits_below_one(live: str, lenient_url: str, path: str, param: str, value: int) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], param: value}
    r = httpx.post(f"{live}{path}", json=body, headers=AUTH)
    assert r.status_code == 400
    assert r.json() == _below_min(param, 1, value)
    assert httpx.post(f"{lenient_url}{path}", json=body, headers=AUTH).status_code == 200
    assert httpx.post(f"{live}{path}", json={**body, param: 1}, headers=AUTH).status_code == 200


def test_values_inside_the_limits_pass(live: str) -> None:
    ok = {
        "text": {"verbosity": "medium"},
        "reasoning": {"effort": "xhigh", "summary": "auto"},
        "service_tier": "auto",
        "max_output_tokens": 16,
        "prompt_cache_key": "k",
        "include": ["reasoning.encrypted_content"],
        "tools": [TOOL],
        "metadata": {"k": "v"},
        "parallel_tool_calls": True,
        "tool_choice": "auto",
    }
    assert _responses(live, ok).status_code == 200
    # gpt-4o is no codex model: the three verbosities.
    gpt4o = httpx.post(
        f"{live}/openai/v1/responses",
        json={"model": "gpt-4o", "input": "hi", "text": {"verbosity": "low"}},
        headers=AUTH,
    )
    assert gpt4o.status_code == 200


def test_an_effort_that_is_no_effort_keeps_invalid_value(live: str) -> None:
    r = _responses(live, {"reasoning": {"effort": "max"}})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_value"


def test_codex_style_stateless_replay_passes(live: str) -> None:
    """Codex's three-turn tool loop with store:false, replayed as Azure accepts it (azure-sdk-for-net #59967):
    reasoning items keep their id and this resource's encrypted_content; no ids anywhere else."""
    client = OpenAI(base_url=f"{live}/openai/v1", api_key=KEY, max_retries=0, timeout=10)
    common: dict[str, Any] = {
        "model": CODEX,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "medium", "summary": "auto"},
        "tools": [TOOL],
        "instructions": "You are a coding agent.",
    }
    history: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": "read it [[call:read_file]]"}]
    first = client.responses.create(input=history, **common)
    reasoning, call = first.output
    assert reasoning.type == "reasoning"
    assert call.type == "function_call"
    history += [
        {
            "type": "reasoning",
            "id": reasoning.id,
            "summary": [s.model_dump() for s in reasoning.summary],
            "encrypted_content": reasoning.encrypted_content,
        },
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "file body"},
    ]
    second = client.responses.create(input=history, **common)
    assert second.status == "completed"
    assert second.output[-1].type == "message"
    third_reasoning = second.output[0]
    history += [
        {
            "type": "reasoning",
            "id": third_reasoning.id,
            "summary": [],
            "encrypted_content": third_reasoning.encrypted_content,
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": second.output_text}]},
        {"type": "message", "role": "user", "content": "thanks"},
    ]
    third = client.responses.create(input=history, stream=True, **common)
    assert [e.type for e in third][-1] == "response.completed"


def test_store_true_allows_ids_on_items(live: str) -> None:
    body = {"store": True, "input": [{**USER, "id": "msg_1"}, {"type": "reasoning", "id": "rs_1", "summary": []}]}
    assert _responses(live, body).status_code == 200


def test_deployment_fields_come_from_emulator_deployments_and_strict_from_env() -> None:
    spec = {
        "codex-strict": {
            "model": "gpt-5.2-codex",
            "kind": "responses",
            "reasoning": True,
            "verbosities": ["medium"],
            "efforts": ["high"],
            "prompt_cache_retention": ["in_memory", "24h"],
            "service_tiers": ["auto", "default", "priority"],
            "min_output_tokens": 1,
        }
    }
    config = EmulatorConfig.from_env({"EMULATOR_DEPLOYMENTS": orjson.dumps(spec).decode()})
    assert config.strict is True
    dep = config.deployments["codex-strict"]
    assert dep.efforts == ["high"]
    assert dep.prompt_cache_retention == ["in_memory", "24h"]
    assert dep.min_output_tokens == 1
    assert Deployment(model="m", kind="chat").service_tiers == ["auto", "default"]
    assert EmulatorConfig.from_env({"EMULATOR_STRICT": "false"}).strict is False
    assert EmulatorConfig.from_env({"EMULATOR_STRICT": "1"}).strict is True
    with pytest.raises(ValueError, match="EMULATOR_STRICT"):
        EmulatorConfig.from_env({"EMULATOR_STRICT": "sometimes"})


def test_configured_deployment_enforces_its_own_lists() -> None:
    deployments = {
        "codex": Deployment(
            model="gpt-5.2-codex",
            kind="responses",
            model_version="2026-01-14",
            reasoning=True,
            efforts=["high"],
            prompt_cache_retention=["24h"],
        )
    }
    url, stop = start_in_thread("127.0.0.1", 0, EmulatorConfig(deployments=deployments))
    try:

        def post(**body: Any) -> httpx.Response:
            return httpx.post(
                f"{url}/openai/v1/responses", json={"model": "codex", "input": "hi", **body}, headers=AUTH
            )

        assert post(prompt_cache_retention="24h").status_code == 200
        refused = post(prompt_cache_retention="in_memory").json()["error"]
        assert refused["code"] == "unsupported_value"
        assert refused["message"] == (
            "Unsupported value: 'in_memory' is not supported with the 'gpt-5.2-codex-2026-01-14' model. Supported "
            "values are: '24h'."
        )
        assert post(reasoning={"effort": "medium"}).json()["error"]["param"] == "reasoning.effort"
        assert post(reasoning={"effort": "high"}).status_code == 200
    finally:
        stop()


def test_blobs_verify_only_on_the_instance_that_made_them() -> None:
    mine = ReasoningSealer()
    blob = mine.seal(CODEX)
    assert blob.startswith("gAAAAA")
    assert mine.verify(blob)
    assert not ReasoningSealer().verify(blob)
    assert not mine.verify(blob[:-4] + ("AAAA" if not blob.endswith("AAAA") else "BBBB"))
    assert not mine.verify("gAAAAA!!not base64")
    assert not mine.verify(None)

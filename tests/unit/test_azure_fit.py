"""Fitting requests to what Azure accepts: each rule on the shape the real client sends (Codex 0.169 measured
through the gateway; Roo's native and chat requests from shared/facts/clients.md)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from aigateway.proxy import azure_fit
from aigateway.proxy.model_profile import CODEX, OPEN, ModelProfile, default_profile, nearest_effort
from aigateway.proxy.rejection import Rejection
from aigateway.proxy.request_body import BodyReader
from aigateway.proxy.telemetry import RequestRecord


def codex_second_turn() -> dict[str, Any]:
    """Codex 0.169's second request of a tool loop, as the emulator recorded it (texts shortened)."""
    return {
        "model": "gpt-5.3-codex",
        "input": [
            {
                "type": "message",
                "id": "msg_76adf687-e9b1",
                "role": "developer",
                "content": [{"type": "input_text", "text": "be brief"}],
            },
            {
                "type": "message",
                "id": "msg_01a22d19-dc1b",
                "role": "user",
                "content": [{"type": "input_text", "text": "list files"}],
            },
            {"type": "reasoning", "id": "rs_89fd", "summary": [], "content": None, "encrypted_content": "gAAAAAblob"},
            {
                "type": "function_call",
                "status": "completed",
                "id": "fc_c793",
                "name": "exec_command",
                "arguments": "{}",
                "call_id": "call_f9c6",
            },
            {"type": "function_call_output", "id": "fco_01a22d19", "call_id": "call_f9c6", "output": "a.txt"},
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "description": "Run", "parameters": {}, "strict": False},
            {
                "type": "namespace",
                "name": "multi_agent_v1",
                "description": "",
                "tools": [{"type": "function", "name": "spawn", "description": ""}],
            },
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "01a22d19-dbe1",
        "client_metadata": {"session": "01a22d19"},
    }


def test_codex_stateless_replay_keeps_only_what_azure_can_resolve() -> None:
    body = codex_second_turn()
    changed = azure_fit.fit("/v1/responses", body, CODEX)
    items = body["input"]
    assert [i["type"] for i in items] == ["message", "message", "reasoning", "function_call", "function_call_output"]
    assert items[2]["id"] == "rs_89fd" and items[2]["encrypted_content"] == "gAAAAAblob", "the blob needs its id"
    assert all("id" not in i for i in items if i["type"] != "reasoning"), "no ids elsewhere under store:false"
    assert "client_metadata" not in body and "input" in changed and "client_metadata" in changed
    assert "description" not in body["tools"][1] and "description" not in body["tools"][1]["tools"][0]
    assert body["tools"][0]["description"] == "Run"


def test_reasoning_items_azure_cannot_read_are_dropped_under_store_false() -> None:
    body = {
        "model": "m",
        "store": False,
        "input": [
            {"type": "reasoning", "id": "rs_1", "summary": []},  # no blob: "Item with id 'rs_1' not found"
            {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAA"},  # no id: "Missing required parameter"
            {"role": "user", "content": "hi"},
        ],
    }
    azure_fit.fit("/v1/responses", body, OPEN)
    assert body["input"] == [{"role": "user", "content": "hi"}]


def test_stored_conversations_keep_their_ids() -> None:
    body = codex_second_turn()
    body["store"] = True
    azure_fit.fit("/v1/responses", body, CODEX)
    assert [i.get("id") for i in body["input"]] == [
        "msg_76adf687-e9b1",
        "msg_01a22d19-dc1b",
        "rs_89fd",
        "fc_c793",
        "fco_01a22d19",
    ]


def test_forced_stateless_applies_the_replay_rule_even_when_the_client_asks_to_store() -> None:
    body = codex_second_turn()
    body["store"] = True
    azure_fit.fit("/v1/responses", body, CODEX, force_stateless=True)
    assert "id" not in body["input"][0]


def test_item_fields_azure_does_not_know_are_dropped() -> None:
    body = {
        "model": "m",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": "x",
                "metadata": {"a": 1},
                "internal_chat_message_metadata_passthrough": {},
            }
        ],
    }
    azure_fit.fit("/v1/responses", body, OPEN)
    assert body["input"] == [{"type": "message", "role": "user", "content": "x"}]


def test_unknown_item_types_are_passed_on_untouched() -> None:
    reference = {"type": "item_reference", "id": "msg_1"}
    body = {"model": "m", "store": False, "input": [reference]}
    azure_fit.fit("/v1/responses", body, OPEN)
    assert body["input"] == [reference], "Azure's own 400 is the honest answer to an unresolvable reference"


def test_roo_native_request_fits_the_codex_profile() -> None:
    body = {
        "model": "gpt-5.3-codex",
        "input": "hi",
        "store": False,
        "reasoning": {"effort": "minimal", "summary": "auto"},
        "text": {"format": {"type": "text"}, "verbosity": "low"},
        "prompt_cache_retention": "24h",
        "service_tier": "priority",
        "max_output_tokens": 4,
    }
    changed = azure_fit.fit("/v1/responses", body, CODEX)
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["text"] == {"format": {"type": "text"}}
    assert "prompt_cache_retention" not in body and "service_tier" not in body
    assert body["max_output_tokens"] == 16
    assert sorted(changed) == sorted(
        ["reasoning.effort", "text.verbosity", "prompt_cache_retention", "service_tier", "max_output_tokens"]
    )


def test_values_the_profile_accepts_are_left_alone() -> None:
    body = {
        "model": "m",
        "input": "hi",
        "reasoning": {"effort": "xhigh"},
        "text": {"verbosity": "medium"},
        "service_tier": "default",
        "max_output_tokens": 16,
    }
    before = copy.deepcopy(body)
    assert azure_fit.fit("/v1/responses", body, CODEX) == []
    assert body == before


def test_an_open_profile_changes_no_value() -> None:
    body = {
        "model": "m",
        "input": "hi",
        "reasoning": {"effort": "none"},
        "text": {"verbosity": "low"},
        "prompt_cache_retention": "24h",
        "service_tier": "flex",
    }
    before = copy.deepcopy(body)
    assert azure_fit.fit("/v1/responses", body, OPEN) == []
    assert body == before


def test_chat_request_fits_the_profile() -> None:
    body = {
        "model": "gpt-5.3-codex",
        "messages": [],
        "reasoning_effort": "none",
        "verbosity": "high",
        "service_tier": "flex",
        "max_completion_tokens": 1,
    }
    azure_fit.fit("/v1/chat/completions", body, CODEX)
    assert body == {"model": "gpt-5.3-codex", "messages": [], "reasoning_effort": "low", "max_completion_tokens": 16}


@pytest.mark.parametrize(
    ("wanted", "offered", "nearest"),
    [
        ("minimal", ("low", "medium", "high", "xhigh"), "low"),
        ("xhigh", ("low", "medium", "high"), "high"),
        ("medium", ("low", "high"), "high"),
        ("medium", (), None),
        ("turbo", ("low",), None),
    ],
)
def test_nearest_effort(wanted: str, offered: tuple[str, ...], nearest: str | None) -> None:
    assert nearest_effort(wanted, offered) == nearest


def test_not_an_effort_at_all_is_left_for_azure_to_refuse() -> None:
    body = {"model": "m", "input": "x", "reasoning": {"effort": "turbo"}}
    assert azure_fit.fit("/v1/responses", body, CODEX) == []


def test_codex_models_get_the_codex_profile() -> None:
    assert default_profile("gpt-5.3-codex") is CODEX and default_profile("gpt-4o") is OPEN


def test_the_body_reader_sends_the_fitted_body_on() -> None:
    reader = BodyReader(1 << 20, 5, frozenset({"gpt-5.3-codex"}), frozenset(), {}, {"gpt-5.3-codex": CODEX})
    rec = RequestRecord(request_id="r1", route="/v1/responses", method="POST")
    raw = orjson.dumps(codex_second_turn())
    got = reader.parse(raw, {"content-type": "application/json"}, "/v1/responses", rec)
    assert not isinstance(got, Rejection)
    body, payload = got
    assert payload is not None and "client_metadata" not in payload
    assert orjson.loads(body) == payload, "what Azure receives is the fitted body"
    assert rec.fitted is not None and {"client_metadata", "input", "tools.description"} <= set(rec.fitted)


def test_an_operator_profile_replaces_the_built_in_one() -> None:
    reader = BodyReader(
        1 << 20,
        5,
        frozenset({"gpt-5.3-codex"}),
        frozenset(),
        {},
        {"gpt-5.3-codex": ModelProfile(prompt_cache_retention=("24h",))},
    )
    rec = RequestRecord(request_id="r1", route="/v1/responses", method="POST")
    got = reader.parse(
        b'{"model":"gpt-5.3-codex","input":"x","prompt_cache_retention":"24h"}',
        {"content-type": "application/json"},
        "/v1/responses",
        rec,
    )
    assert not isinstance(got, Rejection) and got[1] is not None and got[1]["prompt_cache_retention"] == "24h"

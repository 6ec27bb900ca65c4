"""The chat completions allow-list: what real clients send passes, everything else is a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from aigateway.proxy import chat_request

ROO_BODY: dict[str, Any] = {
    "model": "gpt-5.3-codex",
    "temperature": 0,
    "messages": [
        {
            "role": "system",
            "content": [{"type": "text", "text": "You are Roo", "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "user", "content": "List files"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "a.py"},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "tools": [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}, "strict": True}}],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "max_completion_tokens": 1000,
    "reasoning_effort": "medium",
}


def test_what_real_clients_send_passes() -> None:
    assert chat_request.check(ROO_BODY) is None
    qoder = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "stop": ["x"]}
    assert chat_request.check(qoder) is None
    assert chat_request.check({**qoder, "temperature": None, "user": "u", "seed": 1, "store": True}) is None


@pytest.mark.parametrize("field", [*sorted(chat_request.ROUTING_FIELDS), "litellm_metadata", "azure_region"])
def test_routing_fields_are_rejected_by_name(field: str) -> None:
    problem = chat_request.check({**ROO_BODY, field: "x"})
    assert problem is not None
    status, message, code, param = problem
    assert (status, code, param) == (400, "routing_field_not_allowed", field)
    assert f"'{field}'" in message and "gateway decides" in message


def test_unknown_fields_are_rejected_by_name() -> None:
    assert chat_request.check({**ROO_BODY, "functions": []}) == (
        400,
        "Unrecognized request argument supplied: 'functions'.",
        "unknown_parameter",
        "functions",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("messages", []),
        ("messages", [{"role": "root", "content": "x"}]),
        ("messages", [{"role": "user", "content": 3}]),
        ("messages", [{"role": "user", "content": [{"text": "no type"}]}]),
        ("stream", "yes"),
        ("stream_options", {"include_usage": True, "api_base": "x"}),
        ("temperature", 3),
        ("temperature", True),
        ("n", 2),
        ("max_tokens", 0),
        ("stop", ["a", "b", "c", "d", "e"]),
        ("tools", [{"function": {}}]),
        ("tool_choice", "sometimes"),
        ("response_format", {"type": "yaml"}),
        ("reasoning_effort", "extreme"),
        ("metadata", {"model": 1}),
        ("metadata", {f"k{i}": "v" for i in range(17)}),
        ("logit_bias", {"1": "high"}),
    ],
)
def test_values_are_type_checked(field: str, value: Any) -> None:
    problem = chat_request.check({**ROO_BODY, field: value})
    assert problem is not None and problem[0] == 400 and problem[2] == "invalid_value" and problem[3] == field


def test_deep_json_is_refused_without_recursion() -> None:
    deep: Any = {}
    for _ in range(5000):
        deep = {"x": deep}
    tool = {"type": "function", "function": {"name": "f", "parameters": deep}}
    assert chat_request.check({**ROO_BODY, "tools": [tool]}) == (
        400,
        f"The request body nests JSON deeper than {chat_request.MAX_DEPTH} levels.",
        "json_too_deep",
        None,
    )
    assert not chat_request.too_deep({"a": [[{"b": 1}]]}, 4)
    assert chat_request.too_deep({"a": [[{"b": {}}]]}, 4)


def test_only_allow_listed_fields_are_handed_to_litellm() -> None:
    arguments = chat_request.bridge_arguments({**ROO_BODY, "api_base": "http://evil", "metadata": {"a": "b"}})
    assert "api_base" not in arguments
    assert set(arguments) == set(ROO_BODY) - {"model", "messages"}


def test_storage_is_off_unless_asked_for() -> None:
    assert chat_request.storage_fields({"model": "m"}) == {"store": False}
    assert chat_request.storage_fields({"store": True, "metadata": {"a": "b"}}) == {
        "store": True,
        "metadata": {"a": "b"},
    }

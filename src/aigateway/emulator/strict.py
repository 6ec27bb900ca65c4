"""Strict mode: the request validation real Azure does and a lenient emulator would skip.

Each rule answers Azure's 400 `{"error":{"message","type":"invalid_request_error","param","code"}}`; the public
source of each is listed in docs/emulator.md ("Strict mode"). The first broken rule answers, in this order:
unknown parameters, empty strings, numeric minimums, per-model support and enums, then the `store:false` replay
rules. `EmulatorConfig.strict = False` turns them all off.
"""

from __future__ import annotations

from typing import Any

from aigateway.emulator import errors
from aigateway.emulator.config import ALL_EFFORTS, Deployment
from aigateway.emulator.sealing import ReasoningSealer
from aigateway.emulator.wire import JsonReply

# Azure's Responses create parameters. Deliberately conservative: what is not here (e.g. Codex's
# `client_metadata`) is refused, so CI fails where Azure might.
RESPONSES_PARAMETERS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt",
        "prompt_cache_key",
        "prompt_cache_retention",
        "reasoning",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
        "background",
        "include",
        "conversation",
    }
)
# The keys each replayable input item may carry; item types not listed here are not checked.
ITEM_KEYS: dict[str, frozenset[str]] = {
    "message": frozenset({"type", "role", "content", "id", "status"}),
    "function_call": frozenset({"type", "id", "call_id", "name", "arguments", "status"}),
    "function_call_output": frozenset({"type", "id", "call_id", "output", "status"}),
    "custom_tool_call": frozenset({"type", "id", "call_id", "name", "input", "status"}),
    "custom_tool_call_output": frozenset({"type", "id", "call_id", "output"}),
    "reasoning": frozenset({"type", "id", "summary", "content", "encrypted_content", "status"}),
    "item_reference": frozenset({"type", "id"}),
}
CHAT_TOKEN_LIMITS = ("max_tokens", "max_completion_tokens")


def _bad(message: str, param: str | None, code: str) -> JsonReply:
    return JsonReply(400, errors.invalid_request(message, param=param, code=code))


def unknown_parameter(param: str) -> JsonReply:
    return _bad(f"Unknown parameter: '{param}'.", param, "unknown_parameter")


def empty_string(param: str) -> JsonReply:
    return _bad(
        f"Invalid '{param}': empty string. Expected a string with minimum length 1, but got an empty string instead.",
        param,
        "empty_string",
    )


def below_minimum(param: str, minimum: int, value: int) -> JsonReply:
    return _bad(
        f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
        param,
        "integer_below_min_value",
    )


def prompt_cache_retention_unsupported() -> JsonReply:
    # Azure's words as relayed by LiteLLM (OpenHands/software-agent-sdk #2295); param and code are inferred.
    return _bad(
        "prompt_cache_retention is not supported on this model", "prompt_cache_retention", "unsupported_parameter"
    )


def unsupported_value(param: str, value: object, model: str, supported: list[str]) -> JsonReply:
    return _bad(
        f"Unsupported value: '{value}' is not supported with the '{model}' model. Supported values are: "
        f"{_quoted_list(supported)}.",
        param,
        "unsupported_value",
    )


def missing_required(param: str) -> JsonReply:
    return _bad(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def invalid_encrypted_content(blob: str) -> JsonReply:
    # OpenAI shortens the blob to its first and last four characters (openai/codex #8145).
    return _bad(
        f"The encrypted content {blob[:4]}...{blob[-4:]} could not be verified.", None, "invalid_encrypted_content"
    )


def _quoted_list(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _raw_items(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    raw = body.get("input")
    if not isinstance(raw, list):
        return []
    return [(i, item) for i, item in enumerate(raw) if isinstance(item, dict)]


def _item_type(item: dict[str, Any]) -> Any:
    # An "easy" message ({"role", "content"}) has no type; Azure treats it as a message.
    return item.get("type", "message" if "role" in item else None)


def check_responses(body: dict[str, Any], dep: Deployment, sealer: ReasoningSealer) -> JsonReply | None:
    """The first strict rule `POST …/responses` breaks, as Azure's 400; None = the body passes."""
    for check in (_unknown_parameters, _empty_strings, _output_minimum):
        problem = check(body, dep)
        if problem is not None:
            return problem
    problem = _per_model(body, dep)
    if problem is not None:
        return problem
    if body.get("store", True) is False:
        return _stateless_replay(body, sealer)
    return None


def check_chat(body: dict[str, Any], dep: Deployment) -> JsonReply | None:
    for param in CHAT_TOKEN_LIMITS:
        value = _int(body.get(param))
        if value is not None and value < 1:
            return below_minimum(param, 1, value)
    return None


def _unknown_parameters(body: dict[str, Any], dep: Deployment) -> JsonReply | None:
    for key in body:
        if key not in RESPONSES_PARAMETERS:
            return unknown_parameter(key)
    for index, item in _raw_items(body):
        known = ITEM_KEYS.get(_item_type(item))
        if known is None:
            continue
        for key in item:
            if key not in known:
                return unknown_parameter(f"input[{index}].{key}")
    return None


def _empty_strings(body: dict[str, Any], dep: Deployment) -> JsonReply | None:
    # Tools also nest: a `namespace` tool holds `tools`, and Codex's tool-carrying input items do too
    # (Azure named `input[0].tools[0].description` in openai/codex #37380).
    problem = _empty_tool_strings(body.get("tools"), "tools")
    for index, item in _raw_items(body):
        problem = problem or _empty_tool_strings(item.get("tools"), f"input[{index}].tools")
    return problem


def _empty_tool_strings(tools: Any, path: str) -> JsonReply | None:
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        if not isinstance(tool, dict):
            continue
        for key in ("name", "description"):
            if tool.get(key) == "":
                return empty_string(f"{path}[{index}].{key}")
        nested = _empty_tool_strings(tool.get("tools"), f"{path}[{index}].tools")
        if nested is not None:
            return nested
    return None


def _output_minimum(body: dict[str, Any], dep: Deployment) -> JsonReply | None:
    value = _int(body.get("max_output_tokens"))
    if value is not None and value < dep.min_output_tokens:
        return below_minimum("max_output_tokens", dep.min_output_tokens, value)
    return None


def _per_model(body: dict[str, Any], dep: Deployment) -> JsonReply | None:
    model = dep.versioned_model
    retention = body.get("prompt_cache_retention")
    if retention is not None and retention not in dep.prompt_cache_retention:
        if not dep.prompt_cache_retention:
            return prompt_cache_retention_unsupported()
        return unsupported_value("prompt_cache_retention", retention, model, dep.prompt_cache_retention)
    tier = body.get("service_tier")
    if tier is not None and tier not in dep.service_tiers:
        return unsupported_value("service_tier", tier, model, dep.service_tiers)
    text = body.get("text")
    verbosity = text.get("verbosity") if isinstance(text, dict) else None
    if verbosity is not None and verbosity not in dep.verbosities:
        return unsupported_value("text.verbosity", verbosity, model, dep.verbosities)
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    # Values that are no effort at all keep the generic invalid_value answer (responses.validate).
    if dep.reasoning and effort in ALL_EFFORTS and effort not in dep.efforts:
        return unsupported_value("reasoning.effort", effort, model, dep.efforts)
    return None


def _stateless_replay(body: dict[str, Any], sealer: ReasoningSealer) -> JsonReply | None:
    """With `store:false` Azure has nothing to look ids up in: only self-contained reasoning items may carry one.

    Codex's live matrix (Azure/azure-sdk-for-net #59967): keep the id on reasoning items that carry
    `encrypted_content`, drop reasoning items without it, no ids elsewhere.
    """
    for index, item in _raw_items(body):
        kind = _item_type(item)
        item_id = item.get("id")
        if kind == "reasoning":
            if not isinstance(item_id, str) or not item_id:
                return missing_required(f"input[{index}].id")
            blob = item.get("encrypted_content")
            if not blob:
                return JsonReply(400, errors.item_not_persisted(item_id))
            if not sealer.verify(blob):
                return invalid_encrypted_content(str(blob))
        elif isinstance(item_id, str):
            return JsonReply(400, errors.item_not_persisted(item_id))
    return None

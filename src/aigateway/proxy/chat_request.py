"""What a chat completions request may contain: OpenAI's parameters, type-checked; nothing else.

The body is handed to LiteLLM's chat -> Responses translation, and LiteLLM honours many fields OpenAI does
not have: some pick the provider, deployment, endpoint, api-version, credentials or headers of the upstream
call (`custom_llm_provider`, `deployment_id`, `api_base`, `extra_headers`, ...), others skip the call
(`mock_response`). So the request is checked against an allow-list of OpenAI's Chat Completions parameters
(the ones real clients send: Roo Code, Qoder, Continue, Cline, the SDKs), each shallowly type-checked; any
other field is a 400 naming it (`param`), with routing fields called out as such. `bridge_arguments`
then hands on only allow-listed fields, so nothing unvetted can reach LiteLLM even if a check is missed.

`store` and `metadata` are not LiteLLM arguments: they are Azure's (whether the response is stored, and
its tags) and the bridge sets them itself (`storage_fields`), with the project tag of `ownership`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

ROUTE: Final = "/v1/chat/completions"
MAX_DEPTH: Final = 64  # JSON nesting; tool schemas use ~10, and deep JSON is how parsers are made to recurse
METADATA_MAX_KEYS: Final = 16
METADATA_MAX_KEY_CHARS: Final = 64
METADATA_MAX_VALUE_CHARS: Final = 512
MESSAGE_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

# Fields LiteLLM (or a provider SDK) would use to choose where and how the upstream call goes. Rejected like
# any unknown field; named so that the 400 says why.
ROUTING_FIELDS: Final = frozenset(
    {
        "api_base",
        "api_key",
        "api_type",
        "api_version",
        "aws_access_key_id",
        "aws_region_name",
        "aws_secret_access_key",
        "azure_ad_token",
        "azure_ad_token_provider",
        "azure_password",
        "azure_username",
        "base_model",
        "base_url",
        "client_id",
        "client_secret",
        "context_window_fallbacks",
        "custom_llm_provider",
        "deployment_id",
        "extra_body",
        "extra_headers",
        "extra_query",
        "fallbacks",
        "headers",
        "input_cost_per_token",
        "max_retries",
        "mock_response",
        "mock_timeout",
        "mock_tool_calls",
        "model_info",
        "model_list",
        "num_retries",
        "organization",
        "output_cost_per_token",
        "proxy_server_request",
        "tenant_id",
        "timeout",
        "user_config",
        "vertex_credentials",
        "vertex_location",
        "vertex_project",
    }
)
_ROUTING_PREFIXES: Final = ("litellm_", "aws_", "azure_", "vertex_")

# (status, message, code, param): what request_body.BodyReader.check answers with.
Problem = tuple[int, str, str, str | None]
Check = Callable[[Any], str | None]  # None when the value is acceptable, else what it must be


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be a boolean"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if not _is_number(value) or not low <= value <= high:
            return f"must be a number from {low:g} to {high:g}"
        return None

    return check


def _integer(low: int, high: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            return f"must be an integer of at least {low}" + ("" if high is None else f" and at most {high}")
        return None

    return check


def _one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else "must be one of " + ", ".join(repr(a) for a in allowed)

    return check


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be an object"


def _stop(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    if isinstance(value, list) and len(value) <= 4 and all(isinstance(item, str) for item in value):
        return None
    return "must be a string or an array of up to 4 strings"


def _logit_bias(value: Any) -> str | None:
    if isinstance(value, dict) and all(_is_number(v) for v in value.values()):
        return None
    return "must be an object mapping token ids to numbers"


def _stream_options(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object"
    for key, item in value.items():
        if key not in ("include_usage", "include_obfuscation"):
            return f"has an unknown key {key!r} (known: 'include_usage', 'include_obfuscation')"
        if not isinstance(item, bool):
            return f"'{key}' must be a boolean"
    return None


def _tools(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be an array of tools"
    for tool in value:
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            return "must be an array of objects, each with a string 'type'"
        if tool["type"] == "function" and not isinstance(tool.get("function"), dict):
            return "entries of type 'function' need a 'function' object"
    return None


def _tool_choice(value: Any) -> str | None:
    if value in ("none", "auto", "required") or (isinstance(value, dict) and isinstance(value.get("type"), str)):
        return None
    return "must be 'none', 'auto', 'required' or an object with a 'type'"


def _response_format(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") in ("text", "json_object", "json_schema"):
        return None
    return "must be an object whose 'type' is 'text', 'json_object' or 'json_schema'"


def _prediction(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") == "content":
        return None
    return "must be an object whose 'type' is 'content'"


def _modalities(value: Any) -> str | None:
    if isinstance(value, list) and all(item in ("text", "audio") for item in value):
        return None
    return "must be an array of 'text' and 'audio'"


def _metadata(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object of string keys and string values"
    if len(value) > METADATA_MAX_KEYS:
        return f"may hold at most {METADATA_MAX_KEYS} keys"
    for key, item in value.items():
        if len(key) > METADATA_MAX_KEY_CHARS:
            return f"keys must be at most {METADATA_MAX_KEY_CHARS} characters"
        if not isinstance(item, str) or len(item) > METADATA_MAX_VALUE_CHARS:
            return f"values must be strings of at most {METADATA_MAX_VALUE_CHARS} characters"
    return None


def _messages(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "must be a non-empty array of messages"
    for index, message in enumerate(value):
        problem = _message(message)
        if problem is not None:
            return f"[{index}] {problem}"
    return None


def _message(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "must be an object"
    if message.get("role") not in MESSAGE_ROLES:
        return "'role' must be one of " + ", ".join(sorted(MESSAGE_ROLES))
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        if not isinstance(content, list):
            return "'content' must be a string, an array of content parts or null"
        if not all(isinstance(part, dict) and isinstance(part.get("type"), str) for part in content):
            return "'content' parts must be objects with a string 'type'"
    tool_calls = message.get("tool_calls")
    if tool_calls is not None and not (
        isinstance(tool_calls, list) and all(isinstance(call, dict) for call in tool_calls)
    ):
        return "'tool_calls' must be an array of objects"
    for key in ("name", "tool_call_id"):
        if message.get(key) is not None and not isinstance(message[key], str):
            return f"'{key}' must be a string"
    return None


# The Chat Completions parameters this gateway accepts. `model` is checked against the aliases by the front.
FIELDS: Final[Mapping[str, Check]] = {
    "model": _string,
    "messages": _messages,
    "stream": _bool,
    "stream_options": _stream_options,
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "n": _integer(1, 1),  # the Responses API answers with one choice
    "stop": _stop,
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "logit_bias": _logit_bias,
    "logprobs": _bool,
    "top_logprobs": _integer(0, 20),
    "user": _string,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _bool,
    "response_format": _response_format,
    "seed": _integer(-(2**63), 2**63 - 1),
    "reasoning_effort": _one_of("none", "minimal", "low", "medium", "high", "xhigh"),
    "verbosity": _one_of("low", "medium", "high"),
    "service_tier": _one_of("auto", "default", "flex", "scale", "priority"),
    "prediction": _prediction,
    "modalities": _modalities,
    "prompt_cache_key": _string,
    "safety_identifier": _string,
    "store": _bool,
    "metadata": _metadata,
}
# Set by the bridge, not passed to LiteLLM as arguments (see the module docstring).
_NOT_ARGUMENTS: Final = frozenset({"model", "messages", "store", "metadata"})


def check(payload: Mapping[str, Any]) -> Problem | None:
    """The first reason `payload` is not an acceptable chat completions request, or None."""
    for field, value in payload.items():
        validator = FIELDS.get(field)
        if validator is None:
            return _unknown(field)
        if value is None:
            continue  # OpenAI treats null as "not given"; so does bridge_arguments
        problem = validator(value)
        if problem is not None:
            return 400, f"'{field}' {problem}.", "invalid_value", field
    if too_deep(payload, MAX_DEPTH):
        return 400, f"The request body nests JSON deeper than {MAX_DEPTH} levels.", "json_too_deep", None
    return None


def _unknown(field: str) -> Problem:
    if field in ROUTING_FIELDS or field.startswith(_ROUTING_PREFIXES):
        message = (
            f"'{field}' is not accepted: it would choose the provider, deployment, endpoint, api-version, "
            "credentials or headers of the upstream call, and this gateway decides those itself from the model "
            "alias. Remove it."
        )
        return 400, message, "routing_field_not_allowed", field
    return 400, f"Unrecognized request argument supplied: '{field}'.", "unknown_parameter", field


def too_deep(value: Any, limit: int) -> bool:
    """True when `value` nests lists or objects more than `limit` levels (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def bridge_arguments(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The allow-listed OpenAI parameters for LiteLLM's `acompletion` (without model, messages and storage)."""
    return {k: v for k, v in payload.items() if k in FIELDS and k not in _NOT_ARGUMENTS and v is not None}


def storage_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`store` (false unless the client asks for storage) and the client's `metadata`, for Azure's request."""
    fields: dict[str, Any] = {"store": payload.get("store") is True}
    metadata = payload.get("metadata")
    if metadata:
        fields["metadata"] = dict(metadata)
    return fields

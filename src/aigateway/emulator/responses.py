"""The Responses API: validation, the deterministic answer, the response object and its event stream."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

import orjson

from aigateway.emulator import errors, markers, strict
from aigateway.emulator.config import ALL_EFFORTS, Deployment
from aigateway.emulator.sealing import ReasoningSealer
from aigateway.emulator.store import ResponseStore
from aigateway.emulator.tokens import estimate, text_of
from aigateway.emulator.wire import JsonReply, StreamReply

EFFORTS = ALL_EFFORTS
REASONING_TOKENS = 32
FAILURE_MESSAGE = (
    "The server had an error processing your request. Sorry about that! You can retry your request, or "
    "contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if you "
    "keep seeing this error."
)
TOOL_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")
METADATA_MAX_KEYS = 16
METADATA_MAX_KEY_CHARS = 64
METADATA_MAX_VALUE_CHARS = 512


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def input_items(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    if isinstance(raw, list):
        return [i for i in raw if isinstance(i, dict)]
    return []


def _last_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            return text_of(item.get("content"))
    return ""


def _tools(raw: Any) -> list[markers.Tool]:
    tools: list[markers.Tool] = []
    for t in raw if isinstance(raw, list) else []:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            continue  # built-in tools (web_search, ...) have no name and are never called here
        if t.get("type") == "function":
            params = t.get("parameters") if isinstance(t.get("parameters"), dict) else {}
            tools.append(markers.Tool(t["name"], "function", params or {}))
        elif t.get("type") == "custom":
            tools.append(markers.Tool(t["name"], "custom", {}))
    return tools


def prompt_cost(body: dict[str, Any]) -> int:
    """Azure's quota estimate at arrival: the prompt's characters / 4 plus the requested output cap."""
    max_out = body.get("max_output_tokens")
    cap = max_out if isinstance(max_out, int) else 16
    return estimate(text_of(body.get("input")) + text_of(body.get("instructions"))) + cap


def _metadata_problem(metadata: Any) -> JsonReply | None:
    """Azure's limits on `metadata`: at most 16 string keys of up to 64 characters, string values up to 512."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return JsonReply(400, errors.invalid_metadata("expected an object.", "invalid_type"))
    if len(metadata) > METADATA_MAX_KEYS:
        problem = (
            f"too many properties. Expected an object with at most {METADATA_MAX_KEYS} properties, but got an "
            f"object with {len(metadata)} properties instead."
        )
        return JsonReply(400, errors.invalid_metadata(problem, "object_above_max_properties"))
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY_CHARS:
            problem = f"key '{key[:16]}...' is longer than {METADATA_MAX_KEY_CHARS} characters."
            return JsonReply(400, errors.invalid_metadata(problem, "string_above_max_length"))
        if not isinstance(value, str):
            return JsonReply(400, errors.invalid_metadata(f"the value of '{key}' must be a string.", "invalid_type"))
        if len(value) > METADATA_MAX_VALUE_CHARS:
            problem = f"the value of '{key}' is longer than {METADATA_MAX_VALUE_CHARS} characters."
            return JsonReply(400, errors.invalid_metadata(problem, "string_above_max_length"))
    return None


def validate(
    body: dict[str, Any], dep: Deployment, store: ResponseStore, sealer: ReasoningSealer, *, strict_mode: bool
) -> JsonReply | None:
    if strict_mode:
        refused = strict.check_responses(body, dep, sealer)
        if refused is not None:
            return refused
    bad_metadata = _metadata_problem(body.get("metadata"))
    if bad_metadata is not None:
        return bad_metadata
    if dep.reasoning and body.get("temperature") is not None:
        return JsonReply(400, errors.TEMPERATURE_UNSUPPORTED)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        effort = reasoning["effort"]
        if not dep.reasoning:
            return JsonReply(
                400,
                errors.invalid_request(
                    "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
                    param="reasoning.effort",
                    code="unsupported_parameter",
                ),
            )
        if effort not in EFFORTS:
            return JsonReply(
                400,
                errors.invalid_request(
                    f"Invalid value: '{effort}'. Supported values are: 'none', 'minimal', 'low', 'medium', "
                    "'high', and 'xhigh'.",
                    param="reasoning.effort",
                    code="invalid_value",
                ),
            )
    stored = body.get("store", True) is not False
    if body.get("background") and not stored:
        return JsonReply(
            400, errors.invalid_request("Background mode requires `store` to be true.", param="background")
        )
    if not stored:
        for item in input_items(body.get("input")):
            item_id = item.get("id")
            if not isinstance(item_id, str):
                continue
            # Azure fails on *references* to items it did not persist; a replayed reasoning item that carries
            # its encrypted_content is self-contained and accepted (Roo and Codex rely on that).
            if item.get("type") == "item_reference" or (
                item_id.startswith("rs_") and not item.get("encrypted_content")
            ):
                return JsonReply(400, errors.item_not_persisted(item_id))
    previous = body.get("previous_response_id")
    if previous is not None and store.get(str(previous)) is None:
        return JsonReply(400, errors.previous_response_not_found(str(previous)))
    return None


def build(body: dict[str, Any], deployment_name: str, dep: Deployment, sealer: ReasoningSealer) -> dict[str, Any]:
    """The completed response object for this request."""
    items = input_items(body.get("input"))
    user_text = _last_user_text(items)
    last_is_tool_output = bool(items) and items[-1].get("type") in TOOL_OUTPUT_TYPES
    tools = _tools(body.get("tools"))
    # A filtered completion is text cut short, never a tool call.
    filtered = markers.content_filter(user_text) == "completion"
    no_call = last_is_tool_output or filtered or body.get("tool_choice") == "none"
    tool = None if no_call else markers.chosen_tool(user_text, tools)
    output: list[dict[str, Any]] = []
    reasoning_req = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    include_raw = body.get("include")
    include: list[Any] = include_raw if isinstance(include_raw, list) else []
    if dep.reasoning:
        summary_wanted = bool(reasoning_req and reasoning_req.get("summary"))
        output.append(
            {
                "id": new_id("rs"),
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": markers.REASONING_SUMMARY}] if summary_wanted else [],
                "encrypted_content": sealer.seal(deployment_name) if "reasoning.encrypted_content" in include else None,
            }
        )
    if tool is None:
        text = markers.answer_text(user_text)
        if filtered:
            text = markers.truncated(text)
        out_chars = len(text)
        output.append(
            {
                "id": new_id("msg"),
                "type": "message",
                "status": "incomplete" if filtered else "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }
        )
    elif tool.kind == "custom":
        tool_input = markers.custom_tool_input(tool)
        out_chars = len(tool_input)
        output.append(
            {
                "id": new_id("ctc"),
                "type": "custom_tool_call",
                "status": "completed",
                "call_id": new_id("call")[:40],
                "name": tool.name,
                "input": tool_input,
            }
        )
    else:
        arguments = orjson.dumps(markers.arguments_for(tool)).decode()
        out_chars = len(arguments)
        output.append(
            {
                "id": new_id("fc"),
                "type": "function_call",
                "status": "completed",
                "call_id": new_id("call")[:40],
                "name": tool.name,
                "arguments": arguments,
            }
        )
    input_tokens = estimate(text_of(body.get("input")) + text_of(body.get("instructions")))
    reasoning_tokens = REASONING_TOKENS if dep.reasoning else 0
    output_tokens = estimate("x" * out_chars) + reasoning_tokens
    now = int(time.time())
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": now,
        "status": "incomplete" if filtered else "completed",
        "completed_at": None if filtered else now,
        "background": bool(body.get("background", False)),
        "error": None,
        # Azure's filtered completion [P2]: the output stops where the filter cut it.
        "incomplete_details": {"reason": "content_filter"} if filtered else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": dep.versioned_model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {
            "effort": (reasoning_req or {}).get("effort", "medium"),
            "summary": (reasoning_req or {}).get("summary"),
        }
        if dep.reasoning
        else {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True) is not False,
        "temperature": None if dep.reasoning else body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": None if dep.reasoning else body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        },
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _padding(delta: str) -> str:
    return secrets.token_urlsafe(12)[: max(2, 16 - len(delta))]


def initial_view(response: dict[str, Any]) -> dict[str, Any]:
    """The response as `response.created` shows it: in progress, no output, no usage yet."""
    early = dict(response)
    early.update(status="queued" if response["background"] else "in_progress", output=[], usage=None)
    if response["service_tier"] == "default":
        early["service_tier"] = "auto"  # Azure's recorded streams: `auto` while running, `default` when done
    early["completed_at"] = None
    return early


def stream(response: dict[str, Any]) -> StreamReply:
    events: list[tuple[str, dict[str, Any]]] = []

    def add(event_type: str, **payload: Any) -> None:
        events.append((event_type, {"type": event_type, **payload}))

    early = initial_view(response)
    add("response.created", response=early)
    if response["background"]:
        add("response.queued", response=early)
    add("response.in_progress", response={**early, "status": "in_progress"})
    for index, item in enumerate(response["output"]):
        _item_events(add, index, item)
    add("response.incomplete" if response["status"] == "incomplete" else "response.completed", response=response)

    def failure(kind: str) -> tuple[str, dict[str, Any]]:
        if kind == "rate_limit_error":
            # Azure's nested shape; the placeholder keeps `sequence_number` where Azure puts it (the sender sets it).
            return "error", {"type": "error", "sequence_number": 0, "error": errors.in_band_rate_limit()}
        if kind == "error":
            return "error", {
                "type": "error",
                "code": "server_error",
                "message": FAILURE_MESSAGE,
                "param": None,
            }
        failed = copy.deepcopy(early)
        failed.update(status="failed", error={"code": "server_error", "message": FAILURE_MESSAGE})
        return "response.failed", {"type": "response.failed", "response": failed}

    return StreamReply("responses", events, failure)


def _item_events(add: Any, index: int, item: dict[str, Any]) -> None:
    item_id = item["id"]
    kind = item["type"]
    if kind == "reasoning":
        add("response.output_item.added", output_index=index, item={**item, "summary": []})
        for s_index, part in enumerate(item["summary"]):
            common = {"item_id": item_id, "output_index": index, "summary_index": s_index}
            add("response.reasoning_summary_part.added", **common, part={"type": "summary_text", "text": ""})
            for delta in markers.chunks(part["text"], 2):
                add("response.reasoning_summary_text.delta", **common, delta=delta)
            add("response.reasoning_summary_text.done", **common, text=part["text"])
            add("response.reasoning_summary_part.done", **common, part=part)
    elif kind == "message":
        part = item["content"][0]
        add(
            "response.output_item.added",
            output_index=index,
            item={**item, "status": "in_progress", "content": []},
        )
        common = {"item_id": item_id, "output_index": index, "content_index": 0}
        add("response.content_part.added", **common, part={**part, "text": ""})
        for delta in markers.chunks(part["text"]):
            # Azure pads deltas with a random `obfuscation` field (against length side channels).
            add("response.output_text.delta", **common, delta=delta, logprobs=[], obfuscation=_padding(delta))
        add("response.output_text.done", **common, text=part["text"], logprobs=[])
        add("response.content_part.done", **common, part=part)
    elif kind == "function_call":
        add(
            "response.output_item.added",
            output_index=index,
            item={**item, "status": "in_progress", "arguments": ""},
        )
        for delta in markers.chunks(item["arguments"], 3):
            add("response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=delta)
        add(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            arguments=item["arguments"],
            name=item["name"],
        )
    elif kind == "custom_tool_call":
        add(
            "response.output_item.added",
            output_index=index,
            item={**item, "status": "in_progress", "input": ""},
        )
        for delta in markers.chunks(item["input"], 3):
            add("response.custom_tool_call_input.delta", item_id=item_id, output_index=index, delta=delta)
        add("response.custom_tool_call_input.done", item_id=item_id, output_index=index, input=item["input"])
    add("response.output_item.done", output_index=index, item=item)


def create(
    body: dict[str, Any],
    deployment_name: str,
    dep: Deployment,
    store: ResponseStore,
    sealer: ReasoningSealer,
    *,
    strict_mode: bool = True,
) -> JsonReply | StreamReply:
    invalid = validate(body, dep, store, sealer, strict_mode=strict_mode)
    if invalid is not None:
        return invalid
    if markers.content_filter(_last_user_text(input_items(body.get("input")))) == "prompt":
        return JsonReply(400, errors.prompt_filtered())
    response = build(body, deployment_name, dep, sealer)
    if response["store"]:
        store.put(response, input_items(body.get("input")))
    if body.get("stream"):
        return stream(response)
    if response["background"]:
        return JsonReply(200, initial_view(response))
    return JsonReply(200, response)

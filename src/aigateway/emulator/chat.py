"""Chat completions for chat-capable deployments (gpt-4o style), non-streaming and streaming."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from aigateway.emulator import errors, markers, strict
from aigateway.emulator.config import Deployment
from aigateway.emulator.responses import FAILURE_MESSAGE
from aigateway.emulator.tokens import estimate, text_of
from aigateway.emulator.wire import JsonReply, StreamReply

_SAFE = {"filtered": False, "severity": "safe"}
CONTENT_FILTER_RESULTS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
# What a choice cut by the completion filter reports ([[filter:completion]]); the category is illustrative.
FILTERED_COMPLETION_RESULTS = {**CONTENT_FILTER_RESULTS, "violence": {"filtered": True, "severity": "medium"}}
PROMPT_FILTER_RESULTS = [{"prompt_index": 0, "content_filter_results": CONTENT_FILTER_RESULTS}]


def _tools(raw: Any) -> list[markers.Tool]:
    tools: list[markers.Tool] = []
    for t in raw if isinstance(raw, list) else []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            params = fn.get("parameters")
            tools.append(markers.Tool(fn["name"], "function", params if isinstance(params, dict) else {}))
    return tools


def prompt_cost(body: dict[str, Any]) -> int:
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    return estimate(text_of(body.get("messages"))) + (cap if isinstance(cap, int) else 16)


def create(body: dict[str, Any], dep: Deployment, *, strict_mode: bool = True) -> JsonReply | StreamReply:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return JsonReply(400, errors.invalid_request("Missing required parameter: 'messages'.", param="messages"))
    refused = strict.check_chat(body, dep) if strict_mode else None
    if refused is not None:
        return refused
    msgs = [m for m in messages if isinstance(m, dict)]
    last_user = next((m for m in reversed(msgs) if m.get("role") == "user"), {})
    user_text = text_of(last_user.get("content"))
    answered_tool = bool(msgs) and msgs[-1].get("role") == "tool"
    filtered = markers.content_filter(user_text)
    if filtered == "prompt":
        return JsonReply(400, errors.prompt_filtered())
    tools = _tools(body.get("tools"))
    no_call = answered_tool or filtered == "completion" or body.get("tool_choice") == "none"
    tool = None if no_call else markers.chosen_tool(user_text, tools)
    completion_id = f"chatcmpl-{secrets.token_urlsafe(21)}"
    created = int(time.time())
    model = dep.versioned_model
    prompt_tokens = estimate(text_of(messages))
    if tool is None:
        text = markers.answer_text(user_text)
        if filtered == "completion":
            text = markers.truncated(text)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        completion_tokens = estimate(text)
        finish = "content_filter" if filtered == "completion" else "stop"
    else:
        arguments = orjson.dumps(markers.arguments_for(tool)).decode()
        call = {
            "id": f"call_{secrets.token_hex(12)}",
            "type": "function",
            "function": {"name": tool.name, "arguments": arguments},
        }
        message = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "annotations": [],
            "tool_calls": [call],
        }
        completion_tokens = estimate(arguments)
        finish = "tool_calls"
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    if not body.get("stream"):
        return JsonReply(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_emulator",
                "prompt_filter_results": PROMPT_FILTER_RESULTS,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": finish,
                        "logprobs": None,
                        "content_filter_results": FILTERED_COMPLETION_RESULTS
                        if finish == "content_filter"
                        else CONTENT_FILTER_RESULTS,
                    }
                ],
                "usage": usage,
            },
        )
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_emulator",
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> tuple[str, dict[str, Any]]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return "chunk", {**base, "choices": [choice]}

    # Azure's first chunk carries only the prompt filter results, with empty id/model and no choices.
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "chunk",
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": PROMPT_FILTER_RESULTS,
            },
        )
    ]
    if tool is None:
        events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        events.extend(chunk({"content": piece}) for piece in markers.chunks(message["content"]))
    else:
        call = message["tool_calls"][0]
        events.append(
            chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ],
                }
            )
        )
        events.extend(
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in markers.chunks(call["function"]["arguments"], 3)
        )
    events.append(chunk({}, finish))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        events.append(("chunk", {**base, "choices": [], "usage": usage}))

    def failure(kind: str) -> tuple[str, dict[str, Any]]:
        if kind == "rate_limit_error":
            return "error", {"error": {**errors.in_band_rate_limit(), "param": None}}
        return "error", {"error": {"message": FAILURE_MESSAGE, "type": "server_error", "param": None, "code": None}}

    return StreamReply("chat", events, failure)

"""One case per supported client: the exact request body that client sends, sent raw, and what it needs back.

Sources of the shapes (docs/probe.md has the details):
- Codex CLI 0.169: bodies recorded at the emulator from a real `codex exec` tool loop through the gateway
  (provider `name = "gateway"`, so Codex's stateless mode); system prompt shortened to one line.
- Roo Code v3.52.1: `src/api/providers/openai-native.ts` (Responses) and `openai.ts` (chat), as in
  tests/clients/roo_replica.mjs and tests/e2e/test_client_shapes.py.
- Qoder CLI 1.1.52: `bundle/qodercli.js` (`Vmn`), as in tests/e2e/test_client_shapes.py.

Prompts are synthetic and harmless for a real model. Each also carries the emulator's `[[call:NAME]]`
marker where a tool call is wanted: the local emulator calls a tool only on that marker, a real model
reads it as noise.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aigateway.probe.report import ErrorCode
from aigateway.probe.wire import CaseFailure, ProbeClient, Stream

CODEX_VERSION = "0.169.0"
ROO_VERSION = "3.52.1"
EMBEDDING_BATCH = 60  # Roo's codeIndex.embeddingBatchSize default
EMBEDDING_CHARS = 1000  # Roo's segments are about 1,000 characters or less


@dataclass(frozen=True)
class ProbeSettings:
    model: str
    embeddings_model: str
    embeddings_dimensions: int
    keepalive_seconds: float


@dataclass(frozen=True)
class Case:
    name: str
    client: str
    run: Callable[[ProbeClient, ProbeSettings], str]  # returns the PASS detail, raises CaseFailure


# ------------------------------------------------------------------------------------ Responses helpers


def completed(stream: Stream, *, allow_max_tokens_cut: bool = False) -> dict[str, Any]:
    """The terminal response of a Responses stream; Codex, Qoder and Roo all need `response.completed`."""
    last = stream.events[-1] if stream.events else {}
    found = last.get("response")
    response: dict[str, Any] = found if isinstance(found, dict) else {}
    if last.get("type") == "response.incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        if reason == "max_output_tokens" and allow_max_tokens_cut:
            return dict(response)
        # Roo ignores response.incomplete: a `content_filter` cut is a silently truncated answer.
        raise CaseFailure("response.incomplete", stream.status, ErrorCode(code=str(reason)))
    if last.get("type") != "response.completed":
        raise CaseFailure(f"stream ended without response.completed (last: {last.get('type')})", stream.status)
    usage = response.get("usage") or {}
    if not all(isinstance(usage.get(k), int) for k in ("input_tokens", "output_tokens", "total_tokens")):
        raise CaseFailure("response.completed without integer usage", stream.status)
    return dict(response)


def output_items(stream: Stream) -> list[dict[str, Any]]:
    """What Codex keeps of a turn: the items of `response.output_item.done`, in order."""
    return [e["item"] for e in stream.of_type("response.output_item.done") if isinstance(e.get("item"), dict)]


def text_message(role: str, text: str, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "message"}
    if item_id is not None:
        item["id"] = item_id
    return {**item, "role": role, "content": [{"type": "input_text", "text": text}]}


# ------------------------------------------------------------------------------------ codex


CODEX_HEADERS = {
    "accept": "text/event-stream",
    "originator": "codex_cli_rs",
    "user-agent": f"codex_cli_rs/{CODEX_VERSION} (Linux; x86_64) probe",
}
CODEX_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "cmd": {"type": "string", "description": "Shell command to execute."},
                "workdir": {"type": "string", "description": "Optional working directory to run the command in."},
                "yield_time_ms": {"type": "number", "description": "How long to wait for output, in ms."},
            },
            "required": ["cmd"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "view_image",
        "description": "View a local image file from the filesystem.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Local filesystem path to an image file."}},
            "required": ["path"],
            "additionalProperties": False,
        },
    },
    {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "Tools for spawning and managing sub-agents.",
        "tools": [
            {
                "type": "function",
                "name": "close_agent",
                "description": "Close an agent and any open descendants when they are no longer needed.",
                "strict": False,
                "parameters": {
                    "type": "object",
                    "properties": {"target": {"type": "string", "description": "Agent id to close."}},
                    "required": ["target"],
                    "additionalProperties": False,
                },
            }
        ],
    },
    {"type": "web_search", "external_web_access": False},
]


def _codex_metadata(thread: str, turn: str, installation: str) -> dict[str, str]:
    turn_metadata = {
        "installation_id": installation,
        "session_id": thread,
        "thread_id": thread,
        "turn_id": turn,
        "request_kind": "turn",
        "turn_trigger": "exec",
        "sandbox_mode": "read-only",
    }
    return {
        "turn_id": turn,
        "root_turn_id": turn,
        "thread_id": thread,
        "x-codex-turn-metadata": json.dumps(turn_metadata, separators=(",", ":")),
        "x-codex-installation-id": installation,
        "session_id": thread,
        "x-codex-window-id": f"{thread}:0",
    }


def _codex_replay(item: dict[str, Any]) -> dict[str, Any] | None:
    """An output item as Codex 0.169 sends it back next turn (stateless: `store:false`, ids kept)."""
    kind = item.get("type")
    if kind == "reasoning":
        return {
            "type": "reasoning",
            "id": item.get("id"),
            "summary": item.get("summary") or [],
            "content": None,
            "encrypted_content": item.get("encrypted_content"),
        }
    if kind == "function_call":
        return {
            "type": "function_call",
            "status": "completed",
            "id": item.get("id"),
            "name": item.get("name"),
            "arguments": item.get("arguments"),
            "call_id": item.get("call_id"),
        }
    if kind == "message":
        texts = [p.get("text", "") for p in item.get("content") or [] if isinstance(p, dict)]
        return {
            "type": "message",
            "id": item.get("id"),
            "role": "assistant",
            "content": [{"type": "output_text", "text": t} for t in texts],
        }
    return None


def _codex_tool_outputs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Codex runs every call of a turn and answers each with an output item carrying its own `fco_` id."""
    return [
        {
            "type": "function_call_output",
            "id": f"fco_{uuid.uuid4()}",
            "call_id": item.get("call_id"),
            "output": "Exit code: 0\nOutput:\nREADME.md\nsrc\n",
        }
        for item in items
        if item.get("type") == "function_call"
    ]


def codex(client: ProbeClient, s: ProbeSettings) -> str:
    """Codex 0.169's stateless three-turn tool loop: call, replay with the tool's output, follow-up."""
    thread, installation = str(uuid.uuid4()), str(uuid.uuid4())

    def turn(items: list[dict[str, Any]], tool_choice: Any, number: int) -> list[dict[str, Any]]:
        body = {
            "model": s.model,
            "stream": True,
            "input": items,
            "tools": CODEX_TOOLS,
            "tool_choice": tool_choice,
            "parallel_tool_calls": True,
            "reasoning": {"summary": "auto"},  # no effort: Codex sends none unless configured (as recorded)
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": thread,
            "client_metadata": _codex_metadata(thread, str(uuid.uuid4()), installation),
        }
        try:
            stream = client.post_stream("/v1/responses", body, CODEX_HEADERS)
            completed(stream)
        except CaseFailure as failure:
            failure.detail = f"turn {number}: {failure.detail}"
            raise
        return output_items(stream)

    history = [
        text_message("developer", "You are a coding agent. Use the tools when asked; keep answers short.", _msg()),
        text_message(
            "user",
            "<environment_context>\n  <cwd>/tmp/probe</cwd>\n  <shell>bash</shell>\n</environment_context>",
            _msg(),
        ),
        text_message(
            "user", "List the files in the current directory with exec_command. [[call:exec_command]]", _msg()
        ),
    ]
    # Deviation from Codex (which always sends "auto"): turn 1 forces the function, because a real model
    # may answer in text instead, and the loop under test needs a call to replay.
    first = turn(history, {"type": "function", "name": "exec_command"}, 1)
    if not any(i.get("type") == "function_call" for i in first):
        raise CaseFailure("turn 1: no function_call in the output", 200)
    if not any(i.get("type") == "reasoning" and i.get("encrypted_content") for i in first):
        raise CaseFailure("turn 1: no reasoning item with encrypted_content to replay", 200)
    history += [r for r in map(_codex_replay, first) if r is not None] + _codex_tool_outputs(first)
    second = turn(history, "auto", 2)
    history += [r for r in map(_codex_replay, second) if r is not None] + _codex_tool_outputs(second)
    history.append(text_message("user", "Thanks. Reply with the single word: done.", _msg()))
    turn(history, "auto", 3)
    return "3 turns: tool call, replay with encrypted reasoning, follow-up"


def _msg() -> str:
    return f"msg_{uuid.uuid4()}"


# ------------------------------------------------------------------------------------ roo


def _roo_headers() -> dict[str, str]:
    return {
        "accept": "text/event-stream",
        "originator": "roo-code",
        "session_id": str(uuid.uuid4()),
        "user-agent": f"roo-code/{ROO_VERSION} (probe)",
    }


ROO_READ_FILE = {
    "name": "read_file",
    "description": "Read the contents of a file in the workspace.",
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string", "description": "Path relative to the workspace root."}},
        "required": ["path"],
        "additionalProperties": False,
    },
}


def roo_native_body(model: str, service_tier: str | None = None) -> dict[str, Any]:
    """`openai-native.ts` with a codex model at its default effort (medium)."""
    body: dict[str, Any] = {
        "model": model,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Reply with the single word: ok."}]}],
        "stream": True,
        "store": False,
        "instructions": "You are Roo, a coding assistant. Be brief.",
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 128000,
        "prompt_cache_retention": "24h",  # Roo sends it for 5.1-5.3 codex (RooCodeInc/Roo-Code #9544)
        "tools": [{"type": "function", **ROO_READ_FILE, "strict": True}],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    if service_tier is not None:
        body["service_tier"] = service_tier
    return body


def roo_native(client: ProbeClient, s: ProbeSettings) -> str:
    # Roo's base URL is the gateway without /v1, to which its SDK appends /responses.
    completed(client.post_stream("/responses", roo_native_body(s.model), _roo_headers()))
    return "completed"


def roo_native_priority(client: ProbeClient, s: ProbeSettings) -> str:
    """Roo sends `service_tier` only when the user picks flex or priority; priority is the likelier pick."""
    completed(client.post_stream("/responses", roo_native_body(s.model, "priority"), _roo_headers()))
    return "completed"


def roo_chat(client: ProbeClient, s: ProbeSettings) -> str:
    """`openai.ts` ("OpenAI Compatible"), Roo's default settings, through the gateway's chat bridge."""
    body = {
        "model": s.model,
        "temperature": 0,  # always sent; codex models refuse it, the gateway drops it
        "messages": [
            {"role": "system", "content": "You are Roo, a coding assistant. Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Reply with the single word: ok."}]},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "parallel_tool_calls": True,
        "tools": [{"type": "function", "function": {**ROO_READ_FILE, "strict": True}}],
        "tool_choice": "auto",
        # Roo's default custom model info has maxTokens -1 and "Include max output tokens" on (issue 13).
        "max_completion_tokens": -1,
    }
    stream = client.post_stream("/v1/chat/completions", body, _roo_headers())
    finish = [c["finish_reason"] for e in stream.events for c in e.get("choices") or [] if c.get("finish_reason")]
    usage = [e["usage"] for e in stream.events if isinstance(e.get("usage"), dict)]
    if not finish:
        raise CaseFailure("stream ended without finish_reason", stream.status)
    if not usage or not isinstance(usage[-1].get("completion_tokens"), int):
        raise CaseFailure("no usage chunk despite include_usage", stream.status)
    if not stream.done_marker:
        raise CaseFailure("stream ended without data: [DONE]", stream.status)
    return f"finish_reason={finish[-1]}"


# ------------------------------------------------------------------------------------ qoder


def qoder(client: ProbeClient, s: ProbeSettings) -> str:
    """Qoder CLI's `openai-responses` protocol (`Vmn`): system prompt as an input item, effort medium."""
    session = str(uuid.uuid4())
    body = {
        "model": s.model,
        "input": [
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "You are Qoder."}]},
            text_message("user", "Reply with the single word: ok."),
        ],
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "tools": [{"type": "function", **ROO_READ_FILE}],
        "max_output_tokens": 32000,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "prompt_cache_key": session,
    }
    headers = {"accept": "text/event-stream", "content-type": "application/json", "session-id": session}
    completed(client.post_stream("/v1/responses", body, headers))  # Qoder's baseUrl ends in /v1
    return "completed"


# ------------------------------------------------------------------------------------ embeddings


def synthetic_segments(count: int = EMBEDDING_BATCH, chars: int = EMBEDDING_CHARS) -> list[str]:
    """Code-like segments of about `chars` characters, distinct per index: an indexing batch, no user data."""
    segments = []
    for i in range(count):
        line = f"def probe_segment_{i}(values):\n    return [v * {i + 1} for v in values if v % {i + 2}]\n"
        segments.append((line * (chars // len(line) + 1))[:chars])
    return segments


def embeddings(client: ProbeClient, s: ProbeSettings) -> str:
    """Roo's code-index embedder: a batch of 60 in base64, decoded as little-endian float32."""
    body = {"input": synthetic_segments(), "model": s.embeddings_model, "encoding_format": "base64"}
    answer = client.post_json("/v1/embeddings", body)
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or len(data) != EMBEDDING_BATCH:
        raise CaseFailure(f"expected {EMBEDDING_BATCH} vectors, got {len(data) if isinstance(data, list) else 0}", 200)
    for item in data:
        vector = item.get("embedding")
        size = len(base64.b64decode(vector)) / 4 if isinstance(vector, str) else len(vector or [])
        if size != s.embeddings_dimensions:
            raise CaseFailure(f"a vector has {size:g} values, expected {s.embeddings_dimensions}", 200)
    if not isinstance((answer.get("usage") or {}).get("prompt_tokens"), int):
        raise CaseFailure("no integer usage.prompt_tokens", 200)
    return f"{EMBEDDING_BATCH} x {s.embeddings_dimensions} floats"


# ------------------------------------------------------------------------------------ long stream


def long_stream(client: ProbeClient, s: ProbeSettings) -> str:
    """A streamed answer with a silent reasoning phase (no summary asked), long enough that a real model
    can pause longer than the gateway's keepalive interval; every such pause must carry keepalives."""
    body = {
        "model": s.model,
        "input": [
            text_message(
                "user",
                "Write a numbered list of 40 distinct one-sentence tips for writing "
                "maintainable Python code. Think it through first.",
            )
        ],
        "stream": True,
        "store": False,
        "max_output_tokens": 4000,  # bounds the time and the cost; a cut at this bound still passes
    }
    stream = client.post_stream("/v1/responses", body, {"accept": "text/event-stream"})
    completed(stream, allow_max_tokens_cut=True)
    return keepalive_verdict(stream, s.keepalive_seconds)


def keepalive_verdict(stream: Stream, interval: float) -> str:
    """PASS detail when every pause longer than the keepalive interval carried keepalives; else CaseFailure.
    A keepalive is due once the stream has been silent for the interval; a little scheduling slack is allowed."""
    slack = min(2.0, interval / 2)
    timing = f"longest gap between events {stream.longest_event_gap:.1f}s, {stream.keepalives} keepalive(s)"
    if stream.longest_event_gap <= interval + slack:
        return f"{timing}; no gap needed one (interval {interval:g}s)"
    if stream.longest_silence > interval + slack:
        raise CaseFailure(
            f"silent for {stream.longest_silence:.1f}s (keepalive interval {interval:g}s); {timing}", stream.status
        )
    return timing


CASES: tuple[Case, ...] = (
    Case("codex", f"Codex CLI {CODEX_VERSION}", codex),
    Case("roo-native", f"Roo Code {ROO_VERSION} (OpenAI)", roo_native),
    Case("roo-native-priority", f"Roo Code {ROO_VERSION} (OpenAI, priority tier)", roo_native_priority),
    Case("roo-chat", f"Roo Code {ROO_VERSION} (OpenAI Compatible)", roo_chat),
    Case("qoder", "Qoder CLI 1.1.52 (openai-responses)", qoder),
    Case("embeddings", f"Roo Code {ROO_VERSION} (code index)", embeddings),
    Case("long-stream", "any streaming client", long_stream),
)
CASE_NAMES = tuple(c.name for c in CASES)

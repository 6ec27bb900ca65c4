"""Deterministic "model" behaviour: fixed answers, `[[say:TEXT]]`, `[[call]]` / `[[call:NAME]]` and
`[[filter:prompt]]` / `[[filter:completion]]` (Azure's content filter) markers.

The answer never echoes the prompt, so tests that plant canary strings in prompts can prove the gateway never
logs prompts; `[[say:TEXT]]` gives tests a controlled completion canary instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_ANSWER = "Hello from the Azure OpenAI emulator."
REASONING_SUMMARY = "Planning a short answer."
_SAY = re.compile(r"\[\[say:(.*?)\]\]", re.DOTALL)
_CALL = re.compile(r"\[\[call(?::([^\]]+))?\]\]")
_FILTER = re.compile(r"\[\[filter:(prompt|completion)\]\]")
FilterKind = Literal["prompt", "completion"]

APPLY_PATCH_INPUT = (
    "*** Begin Patch\n*** Add File: emulator.txt\n+Hello from the Azure OpenAI emulator.\n*** End Patch\n"
)


@dataclass(frozen=True)
class Tool:
    name: str
    kind: str  # "function" or "custom"
    parameters: dict[str, Any]


def answer_text(user_text: str) -> str:
    match = _SAY.search(user_text)
    return match.group(1) if match else DEFAULT_ANSWER


def content_filter(user_text: str) -> FilterKind | None:
    """Which of Azure's content filters the prompt asks to trip: the prompt's (a 400) or the completion's."""
    match = _FILTER.search(user_text)
    return None if match is None else match.group(1)  # type: ignore[return-value]


def truncated(text: str) -> str:
    """What a filtered completion keeps: the text up to where the filter cut it (its first half)."""
    return text[: len(text) // 2]


def chosen_tool(user_text: str, tools: list[Tool]) -> Tool | None:
    """The tool the marker asks for; None = answer with text (no marker, no tools, or an unknown name)."""
    if not tools:
        return None
    match = _CALL.search(user_text)
    if match is None:
        return None
    name = match.group(1)
    if name is None:
        return tools[0]
    return next((t for t in tools if t.name == name.strip()), None)


def arguments_for(tool: Tool) -> dict[str, Any]:
    """A small argument object that satisfies simple (strict) JSON schemas: one value per property."""
    props = tool.parameters.get("properties") if isinstance(tool.parameters, dict) else None
    if not isinstance(props, dict) or not props:
        return {}
    args: dict[str, Any] = {}
    for name, schema in props.items():
        kind = schema.get("type") if isinstance(schema, dict) else None
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if isinstance(schema, dict) and isinstance(schema.get("enum"), list) and schema["enum"]:
            args[name] = schema["enum"][0]
        elif kind == "integer":
            args[name] = 1
        elif kind == "number":
            args[name] = 1.0
        elif kind == "boolean":
            args[name] = True
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = "emulator"
    return args


def custom_tool_input(tool: Tool) -> str:
    return APPLY_PATCH_INPUT if tool.name == "apply_patch" else "emulator input"


def chunks(text: str, parts: int = 4) -> list[str]:
    """Split text into a few deltas (at word boundaries) so streams have several delta events."""
    if not text:
        return [""]
    words = re.findall(r"\s*\S+", text) or [text]
    words[-1] += text[len("".join(words)) :]  # keep trailing whitespace, so the deltas join to the text
    size = max(1, -(-len(words) // parts))
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]

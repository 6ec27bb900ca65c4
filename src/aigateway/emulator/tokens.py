"""Token estimates: ceil(characters / 4), the rule Azure's own quota estimator is documented to use."""

from __future__ import annotations

from typing import Any


def estimate(text: str) -> int:
    return (len(text) + 3) // 4


def text_of(value: Any) -> str:
    """All the text in a prompt-shaped value (strings, content parts, items), joined; for token counting."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(text_of(v) for v in value)
    if isinstance(value, dict):
        parts: list[str] = []
        for key in ("text", "content", "input", "output", "arguments", "instructions", "encrypted_content"):
            if key in value:
                parts.append(text_of(value[key]))
        return "".join(parts)
    return ""

"""The output-token ceiling: a request may not ask Azure for more output tokens than the model's ceiling.

Azure counts a request against the deployment's tokens-per-minute when it arrives, from the prompt's size
plus the requested maximum output (`max_output_tokens`, `max_tokens`, `max_completion_tokens`). Roo Code's
OpenAI provider asks for 128,000 on every request (Roo-Code v3.52.1, `openai-native.ts`), so four of them
fill a 300k TPM deployment for a minute, for every project. Asking for more than the ceiling is clamped,
never refused: the client still gets an answer, at most the ceiling long (Azure ends it as `incomplete`
with reason `max_output_tokens`, which clients handle). A request that asks for no maximum is left alone.

Values clients send for "no limit" (`-1`, `0`, other non-positive numbers) become the ceiling; whole
numbers sent as floats are treated as whole numbers; other types are left for Azure's own validation.
"""

from __future__ import annotations

from typing import Any

# The fields that ask for an output maximum, per route (chat: the new name and the legacy one).
FIELDS: dict[str, tuple[str, ...]] = {
    "/v1/responses": ("max_output_tokens",),
    "/v1/chat/completions": ("max_completion_tokens", "max_tokens"),
}


def clamp(route: str, payload: dict[str, Any], ceiling: int | None) -> bool:
    """Lowers every output maximum in `payload` above `ceiling` to it, in place; True when one changed.

    Without a ceiling only the "no limit" values are removed, which is what they ask for."""
    changed = False
    for field in FIELDS.get(route, ()):
        if field not in payload:
            continue
        value = payload[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # null means "the model's default"; wrong types are Azure's to refuse
        if isinstance(value, float) and not value.is_integer():
            continue
        wanted = int(value)
        if ceiling is None:
            if wanted <= 0:
                del payload[field]
                changed = True
            continue
        if wanted <= 0 or wanted > ceiling:
            payload[field] = ceiling
            changed = True
        elif isinstance(value, float):
            payload[field] = wanted
            changed = True
    return changed

"""What Azure accepts for one model: the request values a deployment refuses with a 400, per model family.

Clients are written for OpenAI's catalogue, where every model takes every value; Azure refuses what its
deployment of a model does not support, on the first request (issue 13, with the public record in
`docs/emulator.md`): `text.verbosity` other than `medium` on codex models (openai/codex #19188),
`prompt_cache_retention` on models without extended caching (RooCodeInc/Roo-Code #9544), efforts a model
does not offer, and output maxima below 16. The gateway fits each request to its model's profile
(`azure_fit`), so a client's default never becomes a user's first error.

A field left `None` means "Azure takes any value": unknown models are passed on untouched. Operators
correct a profile without a release through `GATEWAY_MODEL_PROFILES` (JSON, alias -> fields), for instance
after `aigateway probe` shows that Azure now takes `prompt_cache_retention` for a model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Ordered from least to most effort: an unsupported effort becomes the nearest one the model offers.
EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh")


class ModelProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    efforts: tuple[str, ...] | None = None  # reasoning.effort / reasoning_effort values Azure accepts
    verbosities: tuple[str, ...] | None = None  # text.verbosity / verbosity values Azure accepts
    prompt_cache_retention: tuple[str, ...] | None = None  # () = the parameter itself is refused
    service_tiers: tuple[str, ...] | None = None
    min_output_tokens: int = Field(default=16, ge=1)  # OpenAI's and Azure's floor for max_output_tokens


# Codex models on Azure (gpt-5.1-codex-max, 5.2-codex, 5.3-codex): the efforts Azure's model pages list,
# verbosity fixed at medium, no extended prompt caching, the standard service tiers only.
CODEX = ModelProfile(
    efforts=("low", "medium", "high", "xhigh"),
    verbosities=("medium",),
    prompt_cache_retention=(),
    service_tiers=("auto", "default"),
)
OPEN = ModelProfile()

_FAMILIES: tuple[tuple[str, ModelProfile], ...] = (("gpt-5.3-codex", CODEX), ("gpt-5.2-codex", CODEX))


def default_profile(model: str) -> ModelProfile:
    """The built-in profile for a model name (the deployment's model; aliases usually equal it)."""
    for prefix, profile in _FAMILIES:
        if model.startswith(prefix):
            return profile
    return OPEN


def nearest_effort(wanted: str, offered: tuple[str, ...]) -> str | None:
    """The offered effort closest to `wanted` (ties go to more effort); None when nothing is offered."""
    ranked = [e for e in EFFORT_ORDER if e in offered]
    if not ranked or wanted not in EFFORT_ORDER:
        return None
    position = EFFORT_ORDER.index(wanted)
    return min(ranked, key=lambda e: (abs(EFFORT_ORDER.index(e) - position), -EFFORT_ORDER.index(e)))

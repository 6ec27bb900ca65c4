"""Fit a request to what Azure accepts: the clients' defaults that Azure answers with a 400 are adjusted.

Each rule exists because a real client sends something a real Azure deployment has refused (sources in
`docs/emulator.md`, whose strict mode refuses the same things). Nothing here changes what the model is
asked: values outside the model's profile become the nearest accepted one or Azure's default, fields only
one client's own backend understands are dropped, and a stateless replay is put in the form Azure accepts.

Stateless replay (`store:false`: Codex, Roo, Qoder) follows the live matrix of Azure/azure-sdk-for-net
#59967: a `reasoning` item keeps its `id` when it carries `encrypted_content` (Azure then reads the blob, and
refuses it without the id: openai/codex #3451), a reasoning item without the blob is dropped (its id names
nothing Azure kept: openai/codex #35739), and every other item loses its `id` (Azure would look the id up
among stored items and fail). Codex 0.169 sends ids on every item, its own `msg_<uuid>` ones included.

Returns the names of what changed (for the telemetry line; never values).
"""

from __future__ import annotations

from typing import Any

from aigateway.proxy.model_profile import ModelProfile, nearest_effort

RESPONSES_ROUTE = "/v1/responses"
CHAT_ROUTE = "/v1/chat/completions"

# Top-level fields a client sends for its own vendor's backend; Azure refuses them as unknown parameters.
CLIENT_ONLY_FIELDS = ("client_metadata",)  # Codex >= 0.16x: OpenAI's request attribution

# The fields Azure knows on each replayable input item; others (Codex App's `metadata`,
# `internal_chat_message_metadata_passthrough`: openai/codex #29469, #30161) are Azure's unknown_parameter.
# The emulator's strict mode keeps its own copy on purpose: a gateway tested against a table it shares with
# its test double would pass whatever the table said.
ITEM_FIELDS: dict[str, frozenset[str]] = {
    "message": frozenset({"type", "role", "content", "id", "status"}),
    "function_call": frozenset({"type", "id", "call_id", "name", "arguments", "status"}),
    "function_call_output": frozenset({"type", "id", "call_id", "output", "status"}),
    "custom_tool_call": frozenset({"type", "id", "call_id", "name", "input", "status"}),
    "custom_tool_call_output": frozenset({"type", "id", "call_id", "output"}),
    "reasoning": frozenset({"type", "id", "summary", "content", "encrypted_content", "status"}),
}


def fit(route: str, payload: dict[str, Any], profile: ModelProfile, force_stateless: bool = False) -> list[str]:
    """Adjusts `payload` in place for `route`; the names of the fields it changed."""
    changed: list[str] = []
    if route == RESPONSES_ROUTE:
        _fit_responses(payload, profile, force_stateless, changed)
    elif route == CHAT_ROUTE:
        _fit_chat(payload, profile, changed)
    return changed


def _fit_responses(payload: dict[str, Any], profile: ModelProfile, force_stateless: bool, changed: list[str]) -> None:
    for field in CLIENT_ONLY_FIELDS:
        if payload.pop(field, None) is not None:
            changed.append(field)
    reasoning = payload.get("reasoning")
    if isinstance(reasoning, dict) and _fit_effort(reasoning, "effort", profile):
        changed.append("reasoning.effort")
    text = payload.get("text")
    if isinstance(text, dict) and _outside(text.get("verbosity"), profile.verbosities):
        del text["verbosity"]  # Azure's default for the model
        if not text:
            del payload["text"]
        changed.append("text.verbosity")
    _fit_common(payload, profile, "max_output_tokens", changed)
    if _drop_empty_descriptions(payload.get("tools")):
        changed.append("tools.description")
    items = payload.get("input")
    if isinstance(items, list):
        stateless = force_stateless or payload.get("store") is False
        fitted = _fit_items(items, stateless)
        if fitted != items:
            payload["input"] = fitted
            changed.append("input")


def _fit_chat(payload: dict[str, Any], profile: ModelProfile, changed: list[str]) -> None:
    if _fit_effort(payload, "reasoning_effort", profile):
        changed.append("reasoning_effort")
    if _outside(payload.get("verbosity"), profile.verbosities):
        del payload["verbosity"]
        changed.append("verbosity")
    for field in ("max_completion_tokens", "max_tokens"):
        _fit_common(payload, profile, field, changed)


def _fit_common(payload: dict[str, Any], profile: ModelProfile, max_field: str, changed: list[str]) -> None:
    for field, offered in (
        ("prompt_cache_retention", profile.prompt_cache_retention),
        ("service_tier", profile.service_tiers),
    ):
        if _outside(payload.get(field), offered):
            del payload[field]
            changed.append(field)
    wanted = payload.get(max_field)
    if isinstance(wanted, int) and not isinstance(wanted, bool) and 0 < wanted < profile.min_output_tokens:
        payload[max_field] = profile.min_output_tokens
        changed.append(max_field)


def _outside(value: Any, offered: tuple[str, ...] | None) -> bool:
    return value is not None and offered is not None and value not in offered


def _fit_effort(holder: dict[str, Any], key: str, profile: ModelProfile) -> bool:
    wanted = holder.get(key)
    if not isinstance(wanted, str) or not _outside(wanted, profile.efforts):
        return False
    assert profile.efforts is not None
    nearest = nearest_effort(wanted, profile.efforts)
    if nearest is None:
        return False  # not an effort at all: Azure's own 400 names it
    holder[key] = nearest
    return True


def _drop_empty_descriptions(tools: Any) -> bool:
    """Azure refuses `description: ""` (empty_string, openai/codex #37380); no description means the same."""
    changed = False
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict):
            continue
        if tool.get("description") == "":
            del tool["description"]
            changed = True
        changed = _drop_empty_descriptions(tool.get("tools")) or changed  # Codex's `namespace` tools nest
    return changed


def _fit_items(items: list[Any], stateless: bool) -> list[Any]:
    fitted: list[Any] = []
    for item in items:
        if not isinstance(item, dict) or item.get("type", "message") not in ITEM_FIELDS:
            fitted.append(item)  # references, built-in tool items, text: Azure's to judge
            continue
        kind = item.get("type", "message")
        known = {k: v for k, v in item.items() if k in ITEM_FIELDS[kind]}
        if stateless:
            if kind == "reasoning":
                if not known.get("encrypted_content") or not isinstance(known.get("id"), str):
                    continue  # nothing Azure can resolve: its context is lost either way
            else:
                known.pop("id", None)
        fitted.append(known if len(known) != len(item) else item)
    return fitted

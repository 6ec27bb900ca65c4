"""api-version rules for the two route families."""

from __future__ import annotations

from aigateway.emulator import errors
from aigateway.emulator.wire import JsonReply

V1_VERSIONS = frozenset({"v1", "preview", "latest"})
DATED_VERSIONS = frozenset(
    {
        "2022-12-01",
        "2023-05-15",
        "2023-06-01-preview",
        "2023-12-01-preview",
        "2024-02-01",
        "2024-02-15-preview",
        "2024-03-01-preview",
        "2024-04-01-preview",
        "2024-05-01-preview",
        "2024-06-01",
        "2024-07-01-preview",
        "2024-08-01-preview",  # Roo Code's Azure default
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-10-21",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
RESPONSES_FIRST_VERSION = "2025-03-01-preview"


def check_v1(api_version: str | None) -> JsonReply | None:
    if api_version is None or api_version in V1_VERSIONS:
        return None
    return JsonReply(400, errors.API_VERSION_NOT_SUPPORTED)


def check_dated(api_version: str | None) -> JsonReply | None:
    # `preview` is a v1 value; on a dated path Azure answers as if the route did not exist. So does a missing one.
    if api_version is None or api_version in V1_VERSIONS:
        return JsonReply(404, errors.RESOURCE_NOT_FOUND)
    if api_version not in DATED_VERSIONS:
        return JsonReply(400, errors.API_VERSION_NOT_SUPPORTED)
    return None


def check_dated_responses(api_version: str, model: str) -> JsonReply | None:
    if api_version[:10] < RESPONSES_FIRST_VERSION[:10]:
        return JsonReply(400, errors.RESPONSES_API_VERSION_TOO_OLD)
    # Seen on real Azure: gpt-5.3-codex refuses the first Responses preview version.
    if api_version == RESPONSES_FIRST_VERSION and "codex" in model:
        return JsonReply(400, errors.API_VERSION_NOT_SUPPORTED)
    return None

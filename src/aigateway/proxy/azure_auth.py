"""How the gateway proves itself to Azure OpenAI: the resource's API key, or an Entra token.

The token comes from the Container App's managed identity (or any DefaultAzureCredential source
locally) and is cached until five minutes before it expires, so a request pays for a fetch at most
once an hour.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
_REFRESH_MARGIN_SECONDS = 300


class AzureAuth(Protocol):
    async def headers(self) -> dict[str, str]: ...


class ApiKeyAuth:
    def __init__(self, key: str) -> None:
        self._headers = {"api-key": key}

    async def headers(self) -> dict[str, str]:
        return self._headers


class EntraAuth:
    def __init__(self, credential: Any) -> None:
        self._credential = credential  # azure.identity.aio credential: `await get_token(scope)`
        self._lock = asyncio.Lock()
        self._headers: dict[str, str] = {}
        self._refresh_at = 0.0

    async def headers(self) -> dict[str, str]:
        if time.time() < self._refresh_at:
            return self._headers
        async with self._lock:  # one fetch, however many requests arrive while it runs
            if time.time() >= self._refresh_at:
                token = await self._credential.get_token(COGNITIVE_SERVICES_SCOPE)
                self._headers = {"authorization": f"Bearer {token.token}"}
                self._refresh_at = token.expires_on - _REFRESH_MARGIN_SECONDS
        return self._headers


def entra_credential(client_id: str | None) -> Any:
    """The user-assigned identity when its client id is given (the Container App), else the default chain."""
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if client_id:
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential()

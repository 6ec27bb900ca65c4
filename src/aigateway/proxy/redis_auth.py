"""How the limiter proves itself to Azure (Managed) Redis when GATEWAY_REDIS_AUTH=entra: an Entra ID token.

Microsoft's credential provider for redis-py (`redis-entraid`) does the work: when a connection opens it takes
a token for https://redis.azure.com/.default and sends `AUTH <oid claim> <token>`; in the background it fetches
the next token at 70 % of the current one's lifetime and re-authenticates every pooled connection with it.
The token comes from the Container App's user-assigned managed identity (AZURE_CLIENT_ID), or from the
DefaultAzureCredential chain when no client id is set (a developer's `az login`). Nothing here reads, keeps
or logs a token.

Two things are ours, both about failing well:
- a token that cannot be had surfaces as `CredentialUnavailable`, a RedisError, so the limiter counts alone
  exactly as when Redis is down (and redis-py drops the half-open connection instead of pooling it);
- a failed background renewal is reported to the limiter instead of being raised into a task nobody awaits,
  and the next connection starts the renewal again (the provider's own loop stops at its first failure).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.credentials import StreamingCredentialProvider
from redis.exceptions import RedisError

REDIS_SCOPE = "https://redis.azure.com/.default"
# redis-entraid asks for tokens synchronously, on the event loop. azure-identity answers from its cache almost
# always (a managed-identity token lives ~24 h), but when it does go to the identity endpoint, an endpoint that
# hangs must not hold every request of the replica: one attempt, 1 s to connect, 2 s to answer (the defaults
# retry for minutes). The limiter waits before asking again after a failure.
_IDENTITY_CONNECT_SECONDS, _IDENTITY_READ_SECONDS = 1, 2

RenewalFailed = Callable[["CredentialUnavailable"], Awaitable[None]]
ProviderFactory = Callable[[RenewalFailed], StreamingCredentialProvider]


class CredentialUnavailable(RedisError):
    """No Entra token for Redis. The message is a short cause (the credential error's type name), never the
    error's text, which could quote what the identity endpoint sent."""


def redis_credential(client_id: str | None) -> Any:
    """The user-assigned identity when its client id is given (the Container App), else the default chain."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if client_id:
        return ManagedIdentityCredential(
            client_id=client_id,
            connection_timeout=_IDENTITY_CONNECT_SECONDS,
            read_timeout=_IDENTITY_READ_SECONDS,
            retry_total=0,
        )
    return DefaultAzureCredential()


def entra_provider_factory(credential: Any) -> ProviderFactory:
    """Credential providers for redis-py that authenticate with tokens from `credential` (anything with
    azure-identity's synchronous `get_token(*scopes, **kwargs) -> AccessToken`), through redis-entraid."""
    from redis_entraid.cred_provider import (
        DEFAULT_EXPIRATION_REFRESH_RATIO,
        DEFAULT_LOWER_REFRESH_BOUND_MILLIS,
        DEFAULT_TOKEN_REQUEST_EXECUTION_TIMEOUT_IN_MS,
        EntraIdCredentialsProvider,
        RetryPolicy,
        TokenManagerConfig,
    )
    from redis_entraid.identity_provider import DefaultAzureCredentialProvider

    class GatewayEntraProvider(EntraIdCredentialsProvider):  # type: ignore[misc]  # redis-entraid is untyped
        def __init__(self, on_renewal_failed: RenewalFailed) -> None:
            super().__init__(
                DefaultAzureCredentialProvider(credential, (REDIS_SCOPE,)),
                TokenManagerConfig(
                    DEFAULT_EXPIRATION_REFRESH_RATIO,
                    DEFAULT_LOWER_REFRESH_BOUND_MILLIS,
                    DEFAULT_TOKEN_REQUEST_EXECUTION_TIMEOUT_IN_MS,
                    RetryPolicy(0, 0),  # no blocking retries on the loop: the limiter retries later
                ),
            )
            self._on_renewal_failed = on_renewal_failed

        async def get_credentials_async(self) -> tuple[str, str]:
            try:
                username, token = await super().get_credentials_async()
            except Exception as exc:
                raise CredentialUnavailable(_cause(exc)) from None
            if not username:
                raise CredentialUnavailable("token without an oid claim")
            return username, token

        def on_error(self, callback: Any) -> None:
            # redis-py's callback re-raises the error into the renewal task, where nobody sees it.
            super().on_error(self._renewal_failed)

        async def _renewal_failed(self, error: Exception) -> None:
            # The renewal loop has stopped; with this flag down (redis-entraid's own, checked by
            # get_credentials_async) the next connection starts it again. tests/e2e/test_shared_limits.py
            # fails if an upgrade changes that.
            self._is_streaming = False
            await self._on_renewal_failed(CredentialUnavailable(_cause(error)))

    return GatewayEntraProvider


def _cause(exc: BaseException) -> str:
    """The innermost exception's type name: redis-entraid wraps the credential's error in RequestTokenErr."""
    while True:
        inner = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], BaseException) else exc.__cause__
        if inner is None:
            return type(exc).__name__
        exc = inner

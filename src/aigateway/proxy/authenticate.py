"""Authenticate: which project sends this request, or why it is refused.

In order: a client address that failed too often lately is throttled (before any key is compared, so
guessing gains nothing); a request with two copies of a credential header is refused (which copy counts
must never depend on who reads the headers); the key is looked up in constant time, and a miss counts
against the client's address.
"""

from __future__ import annotations

from collections.abc import Mapping

from aigateway.proxy.asgi import Scope
from aigateway.proxy.client_guard import ClientGuard
from aigateway.proxy.keys import KeyTable, duplicated_credential, presented_key
from aigateway.proxy.rejection import Rejection
from aigateway.proxy.telemetry import RequestRecord
from aigateway.settings import Project

INVALID_KEY = (
    "Missing or invalid gateway key: send your project key as 'Authorization: Bearer <key>', "
    "'x-gateway-key: <key>', 'api-key: <key>' or 'x-api-key: <key>'."
)


class Authenticator:
    def __init__(self, keys: KeyTable, clients: ClientGuard) -> None:
        self.keys = keys
        self.clients = clients

    def __call__(self, scope: Scope, headers: Mapping[str, str], record: RequestRecord) -> Project | Rejection:
        client = self.clients.identify(scope)
        record.source = client.source
        wait = self.clients.throttled_for(client)
        if wait:
            return Rejection.throttled(
                f"Too many failed authentications from your address; retry after {wait} s.", "auth_throttled", wait
            )
        duplicated = duplicated_credential(scope["headers"])
        if duplicated is not None:
            return Rejection(
                400,
                f"The request carries more than one '{duplicated}' header; send your key once.",
                "duplicate_credentials",
            )
        project = self.keys.lookup(presented_key(headers))
        if project is None:
            self.clients.failed(client)
            return Rejection(401, INVALID_KEY, "invalid_api_key")
        record.project = project.name
        return project

"""The direct path to Azure for the routes that need no translation: Responses and embeddings.

Azure already speaks OpenAI's wire format on these routes, so the gateway only maps the alias to the
deployment, picks Azure's URL and api-version, and adds Azure's credentials; bodies go through as bytes.
Streams are relayed one upstream read at a time, so every event leaves as soon as it arrives. Compared
with LiteLLM's path (which parses, re-validates and re-serialises every request and response) this costs
a small fraction of the CPU; see docs/benchmarks.md. Chat completions still go to LiteLLM, which bridges
them to the Responses API.

The HTTP client is aiohttp (already in the image: LiteLLM uses it under httpx by default): its C parser and
connection pool cost a fraction of httpx's per request, which on this path is most of the gateway's CPU.
Retries and their telemetry are the same loop LiteLLM's path runs (`upstream.retrying`).

Stored responses belong to the project that created them (`ownership` holds the rules): creates are
tagged with the project, and every by-id call or `previous_response_id` is checked against the tag Azure
returns before anything is relayed. Under GATEWAY_FORCE_STORE_FALSE nothing is stored at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from aigateway.proxy import ownership
from aigateway.proxy.asgi import Receive, Scope, Send, error_body, respond_json
from aigateway.proxy.azure_auth import AzureAuth
from aigateway.proxy.disconnect import answer_unless_gone
from aigateway.proxy.stream_errors import StreamGuard, note_incomplete
from aigateway.proxy.telemetry import RequestRecord
from aigateway.proxy.upstream import RetryPolicy, retrying
from aigateway.settings import Settings, is_v1_api_version

CREATE_ROUTE = "/v1/responses"
# Routes that act on one stored response; the id is the path segment after /responses.
BY_ID_ROUTES = frozenset({"/v1/responses/{id}", "/v1/responses/{id}/cancel", "/v1/responses/{id}/input_items"})
ROUTES = frozenset({CREATE_ROUTE, "/v1/embeddings", *BY_ID_ROUTES})
# Failures worth another attempt before any byte reached the client.
TRANSIENT_ERRORS = (aiohttp.ClientConnectionError, TimeoutError)
# Connection-level or misleading once relayed (we set our own length, date and request id).
_DROPPED_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date", b"set-cookie", b"via"}
)


@dataclass(frozen=True)
class AzureTargets:
    """Azure URLs for a configured endpoint: the v1 routes, or the dated ones, per api-version setting."""

    endpoint: str
    responses_api_version: str
    embeddings_api_version: str
    deployments: dict[str, str]  # alias -> deployment
    force_store_false: bool = False  # GATEWAY_FORCE_STORE_FALSE: Azure stores no prompt or answer

    @classmethod
    def from_settings(cls, settings: Settings, endpoint: str) -> AzureTargets:
        deployments = {
            settings.gateway_codex_model: settings.codex_deployment,
            settings.gateway_embeddings_model: settings.embeddings_deployment,
        }
        deployments.update({m.alias: m.deployment for m in settings.gateway_extra_models})
        return cls(
            endpoint.rstrip("/"),
            settings.azure_openai_responses_api_version,
            settings.azure_openai_embeddings_api_version,
            deployments,
            settings.gateway_force_store_false,
        )

    def responses_url(self, suffix: str = "", query: str = "") -> str:
        """`suffix` is what follows `/responses` in the client's path, e.g. `/resp_1/input_items`."""
        version = self.responses_api_version
        base = "/openai/v1/responses" if is_v1_api_version(version) else "/openai/responses"
        return f"{self.endpoint}{base}{suffix}?{_with_api_version(query, version)}"

    def embeddings_url(self, deployment: str) -> str:
        version = self.embeddings_api_version
        if is_v1_api_version(version):
            return f"{self.endpoint}/openai/v1/embeddings?api-version={version}"
        return f"{self.endpoint}/openai/deployments/{quote(deployment, safe='')}/embeddings?api-version={version}"

    def request(
        self, route: str, path: str, query: str, body: bytes, payload: dict[str, Any] | None
    ) -> tuple[str, bytes]:
        """Azure's URL and body for a validated client request on one of `ROUTES`."""
        if route in BY_ID_ROUTES:  # Azure takes no body here: a body must not turn a cancel into a create
            return self.responses_url(path[path.index("/responses") + len("/responses") :], query), b""
        assert payload is not None  # the front parsed the JSON body of every create
        deployment = self.deployments[payload["model"]]
        if deployment != payload["model"]:
            body = orjson.dumps({**payload, "model": deployment})
        if route == "/v1/embeddings":
            return self.embeddings_url(deployment), body
        return self.responses_url(query=query), body


def _with_api_version(query: str, version: str) -> str:
    kept = [part for part in query.split("&") if part and not part.startswith("api-version=")]
    return "&".join([*kept, f"api-version={version}"])


class Passthrough:
    def __init__(
        self, targets: AzureTargets, auth: AzureAuth, policy: RetryPolicy, timeout_seconds: float, max_connections: int
    ) -> None:
        self._targets = targets
        self._auth = auth
        self._policy = policy
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(10.0, timeout_seconds), sock_read=timeout_seconds
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._owners = ownership.OwnerCache()

    def _client(self) -> aiohttp.ClientSession:
        """One pooled session per process, created inside the running event loop (aiohttp requires it)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300),
                timeout=self._timeout,
                auto_decompress=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __call__(
        self,
        scope: Scope,
        body: bytes,
        payload: dict[str, Any] | None,
        receive: Receive,
        send: Send,
        record: RequestRecord,
    ) -> None:
        """Relay one request; if the client goes away first, stop waiting on Azure at once."""
        await answer_unless_gone(
            lambda out: self._exchange(scope, body, payload, out, record),
            receive,
            send,
            record,
            ignored_on_cancel=(aiohttp.ClientError, OSError),
        )

    async def _exchange(
        self,
        scope: Scope,
        body: bytes,
        payload: dict[str, Any] | None,
        send: Send,
        record: RequestRecord,
    ) -> None:
        route = record.route
        query = scope.get("query_string", b"").decode("latin-1")
        if route in BY_ID_ROUTES:
            await self._by_id(scope, query, send, record)
            return
        if route == CREATE_ROUTE:
            assert payload is not None  # the front parsed the JSON body of every create
            prepared = ownership.prepare_create(payload, record.project or "", self._targets.force_store_false)
            if isinstance(prepared, ownership.Refusal):
                await _answer(send, record, prepared.status, prepared.body())
                return
            previous = prepared.get("previous_response_id")
            if previous is not None and not await self._continues_own(previous, send, record):
                return
            # Re-serialised from the parsed body: the tag is in, and a duplicated key cannot reach Azure.
            payload, body = prepared, orjson.dumps(prepared)
        url, content = self._targets.request(route, scope["path"], query, body, payload)
        response = await self._call(scope["method"], url, content, send, record)
        if response is not None:
            await self._relay(response, send, record, strip=route == CREATE_ROUTE)

    async def _by_id(self, scope: Scope, query: str, send: Send, record: RequestRecord) -> None:
        """GET, input_items, cancel or DELETE on a stored response: relayed only for the project that owns it."""
        path: str = scope["path"]
        response_id = path[path.index("/responses/") + len("/responses/") :].split("/", 1)[0]
        foreign = False
        if not self._targets.force_store_false:
            found = await self._lookup(response_id, send, record)
            if found is None:
                return
            owner, stored = found
            if owner is not None and owner == record.project:
                plain_get = record.route == "/v1/responses/{id}" and scope["method"] == "GET" and not query
                if stored is not None and plain_get:  # the lookup already fetched what the client asked for
                    await _send_buffered(send, stored.status, stored.headers, self._strip(stored.data))
                    return
                url, _ = self._targets.request(record.route, path, query, b"", None)
                response = await self._call(scope["method"], url, b"", send, record)
                if response is None:
                    return
                if scope["method"] == "DELETE" and response.status == 200:
                    self._owners.forget(response_id)
                await self._relay(response, send, record, strip=True)
                return
            foreign = owner is not None
        status, body = ownership.not_found(response_id)
        await _answer(send, record, status, body)
        if foreign:  # the client sees an unknown id; the log line tells operators what it was
            record.error_class = "response_not_owned"

    async def _continues_own(self, previous: object, send: Send, record: RequestRecord) -> bool:
        """True when `previous_response_id` names a response of this project; otherwise the client has been
        answered as Azure answers an unknown previous response."""
        owner = None
        if not self._targets.force_store_false and isinstance(previous, str) and ownership.is_response_id(previous):
            found = await self._lookup(previous, send, record)
            if found is None:
                return False
            owner = found[0]
            if owner is not None and owner == record.project:
                return True
        status, body = ownership.previous_not_found(str(previous)[:256])
        await _answer(send, record, status, body)
        if owner is not None:
            record.error_class = "response_not_owned"
        return False

    async def _lookup(
        self, response_id: str, send: Send, record: RequestRecord
    ) -> tuple[str | None, _Stored | None] | None:
        """The project that owns a stored response (None: unknown or untagged), from this replica's cache or
        from Azure; with Azure's answer when it was fetched. None when the client was answered already
        (Azure could not be asked, or refused with something other than 404)."""
        owner = self._owners.get(response_id)
        if owner is not None:
            return owner, None
        url = self._targets.responses_url(f"/{response_id}")
        response = await self._call("GET", url, b"", send, record)
        if response is None:
            return None
        try:
            data = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            response.close()
            await _fail(send, record, 502, "Azure OpenAI's answer broke off.", "upstream_broken")
            return None
        except BaseException:
            response.close()  # the client left mid-lookup: this connection cannot be reused
            raise
        response.release()
        stored = _Stored(response.status, _relayed_headers(response), data)
        if stored.status == 404:
            return None, stored
        if stored.status != 200:  # throttled, failing, ...: says nothing about the response; hand it on
            await _send_buffered(send, stored.status, stored.headers, data)
            return None
        owner = ownership.owner_of(data)
        if owner is not None:
            self._owners.put(response_id, owner)
        return owner, stored

    async def _call(
        self, method: str, url: str, content: bytes, send: Send, record: RequestRecord
    ) -> aiohttp.ClientResponse | None:
        """Azure's response, retried per policy; None when the client was answered with a 502/504 instead."""
        # identity: bytes are relayed as they come, and telemetry can read usage from them.
        headers = {**(await self._auth.headers()), "accept-encoding": "identity"}
        if content:
            headers["content-type"] = "application/json"
        session = self._client()

        def send_once() -> Awaitable[aiohttp.ClientResponse]:
            return session.request(method, url, data=content or None, headers=headers, allow_redirects=False)

        try:
            return await retrying(self._policy, send_once, _status, _headers, _discard, TRANSIENT_ERRORS)
        except TimeoutError:
            await _fail(send, record, 504, "Azure OpenAI did not answer in time.", "upstream_timeout")
        except aiohttp.ClientError:
            await _fail(send, record, 502, "The gateway could not reach Azure OpenAI.", "upstream_unreachable")
        return None

    def _strip(self, data: bytes) -> bytes:
        return ownership.strip_json(data, self._owners.learn)

    async def _relay(self, response: aiohttp.ClientResponse, send: Send, record: RequestRecord, strip: bool) -> None:
        """Hand Azure's answer on (without the owner tag when `strip`), then give the connection back."""
        try:
            await self._relay_body(response, send, record, strip)
        except BaseException:
            response.close()  # not reusable mid-body; also tells Azure to stop when the client left
            raise
        response.release()

    async def _relay_body(
        self, response: aiohttp.ClientResponse, send: Send, record: RequestRecord, strip: bool
    ) -> None:
        headers = _relayed_headers(response)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            try:
                data = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                await _fail(send, record, 502, "Azure OpenAI's answer broke off.", "upstream_broken")
                return
            if strip and 200 <= response.status < 300:
                data = self._strip(data)
                note_incomplete(data, record)
            await _send_buffered(send, response.status, headers, data)
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        stripper = ownership.EventStripper(self._owners.learn) if strip else None
        guard = StreamGuard(record)  # Azure's in-band errors become `response.failed`, which clients read
        try:
            async for chunk in response.content.iter_any():  # each read as it arrives: no event waits
                out = guard.feed(stripper.feed(chunk) if stripper is not None else chunk)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                if guard.cut:
                    break  # the stream failed in-band: whatever Azure sends after it is not relayed
            else:
                rest = stripper.flush() if stripper is not None else b""
                out = guard.feed(rest) + guard.flush()
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Bytes already reached the client, so no retry: end the stream the way a failed response ends.
            if stripper is not None:
                stripper.discard()
            if isinstance(exc, TimeoutError):
                failed = guard.failure_event("upstream_timeout", "Azure OpenAI's stream stalled; retry.")
            else:
                failed = guard.failure_event("upstream_stream_broken", "Azure OpenAI's stream broke off; retry.")
            if failed:
                await send({"type": "http.response.body", "body": failed, "more_body": True})
        if guard.cut and not response.content.at_eof():
            response.close()  # Azure may still be sending: this connection cannot be reused
        await send({"type": "http.response.body", "body": b""})


@dataclass(frozen=True, slots=True)
class _Stored:
    """Azure's answer to the ownership lookup (GET of the stored response)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    data: bytes


def _relayed_headers(response: aiohttp.ClientResponse) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in response.raw_headers if k.lower() not in _DROPPED_HEADERS]


async def _send_buffered(send: Send, status: int, headers: list[tuple[bytes, bytes]], data: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def _answer(send: Send, record: RequestRecord, status: int, body: bytes) -> None:
    """An answer the gateway gives itself, instead of Azure's."""
    record.error_source = "gateway"
    await respond_json(send, status, body)


def _status(response: aiohttp.ClientResponse) -> int:
    return response.status


def _headers(response: aiohttp.ClientResponse) -> Mapping[str, str]:
    return response.headers


async def _discard(response: aiohttp.ClientResponse) -> None:
    response.release()


async def _fail(send: Send, record: RequestRecord, status: int, message: str, code: str) -> None:
    record.error_class, record.error_source = code, "azure"
    await respond_json(send, status, error_body(message, "upstream_error", code, None, record.upstream_request_id))

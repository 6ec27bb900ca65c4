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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from aigateway.proxy.asgi import Message, Receive, Scope, Send, error_body, respond_json
from aigateway.proxy.azure_auth import AzureAuth
from aigateway.proxy.telemetry import RequestRecord
from aigateway.proxy.upstream import RetryPolicy, retrying
from aigateway.settings import Settings, is_v1_api_version

ROUTES = frozenset(
    {
        "/v1/responses",
        "/v1/embeddings",
        "/v1/responses/{id}",
        "/v1/responses/{id}/cancel",
        "/v1/responses/{id}/input_items",
    }
)
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
        if payload is None:  # /v1/responses/{id}...: no body to map
            return self.responses_url(path[path.index("/responses") + len("/responses") :], query), body
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
        finished = False  # the last body message went out: uvicorn then reports the request as over

        async def tracked_send(message: Message) -> None:
            nonlocal finished
            finished = message["type"] == "http.response.body" and not message.get("more_body", False)
            await send(message)

        exchange = asyncio.ensure_future(self._exchange(scope, body, payload, tracked_send, record))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({exchange, gone}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            exchange.cancel()
            raise
        finally:
            gone.cancel()
        if exchange.done() or finished:
            await exchange
            return
        record.client_disconnected = True
        exchange.cancel()
        # Whatever the cancelled exchange raises on its way out concerns nobody: the client is gone.
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, OSError):
            await exchange

    async def _exchange(
        self,
        scope: Scope,
        body: bytes,
        payload: dict[str, Any] | None,
        send: Send,
        record: RequestRecord,
    ) -> None:
        url, content = self._targets.request(
            record.route, scope["path"], scope.get("query_string", b"").decode("latin-1"), body, payload
        )
        # identity: bytes are relayed as they come, and telemetry can read usage from them.
        headers = {**(await self._auth.headers()), "accept-encoding": "identity"}
        if content:
            headers["content-type"] = "application/json"
        session = self._client()

        def send_once() -> Awaitable[aiohttp.ClientResponse]:
            return session.request(scope["method"], url, data=content or None, headers=headers, allow_redirects=False)

        try:
            response = await retrying(self._policy, send_once, _status, _headers, _discard, TRANSIENT_ERRORS)
        except TimeoutError:
            await _fail(send, record, 504, "Azure OpenAI did not answer in time.", "upstream_timeout")
            return
        except aiohttp.ClientError:
            await _fail(send, record, 502, "The gateway could not reach Azure OpenAI.", "upstream_unreachable")
            return
        try:
            await self._relay(response, send, record)
        except BaseException:
            response.close()  # not reusable mid-body; also tells Azure to stop when the client left
            raise
        response.release()

    async def _relay(self, response: aiohttp.ClientResponse, send: Send, record: RequestRecord) -> None:
        headers = [(k, v) for k, v in response.raw_headers if k.lower() not in _DROPPED_HEADERS]
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            try:
                data = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                await _fail(send, record, 502, "Azure OpenAI's answer broke off.", "upstream_broken")
                return
            headers.append((b"content-length", str(len(data)).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": data})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        try:
            async for chunk in response.content.iter_any():  # each read as it arrives: no event waits
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, TimeoutError):
            # Bytes already reached the client, so no retry: end the stream the way a failed response ends.
            record.error_class, record.error_source = "upstream_stream_broken", "azure"
            await send({"type": "http.response.body", "body": _STREAM_BROKEN_EVENT, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _status(response: aiohttp.ClientResponse) -> int:
    return response.status


def _headers(response: aiohttp.ClientResponse) -> Mapping[str, str]:
    return response.headers


async def _discard(response: aiohttp.ClientResponse) -> None:
    response.release()


_STREAM_BROKEN_EVENT = (
    b"event: response.failed\ndata: "
    + orjson.dumps(
        {
            "type": "response.failed",
            "response": {
                "object": "response",
                "status": "failed",
                "error": {"code": "upstream_stream_broken", "message": "Azure OpenAI's stream broke off; retry."},
                "output": [],
            },
        }
    )
    + b"\n\n"
)


async def _fail(send: Send, record: RequestRecord, status: int, message: str, code: str) -> None:
    record.error_class, record.error_source = code, "azure"
    await respond_json(send, status, error_body(message, "upstream_error", code))


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

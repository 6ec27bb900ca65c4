"""Chat completions answered by Azure's Responses API, with LiteLLM as a library doing the translation.

Codex models are Responses-only on Azure, and many clients speak only chat completions. LiteLLM's
chat -> Responses translation (messages to input items, tools, streaming deltas back to chat chunks) is the
one part of LiteLLM the gateway uses, through `litellm.acompletion`. Everything that decides where the call
goes is the gateway's: the provider (`azure/responses/`), the deployment behind the alias, the endpoint, the
api-version and the credentials (the same key or Entra token as the direct path). The client's body reaches
LiteLLM only as the fields `chat_request` allowed; `store` (off unless asked for) and the project tag on
stored responses (`ownership`) go to Azure as the gateway sets them. LiteLLM's own retries are off: the
`upstream` transport under its HTTP client is the one retry loop.

The answer goes out as OpenAI chat JSON, or as SSE `data:` chunks ending `data: [DONE]`, with the `model`
the client asked for. Errors are OpenAI-shaped, with Azure's status (429 with Retry-After), in the gateway's
own words: no LiteLLM class names, no Azure region or pricing tier. Azure's own message is kept only for
the 4xx that describe the client's request.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson

from aigateway.proxy import chat_request, ownership
from aigateway.proxy.asgi import Receive, Send, error_body, respond_json
from aigateway.proxy.azure_auth import AzureAuth
from aigateway.proxy.disconnect import answer_unless_gone
from aigateway.proxy.downstream import client_retry_after, retry_after_headers
from aigateway.proxy.telemetry import RequestRecord
from aigateway.proxy.upstream import parse_retry_after

DONE: Final = b"data: [DONE]\n\n"
# LiteLLM's additions to OpenAI's chat objects that only echo provider internals (Azure's metadata included).
_DROPPED_FIELDS: Final = ("provider_specific_fields", "metadata")
# Azure 4xx whose message describes the client's own request, so it is worth passing on.
_CLIENT_ERRORS: Final = frozenset({400, 404, 409, 413, 415, 422})
_SSE_HEADERS: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass(frozen=True)
class BridgeTarget:
    """Where every chat request goes; from Settings, never from the request."""

    endpoint: str
    api_version: str
    deployments: Mapping[str, str]  # alias -> Azure deployment
    timeout_seconds: float
    force_store_false: bool


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    message: str
    type: str
    code: str
    param: str | None = None
    retry_after: str | None = None
    upstream_request_id: str | None = None  # Azure's id, when Azure caused the failure
    # Azure's `innererror` of a `content_filter` 400: the verdict per category (which one tripped), no prompt.
    innererror: Mapping[str, Any] | None = None

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.code, self.param, self.upstream_request_id, self.innererror)

    def frame(self) -> bytes:
        """The error as a chat stream's last event: OpenAI's SDKs (Python and Node) raise on a chunk with an
        `error` key. No `[DONE]` follows, so a client that skips the error still sees an unfinished stream."""
        return b"data: " + self.body() + b"\n\n"

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [] if self.retry_after is None else retry_after_headers(float(self.retry_after))


class ChatBridge:
    def __init__(self, litellm: Any, target: BridgeTarget, auth: AzureAuth) -> None:
        self._litellm = litellm  # the imported module (loaded in the background by `engine`)
        self._target = target
        self._auth = auth

    async def __call__(self, payload: dict[str, Any], receive: Receive, send: Send, record: RequestRecord) -> None:
        """Answer one validated chat request; if the client goes away first, stop waiting on Azure at once."""
        await answer_unless_gone(lambda out: self._exchange(payload, out, record), receive, send, record)

    async def _exchange(self, payload: dict[str, Any], send: Send, record: RequestRecord) -> None:
        alias: str = payload["model"]
        storage = ownership.prepare_create(
            chat_request.storage_fields(payload), record.project or "", self._target.force_store_false
        )
        if isinstance(storage, ownership.Refusal):
            record.error_source = "gateway"
            await respond_json(send, storage.status, storage.body())
            return
        stream = payload.get("stream") is True
        try:
            result = await self._litellm.acompletion(
                model=f"azure/responses/{self._target.deployments[alias]}",
                messages=payload["messages"],
                api_base=self._target.endpoint,
                api_version=self._target.api_version,
                **(await self._credentials()),
                extra_body=storage,
                drop_params=True,  # codex rejects e.g. temperature, which Roo always sends
                max_retries=0,
                num_retries=0,
                timeout=self._target.timeout_seconds,
                stream_timeout=self._target.timeout_seconds,
                **chat_request.bridge_arguments(payload),
            )
        except Exception as exc:
            failure = self.failure(exc, record)
            await respond_json(send, failure.status, failure.body(), failure.headers())
            return
        if not stream:
            data = _chat_object(result, alias)
            _note_finish(data, record)
            await respond_json(send, 200, orjson.dumps(data))
            return
        await self._stream(result, alias, send, record)

    async def _stream(self, chunks: Any, alias: str, send: Send, record: RequestRecord) -> None:
        """Each chunk as it comes; a failure after the start is the stream's last chunk, in OpenAI's chunk
        error form, with no `[DONE]`. However it ends (the client gone included), LiteLLM's stream is closed,
        which releases Azure's connection."""
        try:
            await send({"type": "http.response.start", "status": 200, "headers": list(_SSE_HEADERS)})
            iterator = chunks.__aiter__()
            while True:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:  # from Azure or the translation, not from the client
                    failure = self.failure(exc, record)
                    await send({"type": "http.response.body", "body": failure.frame()})
                    return
                data = _chat_object(chunk, alias)
                _note_finish(data, record)
                frame = b"data: " + orjson.dumps(data) + b"\n\n"
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": DONE})
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    async def _credentials(self) -> dict[str, str]:
        headers = await self._auth.headers()
        if "api-key" in headers:
            return {"api_key": headers["api-key"]}
        return {"azure_ad_token": headers["authorization"].removeprefix("Bearer ")}

    def failure(self, exc: BaseException, record: RequestRecord) -> Failure:
        """What the client is told about `exc`; the telemetry record says where it came from."""
        if record.inband_error is not None:  # Azure failed its started stream: its own code and words
            error = record.inband_error
            failure = Failure(502, error.message, error.type or "upstream_error", error.code)
        else:
            failure = _failure(self._litellm, exc, record)
            record.error_class = failure.code
            if record.status == 200:  # the stream had started: the failure is in-band, as Azure's are
                record.error_code = failure.code
        if record.error_source == "azure" and record.upstream_request_id is not None:
            failure = replace(failure, upstream_request_id=record.upstream_request_id)
        return failure


def _failure(litellm: Any, exc: BaseException, record: RequestRecord) -> Failure:
    upstream = record.upstream_status
    if upstream is not None and upstream >= 400:
        record.error_source = "azure"
        return _azure_failure(upstream, exc)
    if isinstance(exc, litellm.Timeout):
        record.error_source = "azure"
        return Failure(504, "Azure OpenAI did not answer in time.", "upstream_error", "upstream_timeout")
    if upstream is not None:  # Azure answered, then its answer failed (in-band) or could not be translated
        record.error_source = "azure"
        return Failure(
            502, "Azure OpenAI's answer failed or broke off; retry.", "upstream_error", "upstream_answer_failed"
        )
    if record.attempts > 0:
        record.error_source = "azure"
        return Failure(502, "The gateway could not reach Azure OpenAI.", "upstream_error", "upstream_unreachable")
    # Nothing was sent: the translation itself refused the request (or failed).
    record.error_source = "gateway"
    if getattr(exc, "status_code", None) == 400:
        return Failure(
            400,
            "This chat request cannot be translated to the Responses API (an unsupported message part, tool "
            "or parameter).",
            "invalid_request_error",
            "unsupported_chat_request",
        )
    return Failure(500, "The chat bridge failed; retry, and report it if it persists.", "server_error", "bridge_error")


def _azure_failure(status: int, exc: BaseException) -> Failure:
    headers: Mapping[str, str] = getattr(exc, "litellm_response_headers", None) or {}
    if status == 429:
        retry_after = _whole_seconds(headers)
        wait = _azure_wait(headers)
        when = f"retry after {retry_after} s" if wait <= int(retry_after) else f"Azure asks for {math.ceil(wait)} s"
        return Failure(
            429,
            f"Azure OpenAI's rate limit for this model was reached; {when}.",
            "rate_limit_error",
            "rate_limit_exceeded",
            retry_after=retry_after,
        )
    if status in (401, 403):
        return Failure(
            status,
            f"Azure OpenAI refused the gateway's own credentials (status {status}); your project key is fine. "
            "Tell the gateway's operators.",
            "upstream_error",
            "upstream_auth_failed",
        )
    if status in _CLIENT_ERRORS:
        error = _azure_error(str(exc))
        message = error.get("message")
        code, param = error.get("code"), error.get("param")
        return Failure(
            status,
            message if isinstance(message, str) and message else f"Azure OpenAI rejected the request ({status}).",
            "invalid_request_error",
            code if isinstance(code, str) and code else "upstream_rejected",
            param if isinstance(param, str) else None,
            innererror=_filter_verdict(error.get("innererror")),
        )
    return Failure(
        status,
        f"Azure OpenAI failed to answer (status {status}); retry shortly.",
        "upstream_error",
        "upstream_failed",
        retry_after=_whole_seconds(headers) if status == 503 else None,
    )


def _filter_verdict(inner: Any) -> dict[str, Any] | None:
    """Of Azure's `innererror`, only what a user needs to see why a prompt was filtered: its code and the
    verdict per category (`content_filter_result`: filtered or not, severity), never text."""
    verdict = inner.get("content_filter_result") if isinstance(inner, dict) else None
    if not isinstance(verdict, dict):
        return None
    code = inner.get("code") if isinstance(inner.get("code"), str) else "ResponsibleAIPolicyViolation"
    return {"code": code, "content_filter_result": verdict}


def _azure_error(text: str) -> dict[str, Any]:
    """The `error` object of Azure's body, which LiteLLM 1.108.7 keeps only inside its exception message
    (`litellm.BadRequestError: AzureException BadRequestError - {...}`, or
    `litellm.ContentPolicyViolationError: {...}` for a filtered prompt)."""
    found = _ERROR_BODY.search(text)
    if found is None:
        return {}
    try:
        parsed, _ = json.JSONDecoder().raw_decode(text, found.start())
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


_ERROR_BODY: Final = re.compile(r'\{\s*"error"\s*:')


def _whole_seconds(headers: Mapping[str, str]) -> str:
    """Azure's Retry-After in whole seconds from 1 to 59: 1 when absent or unreadable, and below 60 because
    openai-node ignores a Retry-After of 60 or more (clients.md)."""
    return str(client_retry_after(_azure_wait(headers)))


def _azure_wait(headers: Mapping[str, str]) -> float:
    """Azure's own wait in seconds (`retry-after-ms`, else `retry-after`); 1 when absent or unreadable."""
    wait = parse_retry_after({k.lower(): v for k, v in headers.items()})
    return 1.0 if wait is None else wait


def _note_finish(chunk: dict[str, Any], record: RequestRecord) -> None:
    """A chat answer cut by Azure's filter ends `finish_reason: "content_filter"`: the line says so."""
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason") == "content_filter":
            record.incomplete_reason = "content_filter"


def _chat_object(result: Any, alias: str) -> dict[str, Any]:
    """A LiteLLM chat response or chunk as OpenAI's JSON object, named after the alias the client used."""
    data: dict[str, Any] = result.model_dump(mode="json", exclude_none=True, warnings=False)
    for field in _DROPPED_FIELDS:
        data.pop(field, None)
    for choice in data.get("choices") or ():
        for part in ("message", "delta"):
            if isinstance(choice.get(part), dict):
                choice[part].pop("provider_specific_fields", None)
    usage = data.get("usage")
    if isinstance(usage, dict):
        usage.pop("cost", None)
    data["model"] = alias
    return data


def load(target: BridgeTarget, auth: AzureAuth) -> ChatBridge:
    """Import and configure LiteLLM (seconds: run it in a worker thread), then build the bridge."""
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" prints on stdout
    litellm.turn_off_message_logging = True
    litellm.drop_params = True
    _skip_cost_accounting()
    _defer_tokenizer(litellm)
    # What the first request would import lazily (~0.1 s), paid here instead.
    import litellm._service_logger
    import litellm.completion_extras.litellm_responses_transformation.handler
    import litellm.completion_extras.litellm_responses_transformation.transformation
    import litellm.litellm_core_utils.streaming_handler
    import litellm.llms.azure.responses.transformation
    import litellm.responses.main

    _build_schemas()
    return ChatBridge(litellm, target, auth)


def _build_schemas() -> None:
    """LiteLLM defers its pydantic schemas to first use (~0.1 s on the first chat request); build the ones
    the chat and Responses objects use now, in the background."""
    import sys

    from pydantic import BaseModel

    for name in ("litellm.types.llms.openai", "litellm.types.utils", "litellm.types.responses.main"):
        module = sys.modules.get(name)
        for obj in vars(module).values() if module is not None else ():
            if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == name:
                with contextlib.suppress(Exception):  # a model that cannot build yet builds on first use
                    obj.model_rebuild()


def _skip_cost_accounting() -> None:
    """LiteLLM prices every call for its spend tracking, which the gateway does not use; on a stream without
    usage it tokenizes the whole answer to do so (CPU per request, and the ~40 MB tokenizer loaded)."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    def no_cost(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    Logging.response_cost_calculator = no_cost  # type: ignore[method-assign]


class _DeferredTokenizer:
    """Stands in for LiteLLM's tiktoken encoding, which `acompletion` fetches for every call but the
    Responses bridge never uses (Azure reports the usage): the tokenizer's tables (~40 MB) load only if
    something really encodes."""

    def __init__(self, load: Any) -> None:
        self._load = load
        self._real: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            self._real = self._load()
        return getattr(self._real, name)


def _defer_tokenizer(litellm: Any) -> None:
    main = litellm.main
    if getattr(main, "_encoding_cache", "absent") is None and hasattr(main, "_load_default_encoding"):
        main._encoding_cache = _DeferredTokenizer(main._load_default_encoding)

"""The probe's HTTP: raw JSON bodies through httpx (the wire shape is the point, not an SDK's), SSE read
line by line with arrival times, so a case can see how long the stream stayed silent and whether the
gateway's keepalive comments filled the silence.

Any non-2xx answer, in-band `error` / `response.failed` event or chat error chunk raises `CaseFailure`
with Azure's code; nothing of a body is kept beyond what the cases check.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from aigateway.probe.report import ErrorCode, error_code, error_code_from_body
from aigateway.smoke import _root


class CaseFailure(Exception):
    """A case failed; `detail` is the probe's own wording, `error` Azure's code when one was returned."""

    def __init__(self, detail: str, status: int | None = None, error: ErrorCode | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.error = error or ErrorCode()


@dataclass
class Stream:
    """A finished SSE answer: its JSON events in order, and its timing."""

    status: int
    events: list[dict[str, Any]] = field(default_factory=list)
    keepalives: int = 0
    longest_event_gap: float = 0.0  # seconds between two consecutive events, keepalives ignored
    longest_silence: float = 0.0  # seconds between two consecutive writes of any kind (keepalives count)
    done_marker: bool = False  # chat streams end with `data: [DONE]`

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]


class ProbeClient:
    """One gateway, one key, one deadline for the whole probe."""

    def __init__(self, base_url: str, key: str, deadline: float, request_timeout: float) -> None:
        self.root = _root(base_url)
        self.deadline = deadline
        self.request_timeout = request_timeout
        self.request_id: str | None = None  # the gateway's x-request-id of the last answer
        self._http = httpx.Client(headers={"authorization": f"Bearer {key}"}, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def _timeout(self) -> httpx.Timeout:
        remaining = self.deadline - time.monotonic()
        if remaining <= 1:
            raise CaseFailure("not run: the probe's time budget is spent")
        return httpx.Timeout(min(self.request_timeout, remaining), connect=min(10.0, remaining))

    def _fail_on_status(self, response: httpx.Response, raw: bytes) -> None:
        if response.status_code >= 400:
            error = error_code_from_body(raw)
            raise CaseFailure(f"HTTP {response.status_code}", response.status_code, error)

    def post_json(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        try:
            response = self._http.post(self.root + path, json=body, headers=headers, timeout=self._timeout())
        except httpx.HTTPError as exc:
            raise CaseFailure(f"no answer: {type(exc).__name__}") from None
        self.request_id = response.headers.get("x-request-id")
        self._fail_on_status(response, response.content)
        try:
            return response.json()
        except ValueError:
            raise CaseFailure("2xx answer is not JSON", response.status_code) from None

    def post_stream(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Stream:
        """POST and read the SSE answer to its end, failing on any in-band error."""
        request = self._http.build_request("POST", self.root + path, json=body, headers=headers)
        request.extensions["timeout"] = self._timeout().as_dict()
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise CaseFailure(f"no answer: {type(exc).__name__}") from None
        try:
            self.request_id = response.headers.get("x-request-id")
            if response.status_code >= 400:
                self._fail_on_status(response, response.read())
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise CaseFailure("answer is not an event stream", response.status_code)
            return self._read(response)
        except httpx.HTTPError as exc:
            raise CaseFailure(f"stream broke: {type(exc).__name__}", response.status_code) from None
        finally:
            response.close()

    def _read(self, response: httpx.Response) -> Stream:
        stream = Stream(status=response.status_code)
        last_event: float | None = None
        last_write: float | None = None
        data: list[str] = []
        for line in response.iter_lines():
            now = time.monotonic()
            if now > self.deadline:
                raise CaseFailure("stream still open when the probe's time budget was spent", stream.status)
            if line.startswith(":"):
                stream.keepalives += 1
            elif line.startswith("data:"):
                data.append(line[5:].strip())
                continue
            elif line == "" and data:
                payload = "\n".join(data)
                data = []
                if last_event is not None:
                    stream.longest_event_gap = max(stream.longest_event_gap, now - last_event)
                last_event = now
                self._event(stream, payload)
            else:
                continue  # `event:` lines and blank lines between comments
            if last_write is not None:
                stream.longest_silence = max(stream.longest_silence, now - last_write)
            last_write = now
        return stream

    @staticmethod
    def _event(stream: Stream, payload: str) -> None:
        if payload == "[DONE]":
            stream.done_marker = True
            return
        try:
            event = json.loads(payload)
        except ValueError:
            raise CaseFailure("an event is not JSON", stream.status) from None
        if not isinstance(event, dict):
            raise CaseFailure("an event is not a JSON object", stream.status)
        error = error_code(event)
        if error is not None:
            kind = event.get("type") or "error chunk"
            raise CaseFailure(f"in-band {kind} after 200", stream.status, error)
        stream.events.append(event)

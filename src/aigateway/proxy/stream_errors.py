"""Errors inside a Responses stream that Azure already started with 200, made into what clients can read.

Azure can fail a stream in-band with an `error` event, flat (`{"type":"error","code","message","param"}`) or
nested (`{"type":"error","error":{"type","code","message"}}`, e.g. `rate_limit_exceeded` with "Try again in
26 seconds."). Codex and Roo's native provider ignore `error` events (Codex then reports "stream closed before
response.completed") but both read `response.failed`; the openai Python SDK raises a bare APIError on any
event carrying an `error` key. So `StreamGuard` replaces each `error` event with a `response.failed` event
(Azure's code and message kept) and ends the stream there; the gateway's own failures after the start
(`failure_event`) take the same shape. It also records, for the telemetry line, why a stream failed or ended
incomplete (codes and reasons only, never content).

The relay is the gateway's hot path, so the guard does not parse the stream: a chunk of whole events that
mentions none of the few event types it watches is handed on as it is (the same bytes object). Only the
events it watches are split out and parsed: `response.created` (the response an error event is reported
against), `error`, `response.failed`, `response.incomplete` and `response.completed` (each once per stream).
An event cut across reads is held until its end, so a failure the gateway appends never lands inside it.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Final

import orjson

from aigateway.proxy.telemetry import InbandError, RequestRecord

# The events the guard acts on; any chunk mentioning none of these passes untouched.
_WATCHED: Final = frozenset(
    {"error", "response.created", "response.failed", "response.incomplete", "response.completed"}
)
_TERMINAL: Final = frozenset({"response.failed", "response.incomplete"})
_BOUNDARY: Final = re.compile(rb"\r?\n\r?\n")
_SEQUENCE: Final = re.compile(rb'"sequence_number":(\d+)[,}]')
_DATA_TYPE: Final = re.compile(rb'^data: ?\{"type":"([a-z_.]+)"')
_MAX_MESSAGE: Final = 2048


class StreamGuard:
    """One Responses stream, relayed chunk by chunk: `feed` returns what to send on (possibly nothing)."""

    def __init__(self, record: RequestRecord, rewrite: bool = True) -> None:
        self._record = record
        self._rewrite = rewrite  # False: only record (the chat bridge's LiteLLM must see Azure's bytes)
        self._held: list[bytes] = []  # the start of an event whose end has not arrived yet
        self._response: dict[str, Any] | None = None  # as `response.created` showed it
        self._next_sequence = 0
        self.ended = False  # a terminal event went out: nothing may follow it
        self.cut = False  # the guard itself ended the stream (`response.failed` in place of an error)

    def feed(self, chunk: bytes) -> bytes:
        if self.ended and self._rewrite:
            return b""
        if not self._held and chunk.endswith(b"\n\n") and not _mentions_watched(chunk):
            self._note_sequence(chunk)
            return chunk  # whole ordinary events: the fast path, no copy
        if self._held:
            if _BOUNDARY.search(self._held[-1][-3:] + chunk[:3]) is None and _BOUNDARY.search(chunk) is None:
                self._held.append(chunk)  # the held event goes on: joined once, when it ends
                return b""
            data = b"".join([*self._held, chunk])
            self._held = []
        else:
            data = chunk
        if not _mentions_watched(data):  # ordinary events, the last one cut: hold only that one
            lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n")
            end = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
            if end < len(data):
                self._held.append(data[end:])
            ready = data[:end]
            self._note_sequence(ready)
            return ready
        out: list[bytes] = []
        start = 0
        for boundary in _BOUNDARY.finditer(data):
            end = boundary.end()
            out.append(self._event(data[start:end]))
            start = end
            if self.ended and self._rewrite:
                return b"".join(out)
        if start < len(data):
            self._held.append(data[start:])
        return b"".join(out)

    def flush(self) -> bytes:
        """What is left when Azure ends the stream (a last event without its blank line)."""
        rest = b"".join(self._held)
        self._held = []
        if not rest or (self.ended and self._rewrite):
            return b""
        return self._event(rest)

    def failure_event(self, code: str, message: str) -> bytes:
        """The gateway's own failure after the start, as `response.failed`; empty once the stream has ended
        (a stream that completed and then broke off has nothing left to report)."""
        self._held = []
        if self.ended:
            return b""
        record = self._record
        record.error_code, record.error_class = code, code
        record.error_source = "azure"
        if record.upstream_request_id is not None:
            message = f"{message} Azure request id: {record.upstream_request_id}."
        return self._failed(code, message, None)

    def _event(self, frame: bytes) -> bytes:
        kind = event_type(frame)
        if kind not in _WATCHED or kind == "response.completed":  # the answer itself is never parsed here
            self._note_sequence(frame)
            self.ended = self.ended or kind == "response.completed"
            return frame
        payload = _data(frame)
        if kind == "error":
            error = inband_error(payload)
            self._record_failure(error, "stream_error")
            if not self._rewrite:
                return frame
            sequence = payload.get("sequence_number") if isinstance(payload, dict) else None
            if isinstance(sequence, int):
                self._next_sequence = sequence
            return self._failed(error.code, error.message, error.type)
        self._note_sequence(frame)
        response = payload.get("response") if isinstance(payload, dict) else None
        if kind == "response.created" and isinstance(response, dict):
            self._response = response
        elif kind == "response.failed":
            self._record_failure(failed_error(response), "response.failed")
        elif kind == "response.incomplete" and isinstance(response, dict):
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            self._record.incomplete_reason = str(reason)[:64] if reason else "unknown"
        if kind in _TERMINAL:
            self.ended = True
        return frame

    def _record_failure(self, error: InbandError, error_class: str) -> None:
        record = self._record
        record.inband_error = error
        record.error_code = error.code
        record.error_class = error_class
        record.error_source = "azure"

    def _failed(self, code: str, message: str, error_type: str | None) -> bytes:
        """`response.failed` for the response this stream created (or a stand-in when none was seen)."""
        base = self._response or {
            "id": f"resp_gw_{secrets.token_hex(16)}",
            "object": "response",
            "created_at": int(time.time()),
            "model": self._record.model,
        }
        error: dict[str, Any] = {"code": code, "message": message}
        if error_type:
            error["type"] = error_type
        if self._record.upstream_request_id is not None:
            error["upstream_request_id"] = self._record.upstream_request_id
        response = {**base, "status": "failed", "error": error, "output": [], "usage": None}
        if "completed_at" in response:
            response["completed_at"] = None
        event = {"type": "response.failed", "sequence_number": self._next_sequence, "response": response}
        self._next_sequence += 1
        self.ended = self.cut = True
        return b"event: response.failed\ndata: " + orjson.dumps(event) + b"\n\n"

    def _note_sequence(self, events: bytes) -> None:
        at = events.rfind(b'"sequence_number":')
        if at >= 0:
            found = _SEQUENCE.match(events, at)
            if found is not None:
                self._next_sequence = int(found.group(1)) + 1


def _mentions_watched(data: bytes) -> bool:
    """Whether `data` may hold an event the guard watches (a cheap superset: a few substring scans in C,
    no parsing; cheaper than one regex). `response.com`/`.cre`/`.fa`/`.inc` skip the frequent
    `response.content_part.*` and `response.in_progress`."""
    return (
        b'"type":"error"' in data
        or b"event: error" in data
        or b"response.cre" in data
        or b"response.com" in data
        or b"response.fa" in data
        or b"response.inc" in data
    )


_INCOMPLETE: Final = re.compile(rb'"incomplete_details":\s*\{\s*"reason":\s*"([a-z_]{1,64})"')


def note_incomplete(body: bytes, record: RequestRecord) -> None:
    """A whole (not streamed) response that Azure ended incomplete: the reason goes on the line."""
    found = _INCOMPLETE.search(body)
    if found is not None:
        record.incomplete_reason = found.group(1).decode()


def event_type(frame: bytes) -> str | None:
    """The type of one SSE event from its first line: the `event:` field, else the `type` that starts its
    data (OpenAI puts `type` first); None for a comment or anything else."""
    line_end = frame.find(b"\n")
    first = (frame if line_end < 0 else frame[:line_end]).rstrip(b"\r")
    if first.startswith(b"event:"):
        return first[6:].strip().decode("latin-1")
    found = _DATA_TYPE.match(first)
    return found.group(1).decode("latin-1") if found is not None else None


def _data(frame: bytes) -> Any:
    lines = frame.replace(b"\r\n", b"\n").split(b"\n")
    joined = b"\n".join(line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:"))
    try:
        return orjson.loads(joined)
    except orjson.JSONDecodeError:
        return None


def inband_error(payload: Any) -> InbandError:
    """An `error` event's code, message and type, flat or nested (Azure has sent both)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    source = error if isinstance(error, dict) else payload if isinstance(payload, dict) else {}
    return _error(source.get("code"), source.get("message"), source.get("type") if error is not None else None)


def failed_error(response: Any) -> InbandError:
    """`response.error` of a `response.failed` event."""
    error = response.get("error") if isinstance(response, dict) else None
    source = error if isinstance(error, dict) else {}
    return _error(source.get("code"), source.get("message"), source.get("type"))


def _error(code: Any, message: Any, error_type: Any) -> InbandError:
    return InbandError(
        code=str(code)[:64] if code else "server_error",
        message=str(message)[:_MAX_MESSAGE] if message else "Azure OpenAI failed the response; retry.",
        type=str(error_type)[:64] if isinstance(error_type, str) and error_type else None,
    )

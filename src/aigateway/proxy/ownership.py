"""Stored responses belong to the project that created them; the rules, without any I/O.

The gateway keeps no database, and every replica must agree, also after a restart. So the owner is written
where the response itself lives: when a create is relayed with storage on, `prepare_create` adds
`metadata["aigateway_project"] = <project>` (merged with the client's metadata, within Azure's 16 keys; a
client may not set that key itself). Before any by-id call (GET, input_items, cancel, DELETE) or a create
that continues one (`previous_response_id`), the direct path reads the stored response from Azure and
`owner_of` says whose it is. Another project's response, a response without the tag (created before this
check existed, or by the chat bridge), and an unknown id all get the same answer, so a key holder cannot
even learn that an id exists. `OwnerCache` remembers id -> project per replica (ownership never changes),
so a by-id call after a create on the same replica costs no extra Azure call.

The tag is the gateway's bookkeeping, not the client's data: `strip_json` and `EventStripper` remove it
from what the client reads, so a client that echoes `metadata` back never trips over the reserved key.
On a stream only frames that contain the key are re-serialised (Responses carries the response object in
`response.created`, `.in_progress`, `.completed`, ...); the others pass as they are. Frames are handed on
whole, never split; a client cannot use half an event anyway.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from aigateway.proxy.asgi import error_body

RESERVED_KEY = "aigateway_project"
# Azure's (and OpenAI's) limit on `metadata`: 16 keys, keys up to 64 characters, values up to 512.
METADATA_MAX_KEYS = 16
_MARKER = RESERVED_KEY.encode()
# Response ids as routes.py admits them in paths; anything else is not an id Azure could have issued.
_RESPONSE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_FRAME_SPLIT = re.compile(rb"(\r?\n\r?\n)")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    message: str
    code: str
    param: str | None = None

    def body(self) -> bytes:
        return error_body(self.message, "invalid_request_error", self.code, self.param)


def prepare_create(payload: dict[str, Any], project: str, force_store_false: bool) -> dict[str, Any] | Refusal:
    """The create body to send to Azure: storage forced off when configured, otherwise the owner tag added
    whenever Azure will store the response (`store` absent or not false)."""
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return Refusal(400, "'metadata' must be an object of string keys and values.", "invalid_metadata", "metadata")
    if metadata and RESERVED_KEY in metadata:
        return Refusal(
            400,
            f"The metadata key '{RESERVED_KEY}' is reserved: the gateway records the owning project there.",
            "reserved_metadata_key",
            "metadata",
        )
    if force_store_false:
        return {**payload, "store": False}
    if payload.get("store") is False:
        return payload
    if metadata and len(metadata) >= METADATA_MAX_KEYS:
        return Refusal(
            400,
            f"'metadata' may hold at most {METADATA_MAX_KEYS - 1} keys on this gateway (Azure allows "
            f"{METADATA_MAX_KEYS}; the gateway uses one to record the owning project).",
            "too_many_metadata_keys",
            "metadata",
        )
    return {**payload, "metadata": {**(metadata or {}), RESERVED_KEY: project}}


def is_response_id(value: object) -> bool:
    return isinstance(value, str) and _RESPONSE_ID.match(value) is not None


def owner_of(stored: bytes) -> str | None:
    """The project recorded on a stored response as Azure returned it; None when it carries no tag."""
    try:
        parsed = orjson.loads(stored)
    except orjson.JSONDecodeError:
        return None
    return _tag(parsed) if isinstance(parsed, dict) else None


def not_found(response_id: str) -> tuple[int, bytes]:
    """The answer to a by-id call on a response that is unknown, untagged or another project's."""
    return 404, error_body(f"Response with id '{response_id}' not found.", "invalid_request_error", "not_found")


def previous_not_found(response_id: str) -> tuple[int, bytes]:
    """The answer to a create whose `previous_response_id` is unknown, untagged or another project's: 404,
    like every by-id call (Azure itself says 400 for an unknown one; the gateway answers before Azure is
    asked, so an unknown id and a foreign one get the same status and body), in Azure's words and code."""
    message = f"Previous response with id '{response_id}' not found."
    return 404, error_body(message, "invalid_request_error", "previous_response_not_found", "previous_response_id")


def _tag(response: dict[str, Any]) -> str | None:
    metadata = response.get("metadata")
    owner = metadata.get(RESERVED_KEY) if isinstance(metadata, dict) else None
    return owner if isinstance(owner, str) and owner else None


class OwnerCache:
    """id -> project, least recently used first out. Per replica; an id's owner never changes, so an entry
    never goes stale (a deleted response is then simply not found by Azure)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._owners: OrderedDict[str, str] = OrderedDict()

    def get(self, response_id: str) -> str | None:
        owner = self._owners.get(response_id)
        if owner is not None:
            self._owners.move_to_end(response_id)
        return owner

    def put(self, response_id: str, owner: str) -> None:
        self._owners[response_id] = owner
        self._owners.move_to_end(response_id)
        while len(self._owners) > self._capacity:
            self._owners.popitem(last=False)

    def forget(self, response_id: str) -> None:
        self._owners.pop(response_id, None)

    def learn(self, response: dict[str, Any]) -> None:
        """Remember the owner of a response object Azure sent back (a create, GET or cancel answer)."""
        owner = _tag(response)
        response_id = response.get("id")
        if owner is not None and isinstance(response_id, str):
            self.put(response_id, owner)

    def __len__(self) -> int:
        return len(self._owners)


Learn = Callable[[dict[str, Any]], None]


def strip_json(data: bytes, learn: Learn) -> bytes:
    """A JSON answer without the owner tag (a response object, or an event that carries one)."""
    if _MARKER not in data:
        return data
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    if not isinstance(parsed, dict) or not _strip(parsed, learn):
        return data
    return orjson.dumps(parsed)


def _strip(obj: dict[str, Any], learn: Learn) -> bool:
    """Remove the tag from a response object or from the `response` an event carries; True if changed."""
    inner = obj.get("response")
    target = inner if isinstance(inner, dict) else obj
    metadata = target.get("metadata")
    if not isinstance(metadata, dict) or RESERVED_KEY not in metadata:
        return False
    learn(target)
    del metadata[RESERVED_KEY]
    return True


class EventStripper:
    """Removes the owner tag from a Server-Sent Events stream, chunk by chunk, handing on whole frames."""

    def __init__(self, learn: Learn) -> None:
        self._learn = learn
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk if self._pending else chunk
        lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n")
        end = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
        if end == 0:
            self._pending = data
            return b""
        ready, self._pending = data[:end], data[end:]
        return self._rewrite(ready) if _MARKER in ready else ready

    def flush(self) -> bytes:
        """What is left when the stream ends cleanly (a last frame without its blank line)."""
        rest, self._pending = self._pending, b""
        return self._rewrite(rest) if _MARKER in rest else rest

    def discard(self) -> None:
        """The stream broke: an incomplete frame would only corrupt the event the gateway sends instead."""
        self._pending = b""

    def _rewrite(self, frames: bytes) -> bytes:
        parts = _FRAME_SPLIT.split(frames)
        return b"".join(part if i % 2 or _MARKER not in part else self._frame(part) for i, part in enumerate(parts))

    def _frame(self, frame: bytes) -> bytes:
        lines = frame.splitlines()
        data = [line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:")]
        if not data:
            return frame
        joined = b"\n".join(data)
        rewritten = strip_json(joined, self._learn)
        if rewritten is joined:
            return frame
        kept = [line for line in lines if not line.startswith(b"data:")]
        return b"\n".join([*kept, b"data: " + rewritten])

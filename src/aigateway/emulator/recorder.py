"""The bounded log of upstream requests that tests read back through `GET /_emulator/requests`."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

# Besides the count, cap the bodies kept: benchmarks push thousands of 60 KB embedding batches through an
# emulator that may share the gateway's process, and its memory must not grow with them.
MAX_BODY_BYTES = 64 * 1024 * 1024


class RequestRecorder:
    def __init__(self, capacity: int, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._capacity = max(capacity, 0)
        self._max_body_bytes = max_body_bytes
        self._items: deque[tuple[int, dict[str, Any]]] = deque()
        self._body_bytes = 0

    def record(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any, size: int = 0
    ) -> dict[str, Any]:
        """Store one request; the returned dict is updated with the status once the reply is known."""
        entry: dict[str, Any] = {
            "ts": time.time(),
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body": body,
            "status": None,
        }
        if self._capacity:
            self._items.append((size, entry))
            self._body_bytes += size
            while len(self._items) > self._capacity or (
                self._body_bytes > self._max_body_bytes and len(self._items) > 1
            ):
                self._body_bytes -= self._items.popleft()[0]
        return entry

    def items(self) -> list[dict[str, Any]]:
        return [entry for _, entry in self._items]

    def clear(self) -> None:
        self._items.clear()
        self._body_bytes = 0

"""The bounded log of upstream requests that tests read back through `GET /_emulator/requests`."""

from __future__ import annotations

import time
from collections import deque
from typing import Any


class RequestRecorder:
    def __init__(self, capacity: int) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=max(capacity, 0) or None)
        self._enabled = capacity > 0

    def record(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
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
        if self._enabled:
            self._items.append(entry)
        return entry

    def items(self) -> list[dict[str, Any]]:
        return list(self._items)

    def clear(self) -> None:
        self._items.clear()

"""Stored responses (store=true), for GET / DELETE / cancel / input_items and previous_response_id."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class ResponseStore:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = OrderedDict()

    def put(self, response: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
        self._items[response["id"]] = (response, inputs)
        while len(self._items) > self._capacity:  # bounded: long benchmarks must not grow memory
            self._items.popitem(last=False)

    def get(self, response_id: str) -> dict[str, Any] | None:
        entry = self._items.get(response_id)
        return entry[0] if entry else None

    def inputs(self, response_id: str) -> list[dict[str, Any]] | None:
        entry = self._items.get(response_id)
        return entry[1] if entry else None

    def delete(self, response_id: str) -> bool:
        return self._items.pop(response_id, None) is not None

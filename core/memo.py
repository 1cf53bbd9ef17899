"""Results shared by every session of the process: a small thread-safe LRU for deterministic work.

A class opens the same pages with the same default texts; an attention map or a probability computed
for one student is the answer for the next one too. Only pure results go here (same model, same input,
same output), keyed by everything that decides them, and the memo is bounded in entries and in bytes.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


def _nbytes(value: Any) -> int:
    """Rough size of a result: the numpy arrays inside a dataclass or a tuple count, the rest is small."""
    if dataclasses.is_dataclass(value):
        parts = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, tuple | list):
        parts = list(value)
    else:
        parts = []
    return sys.getsizeof(value) + sum(getattr(part, "nbytes", None) or sys.getsizeof(part) for part in parts)


class Memo:
    """``get(key, compute)``: the stored result for ``key``, or ``compute()``'s, stored (oldest dropped first)."""

    def __init__(self, max_items: int = 256, max_bytes: int = 64 << 20):
        self.max_items, self.max_bytes = max_items, max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            self.misses += 1
        value = compute()  # outside the lock: two sessions never wait for each other's forward here
        self.put(key, value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        size = _nbytes(value)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while len(self._items) > self.max_items or self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]

    def __len__(self) -> int:
        return len(self._items)

"""Results shared by every session of the process: bounded LRU stores for deterministic work.

A class opens the same pages with the same default texts; an attention map or a probability computed
for one student is the answer for the next one too. Only pure results go here (same model, same input,
same output), keyed by everything that decides them. The memos hold their results in four stores, so
flooding one kind cannot flush another: attention maps (three quarters of ``LMLAB_MEMO_MB``, 32 MB by
default), small results and next-token distributions (a quarter each) and mean ablation's means (an
eighth): at most 1.375 × ``LMLAB_MEMO_MB`` in all, 44 MB by default. Each entry has its own cap, and a
result over it is computed and not kept. When several sessions ask for the same missing key at once, one computes and the others wait for
its result (and take it even when it is too big to keep).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


def _budget_mb(default: float = 32.0) -> float:
    try:
        value = float(os.environ.get("LMLAB_MEMO_MB", default))
    except ValueError:
        return default
    return value if 0 <= value < 1e6 else default  # nan and inf fail the test too


def nbytes(value: Any, _depth: int = 0) -> int:
    """Memory a result holds: numpy arrays by their buffers, strings, containers and dataclasses walked."""
    size = getattr(value, "nbytes", None)
    if isinstance(size, int):
        return size + 112
    total = sys.getsizeof(value)
    if _depth > 4:
        return total
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        parts = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        parts = list(value)
    else:
        parts = []
    return total + sum(nbytes(part, _depth + 1) for part in parts)


def digest(*parts: str | None) -> str:
    """A fixed-size key for texts of any length."""
    return hashlib.sha256("\x00".join("\x01" if p is None else p for p in parts).encode("utf-8")).hexdigest()


class _Store:
    """An LRU shared by the memos that use it: the oldest entry of any of them goes first when its budget is full."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.items: OrderedDict[tuple[int, Hashable], tuple[Any, int]] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()
        self.pending: dict[tuple[int, Hashable], _Pending] = {}


class _Pending:
    """A result being computed: the others wait for ``done`` and take ``value`` (stored or not)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None


# Separate stores, so flooding one kind of result (say, many long texts on Inspect) cannot flush another.
ATTENTION = _Store(int(_budget_mb() * 0.75 * 2**20))  # attention maps: large, few
PREDICTIONS = _Store(int(_budget_mb() * 0.25 * 2**20))  # class probabilities and other small results
# whole next-token distributions (a GPT-2 vocabulary is 200 KB): a class's prompts, kept apart from the small results
DISTRIBUTIONS = _Store(int(_budget_mb() * 0.25 * 2**20))
# mean ablation's means (one pass over held-out text with the model held, once per model version): kept apart, so
# that no flood of other results makes the class pay for that pass again
MEANS = _Store(int(_budget_mb() * 0.125 * 2**20))
_ids = itertools.count()


class Memo:
    """``get(key, compute)``: the stored result for ``key``, or ``compute()``'s (stored when it fits)."""

    def __init__(self, max_entry_bytes: int, store: _Store = PREDICTIONS):
        self.max_entry_bytes = max_entry_bytes
        self.store = store
        self.id = next(_ids)
        self.hits = self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        slot = (self.id, key)
        store = self.store
        with store.lock:
            if slot in store.items:
                store.items.move_to_end(slot)
                self.hits += 1
                return store.items[slot][0]
            waiting = store.pending.get(slot)
            if waiting is None:
                mine = store.pending[slot] = _Pending()
                self.misses += 1
        if waiting is not None:
            waiting.done.wait()  # another session is computing this very result: take it when it is there
            if waiting.ok:
                self.hits += 1
                return waiting.value
            return compute()  # it failed there: compute here (an error reaches this caller too)
        try:
            mine.value = compute()
            mine.ok = True
            self.put(key, mine.value)
            return mine.value
        finally:
            with store.lock:
                store.pending.pop(slot, None)
            mine.done.set()

    def put(self, key: Hashable, value: Any) -> None:
        size = nbytes(value) + nbytes(key)
        if size > self.max_entry_bytes or size > self.store.max_bytes:
            return
        slot = (self.id, key)
        store = self.store
        with store.lock:
            if slot in store.items:
                store.bytes -= store.items.pop(slot)[1]
            store.items[slot] = (value, size)
            store.bytes += size
            while store.bytes > store.max_bytes:
                store.bytes -= store.items.popitem(last=False)[1][1]

    def __len__(self) -> int:
        with self.store.lock:
            return sum(1 for memo_id, _ in self.store.items if memo_id == self.id)

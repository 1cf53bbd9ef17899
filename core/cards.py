"""A trained model's card: the ``metadata.json`` the store writes last and the catalog reads.

``ModelCard`` is read-only and reads like the JSON object it was written from (``card["metrics"]``,
``card.get("recipe")``), with typed names for the fields every card has. Reading goes through one
cache keyed by the file's identity (inode, size, modification time): a page that asks for the same
card five times during one rerun reads and parses the file once, and a retrained model (a new file
renamed into place) is read afresh.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from core.io import write_json_atomic

FILE = "metadata.json"
_CACHE_SIZE = 256  # cards kept parsed; more models than that are read again when asked for


class ModelCard(Mapping):
    """A model card. Never change what it holds: the parsed JSON is shared by every reader of the file."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping):
        self._data = dict(data)

    def __getitem__(self, key: str):
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ModelCard(task={self.task!r}, title={self.title!r})"

    @property
    def task(self) -> str:
        value = self._data.get("task")
        return value if isinstance(value, str) else ""

    @property
    def title(self) -> str:
        return str(self._data.get("title", ""))[:200]

    @property
    def labels(self) -> tuple[str, ...]:
        labels = self._data.get("labels", ())
        if isinstance(labels, (list, tuple)) and all(isinstance(label, str) for label in labels):
            return tuple(labels)
        return ()

    @property
    def well_formed(self) -> bool:
        """A task name and, when present, a list of string labels (one bad file never breaks a page)."""
        labels = self._data.get("labels", ())
        return bool(self.task) and isinstance(labels, (list, tuple)) and len(self.labels) == len(labels)

    @property
    def metrics(self) -> Mapping:
        found = self._data.get("metrics")
        return found if isinstance(found, Mapping) else {}

    @property
    def recipe(self) -> Mapping:
        found = self._data.get("recipe")
        return found if isinstance(found, Mapping) else {}

    @property
    def size_bytes(self) -> int | None:
        size = self._data.get("size_bytes")
        return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None

    @property
    def sha256(self) -> str:
        value = self._data.get("sha256")
        return value if isinstance(value, str) else ""

    @property
    def train_seconds(self) -> float | None:
        seconds = self._data.get("train_seconds")
        return float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None

    def to_json(self) -> dict:
        return dict(self._data)


_cache: dict[Path, tuple[tuple[int, int, int], ModelCard]] = {}
_lock = threading.Lock()


def labelled_examples(card: Mapping):
    """The labelled training examples a classifier run spent (``examples`` may take a sample of its training split;
    a card written before that recorded only the split's size, which it spent whole)."""
    data = card.get("data") or {}
    return data.get("labelled_examples_used", data.get("train_size")) if isinstance(data, Mapping) else None


def read(folder: Path) -> ModelCard | None:
    """The card in ``folder``, or None when there is none or it is not a JSON object."""
    path = folder / FILE
    try:
        status = path.stat()
    except OSError:
        return None
    identity = (status.st_ino, status.st_size, status.st_mtime_ns)
    with _lock:
        cached = _cache.get(path)
    if cached is not None and cached[0] == identity:
        return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):  # a JSON list or number is no model card
        return None
    card = ModelCard(data)
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[path] = (identity, card)
    return card


def write(folder: Path, card: Mapping) -> None:
    """Write the card into ``folder`` atomically (the store calls this last, before the folder goes live)."""
    write_json_atomic(folder / FILE, dict(card))

"""A corpus's token ids for pretraining, held as one int32 array: 4 bytes a token, not a Python list of ints
(about 36 bytes a token, plus the tokenizer's per-text encodings while they last). On the Chinese BERT's 2.8 M
characters that is about 11 MB instead of several hundred. ``TaggedRows`` does the same for a tagger's rows of
different lengths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHUNK = 512  # texts encoded at a time: the tokenizer's full encodings of one chunk go before the next is made


def in_chunks(tokenizer, texts: Sequence[str], **options):
    """``tokenizer(texts, **options)``, ``CHUNK`` texts at a time: one chunk's output after another."""
    for start in range(0, len(texts), CHUNK):
        yield tokenizer(list(texts[start : start + CHUNK]), **options)


def token_stream(tokenizer, texts: Sequence[str], *, before: Sequence[int] = (), after: Sequence[int] = (),
                 add_special_tokens: bool = False) -> np.ndarray:  # fmt: skip
    """Every text's token ids one after another, with ``before`` and ``after`` around each text."""
    parts = [np.asarray([*before, *ids, *after], dtype=np.int32)
             for encoded in in_chunks(tokenizer, texts, add_special_tokens=add_special_tokens,
                                      return_attention_mask=False, return_token_type_ids=False)
             for ids in encoded["input_ids"]]  # fmt: skip
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


class TokenRows:
    """Rows of equal length, each handed to the collator as ``{"input_ids": [...]}`` when it is read: the same rows
    a list of dicts would give, at a fraction of the memory."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: int) -> dict:
        return {"input_ids": self.array[index].tolist()}


def cut(stream: np.ndarray, length: int, *, first: int | None = None, last: int | None = None) -> TokenRows:
    """``stream`` cut into consecutive rows of ``length`` tokens, the last partial row dropped; with ``first`` and
    ``last``, each row is ``first``, ``length - 2`` tokens of the stream, ``last`` (BERT's [CLS] … [SEP])."""
    framed = first is not None and last is not None
    inner = length - 2 if framed else length
    count = len(stream) // inner if inner > 0 else 0
    body = stream[: count * inner].reshape(count, inner)
    if not framed:
        return TokenRows(body.copy())
    rows = np.empty((count, length), dtype=np.int32)
    rows[:, 0], rows[:, 1:-1], rows[:, -1] = first, body, last
    return TokenRows(rows)


def count_tokens(tokenizer, texts: Sequence[str]) -> list[int]:
    """How many tokens each text makes, untruncated: encoded a chunk at a time, so 50,000 texts never hold
    50,000 full encodings at once."""
    return [len(ids) for encoded in in_chunks(tokenizer, texts, truncation=False, return_attention_mask=False,
                                              return_token_type_ids=False) for ids in encoded["input_ids"]]  # fmt: skip


class TaggedRows:
    """Rows of different lengths with a label per token (a tagger's training set), held as two flat int32 arrays
    and where each row starts; each handed out as ``{"input_ids", "attention_mask", "labels"}`` lists, the same
    rows a list of dicts would give (no padding inside a row: its attention mask is all ones)."""

    def __init__(self) -> None:
        from array import array

        self._ids, self._labels, self._starts = array("i"), array("i"), array("q", [0])

    def append(self, ids: Sequence[int], labels: Sequence[int]) -> None:
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} tokens but {len(labels)} labels")
        self._ids.extend(ids)
        self._labels.extend(labels)
        self._starts.append(len(self._ids))

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        where = slice(self._starts[index], self._starts[index + 1])
        ids = self._ids[where].tolist()
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": self._labels[where].tolist()}

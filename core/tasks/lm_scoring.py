"""Scoring text with a causal language model: summed negative log-likelihood of documents (strided windows, one
at a time or many in padded batches) and perplexity with a bootstrap CI over documents. ``core.tasks.generate``
re-exports these for its callers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.stats import Estimate
from core.tasks.inputs import follows_inputs, to_cpu


def perplexity_with_ci(nll_sums: Sequence[float], counts: Sequence[int], *, seed: int = 0,
                       n_resamples: int = 1000) -> dict:  # fmt: skip
    """exp(total NLL / total tokens), with a 95 % bootstrap CI that resamples whole documents."""
    nll, count = np.asarray(nll_sums, dtype=float), np.asarray(counts, dtype=float)
    if nll.size == 0 or count.sum() <= 0:
        raise ValueError("perplexity needs at least one document with tokens")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, nll.size, size=(n_resamples, nll.size))
    values = np.exp(nll[index].sum(axis=1) / np.maximum(count[index].sum(axis=1), 1))
    low, high = np.quantile(values, [0.025, 0.975])
    return Estimate(
        float(math.exp(nll.sum() / count.sum())), float(low), float(high), int(nll.size)
    ).as_dict()


def document_nll(model, token_ids: Sequence[int], block: int) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) of a document's tokens after the first.

    A sliding window of ``block`` tokens moving by half a block: every token is scored once, and
    (after the first window) with at least half a block of context — the usual strided evaluation,
    so a token at the start of a window is not judged without its past.
    """
    import torch

    follows_inputs(model)
    ids = list(token_ids)
    stride = max(1, block // 2)
    total, count, scored_until = 0.0, 0, 1  # token 0 has no context: never scored
    start = 0
    while scored_until < len(ids):
        window = ids[start : start + block]
        with torch.no_grad():
            logits = to_cpu(model(torch.tensor([window])).logits[0])
        logprobs = torch.log_softmax(logits, dim=-1)
        for position in range(max(scored_until - start, 1), len(window)):
            total -= float(logprobs[position - 1, window[position]])
            count += 1
        scored_until = start + len(window)
        start += stride
    return total, count


def windows(ids: list[int], block: int) -> list[tuple[list[int], int]]:
    """``document_nll``'s windows of one document: (window, first position scored in it)."""
    stride = max(1, block // 2)
    found, scored_until, start = [], 1, 0
    while scored_until < len(ids):
        window = ids[start : start + block]
        found.append((window, max(scored_until - start, 1)))
        scored_until = start + len(window)
        start += stride
    return found


LOGITS_BYTES = 256 * 2**20


def documents_nll(model, documents: Sequence[Sequence[int]], block: int, batch: int = 32) -> list[tuple[float, int]]:
    """``document_nll`` of many documents at once: the same windows, scored in right-padded batches (a causal
    model's logits at real positions do not see the padding after them), several times faster on a CPU."""
    import torch

    follows_inputs(model)  # a model training left on a GPU answers there
    jobs = [(d, window, first) for d, ids in enumerate(documents) for window, first in windows(list(ids), block)]
    jobs.sort(key=lambda job: len(job[1]))  # similar lengths together: less padding
    # the logits and their log-softmax of a batch held at once (GPT-2: 32 windows × 128 × 50,257 would be 1.6 GB):
    # at most LOGITS_BYTES, fewer windows a pass for a large vocabulary
    longest = max((len(window) for _, window, _ in jobs), default=1)
    batch = max(1, min(batch, LOGITS_BYTES // (8 * longest * max(1, int(getattr(model.config, "vocab_size", 1) or 1)))))
    totals = [[0.0, 0] for _ in documents]
    for offset in range(0, len(jobs), batch):
        chunk = jobs[offset : offset + batch]
        longest = max(len(window) for _, window, _ in chunk)
        ids = torch.tensor([window + [0] * (longest - len(window)) for _, window, _ in chunk])
        mask = torch.tensor([[1] * len(window) + [0] * (longest - len(window)) for _, window, _ in chunk])
        with torch.no_grad():
            logprobs = torch.log_softmax(to_cpu(model(input_ids=ids, attention_mask=mask).logits), dim=-1)
        for row, (d, window, first) in enumerate(chunk):
            targets = torch.tensor(window[first:])
            picked = logprobs[row, torch.arange(first - 1, len(window) - 1), targets]
            totals[d][0] -= float(picked.sum())
            totals[d][1] += len(window) - first
    return [(total, count) for total, count in totals]

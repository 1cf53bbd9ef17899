"""Drawing the next token: temperature, top-k and top-p applied in Hugging Face ``generate``'s order, then one draw.
The Generate page's bars show the distribution ``reshape`` gives; its copyable code prints these functions."""

from __future__ import annotations

import numpy as np


def sample_next(probs: np.ndarray, *, temperature: float, top_k: int, top_p: float,
                rng: np.random.Generator) -> tuple[int, np.ndarray]:  # fmt: skip
    """One draw from ``probs`` reshaped as ``reshape`` does. Returns the chosen id and the distribution it was drawn
    from. temperature 0 means greedy."""
    shaped = reshape(probs, temperature=temperature, top_k=top_k, top_p=top_p)
    if temperature <= 0:
        return int(np.argmax(shaped)), shaped
    return int(rng.choice(len(shaped), p=shaped)), shaped


def reshape(probs: np.ndarray, *, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """``probs`` reshaped by temperature, cut to the top-k, renormalised, then cut to the top-p nucleus of what is
    left — the order Hugging Face's ``generate`` applies them in: the distribution sampling draws from."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature <= 0:
        shaped = np.zeros_like(probs)
        shaped[int(np.argmax(probs))] = 1.0
        return shaped
    logits = np.log(np.maximum(probs, 1e-30)) / temperature
    shaped = np.exp(logits - logits.max())
    shaped /= shaped.sum()
    order = most_likely(shaped, top_k if 0 < top_k < len(shaped) else len(shaped))
    kept = shaped[order] / shaped[order].sum()
    if top_p < 1:  # the smallest set of the top-k whose (renormalised) mass reaches top_p, at least one token
        nucleus = int(np.searchsorted(np.cumsum(kept), top_p, side="left")) + 1
        order = order[:nucleus]
    shaped = np.zeros_like(shaped)
    shaped[order] = kept[: len(order)]
    return shaped / shaped.sum()


def most_likely(shaped: np.ndarray, k: int) -> np.ndarray:
    """The ids of the ``k`` most likely tokens, most likely first, equals in id order: the first ``k`` of a stable
    sort of the whole vocabulary, without sorting all of it (once per generated token)."""
    if k >= len(shaped):
        return np.argsort(-shaped, kind="stable")
    kth = np.partition(shaped, len(shaped) - k)[len(shaped) - k]  # the k-th largest probability
    above = np.flatnonzero(shaped > kth)
    chosen = np.concatenate([above, np.flatnonzero(shaped == kth)[: k - len(above)]])
    chosen.sort()  # id order, so that the stable sort below breaks ties as the whole sort does
    return chosen[np.argsort(-shaped[chosen], kind="stable")]

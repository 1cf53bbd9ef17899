"""An interpolated Kneser–Ney n-gram language model over token ids — the classic baseline for a neural LM.

It is fitted on the same tokens as the Transformer (same BPE ids), so the two perplexities are
comparable token for token. Interpolated Kneser–Ney with one absolute discount ``D`` (Chen &
Goodman, 1998, section 3): the highest order uses counts, the lower orders use continuation
counts (in how many different contexts a token appears), and the lowest order is interpolated
with the uniform distribution over the vocabulary, so no token ever gets probability zero.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


class KneserNey:
    def __init__(self, order: int = 3, discount: float = 0.75):
        if order < 2:
            raise ValueError("order must be at least 2")
        if not 0 < discount < 1:
            raise ValueError("discount must be in (0, 1)")
        self.order = order
        self.discount = discount
        self.vocab_size = 0
        # per order n (1..order): counts[n][context][token]; order n uses raw counts at the top, continuation below
        self.counts: list[dict[tuple, Counter]] = []
        self.totals: list[dict[tuple, int]] = []

    def fit(self, sequences: Sequence[Sequence[int]], vocab_size: int) -> KneserNey:
        self.vocab_size = vocab_size
        top: dict[tuple, Counter] = defaultdict(Counter)
        for sequence in sequences:
            tokens = list(sequence)
            for i in range(len(tokens)):
                context = tuple(tokens[max(0, i - self.order + 1) : i])
                if len(context) == self.order - 1:
                    top[context][tokens[i]] += 1
        levels: list[dict[tuple, Counter]] = [dict(top)]
        # continuation counts: N1+(• context token) for each shorter order
        current = top
        for _ in range(self.order - 1):
            lower: dict[tuple, Counter] = defaultdict(Counter)
            for context, following in current.items():
                for token in following:
                    lower[context[1:]][token] += 1
            levels.append(dict(lower))
            current = lower
        self.counts = levels[::-1]  # index 0: unigram (context ()), index order-1: the top order
        self.totals = [{context: sum(c.values()) for context, c in level.items()} for level in self.counts]
        return self

    def _probability(self, level: int, context: tuple, token: int) -> float:
        if level < 0:
            return 1.0 / self.vocab_size
        context = context[len(context) - level :] if level else ()
        lower = self._probability(level - 1, context[1:] if level else (), token)
        following = self.counts[level].get(context)
        if not following:
            return lower
        total = self.totals[level][context]
        discounted = max(following.get(token, 0) - self.discount, 0.0) / total
        return discounted + self.discount * len(following) / total * lower

    def probability(self, context: Sequence[int], token: int) -> float:
        context = tuple(context)[-(self.order - 1) :] if self.order > 1 else ()
        return self._probability(len(context), context, token)

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """The whole next-token distribution (sums to 1) after ``context``."""
        context = tuple(context)[-(self.order - 1) :]
        probs = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for level in range(len(context) + 1):
            key = context[len(context) - level :] if level else ()
            following = self.counts[level].get(key)
            if not following:
                continue
            total = self.totals[level][key]
            discounted = np.zeros(self.vocab_size)
            tokens = np.fromiter(following.keys(), dtype=np.int64)
            values = np.fromiter(following.values(), dtype=np.float64)
            discounted[tokens] = np.maximum(values - self.discount, 0.0) / total
            probs = discounted + self.discount * len(following) / total * probs
        return probs

    def token_logprobs(self, tokens: Sequence[int]) -> list[float]:
        """Natural-log probability of each token after the first, given the tokens before it."""
        return [math.log(self.probability(tokens[max(0, i - self.order + 1) : i], tokens[i])) for i in range(1, len(tokens))]  # fmt: skip

    def perplexity(self, sequences: Sequence[Sequence[int]]) -> float:
        logprobs = [lp for sequence in sequences for lp in self.token_logprobs(sequence)]
        if not logprobs:
            raise ValueError("perplexity needs at least one sequence of two or more tokens")
        return math.exp(-sum(logprobs) / len(logprobs))

"""Attention weights out of a model, as plain arrays with their tokens, and what can be computed from them:
per-head statistics across layers, attention rollout, and the per-head difference between two models."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from core import catalog, loading
from core.catalog import ModelSpec
from core.errors import CoreError, ModelUnavailableError
from core.memo import ATTENTION, Memo, digest
from core.messages import Message
from core.tasks import traced
from core.tasks.inputs import check_text, inference_gate, to_cpu
from core.transformer.bert_layer import head_statistics


@dataclass(frozen=True)
class Attention:
    model_key: str
    tokens: tuple[str, ...]  # shared by every session that asks for this text: immutable
    weights: np.ndarray  # (layers, heads, T, T), rows sum to 1
    sentence_b_start: int | None  # first token of the second sentence of a pair
    n_tokens_input: int  # before truncation at the model's limit

    @property
    def truncated(self) -> bool:
        return self.n_tokens_input > len(self.tokens)

    def window(self, start: int, size: int) -> Attention:
        """Tokens [start, start + size) and the attention among them (weights to tokens outside are dropped)."""
        size = max(1, min(size, len(self.tokens)))
        start = max(0, min(start, len(self.tokens) - size))
        part = slice(start, start + size)
        b = self.sentence_b_start
        b = b - start if b is not None and start < b < start + size else None
        return Attention(
            self.model_key, self.tokens[part], self.weights[:, :, part, part], b, self.n_tokens_input
        )


def inspectable(spec: ModelSpec) -> bool:
    """A Transformer encoder: the packaged one, the Chinese BERT pretrained here (its masked-LM head left out), or
    any classifier built on one (every classification task's)."""
    if spec.kind != "transformers":
        return False
    from core.tasks.base import CLASSIFICATION, tasks

    found = tasks().get(spec.task)
    return spec.task in ("encoder", "fill-mask") or (found is not None and found.family == CLASSIFICATION)


class AttentionModel:
    """A model loaded with eager attention (SDPA kernels return no weights), shared behind a lock."""

    def __init__(self, spec: ModelSpec):
        if not inspectable(spec):
            raise CoreError(Message("{model} has no attention to show; choose a Transformer encoder.", model=spec.title))
        self.spec = spec
        self.tokenizer, self.model = loading.load_encoder(spec, eager_attention=True)
        self.max_tokens = loading.token_limit(self.tokenizer, self.model)
        # one lock for the shared tokenizer and model; the Learn pages borrow this model and take it too
        self.lock = threading.Lock()
        # every layer's maps in one traced pass (core.tasks.traced), built by the first text; no reference back
        self.traced_pass = traced.OnePass.of(spec, self.lock, _maps_pass, self.model, self.tokenizer, spec.title)
        # every session of the class shares the maps: the page draws them on each rerun, the model runs once.
        # A map over 5 MB (about 134 tokens on MiniLM) is recomputed instead of kept; Inspect reads at most
        # INSPECT_TOKENS, so its maps of MiniLM-sized models are kept.
        self.memo = Memo(max_entry_bytes=5 << 20, store=ATTENTION)

    def attend(self, text: str, text_pair: str | None = None, *, max_tokens: int | None = None) -> Attention:
        """Every layer's and head's attention for a text (or a pair), read up to ``max_tokens`` (the model's own limit
        by default); the same input is computed once."""
        cleaned = check_text(text)
        pair = check_text(text_pair) if text_pair else None
        limit = min(self.max_tokens, max_tokens or self.max_tokens)
        return self.memo.get(digest(cleaned, pair, str(limit)), lambda: self._attend(cleaned, pair, limit))

    def _attend(self, cleaned: str, pair: str | None, limit: int) -> Attention:
        import torch

        self.traced_pass.get()  # built outside the lock: it takes the model step by step
        with self.lock, inference_gate():
            full = len(self.tokenizer(cleaned, pair)["input_ids"])
            batch = self.tokenizer(
                cleaned, pair, truncation=True, max_length=limit, return_tensors="pt"
            )
            with torch.inference_mode():  # traced once (core.tasks.traced): the GIL is taken once per pass
                stacked = self.traced_pass.on_batch(batch, lambda: _eager_maps(self.model, batch, self.spec.title))
            # back on the CPU before the slot is let go: a GPU computes asynchronously
            weights = to_cpu(stacked[:, 0]).numpy()  # (L, 1, h, T, T) → (L, h, T, T)
        weights.setflags(write=False)  # shared by every session that asks for this text
        tokens = self.tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
        b_start = None
        if pair is not None and "token_type_ids" in batch:
            second = (batch["token_type_ids"][0] == 1).nonzero()
            b_start = int(second[0]) if len(second) else None
        return Attention(self.spec.key, tuple(tokens), weights, b_start, full)


def _eager_maps(model, batch, title: str):
    import torch

    outputs = model(**batch, output_attentions=True)
    if not outputs.attentions or outputs.attentions[0] is None:
        raise ModelUnavailableError(f"{title} returned no attention weights (eager attention is off).")
    return torch.stack(outputs.attentions)


def _maps_pass(model, tokenizer, title: str, hold, **options) -> traced.TracedPass:
    """The traced maps pass, once a short text has shown that the model returns attention weights at all."""
    import torch

    with hold(), torch.inference_mode():
        _eager_maps(model, tokenizer("a", return_tensors="pt"), title)
    return traced.attention_maps(model, hold, **options)


INSPECT_TOKENS = 128  # Inspect → Attention's reading cap: its views (bertviz, grid, statistics) redraw on every rerun


def statistics_by_layer(attention: Attention) -> dict[str, np.ndarray]:
    """Each head statistic as a (layers, heads) table."""
    per_layer = [head_statistics(layer, attention.tokens) for layer in attention.weights]
    return {name: np.stack([stats[name] for stats in per_layer]) for name in per_layer[0]}


def rollout(weights: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): how much each input token flows into each position.

    Per layer, average the heads and mix in the residual connection, A' = (1 − r)·A + r·I,
    renormalise rows, then multiply the layers: R = A'_L · … · A'_1.  # (T, T), rows sum to 1
    """
    layers, _, t, _ = weights.shape
    result = np.eye(t)
    for layer in range(layers):
        mixed = (1 - residual) * weights[layer].mean(axis=0) + residual * np.eye(t)
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result
    return result


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance (base 2, in [0, 1]) between attention rows, over the last axis."""
    p = np.clip(p, 1e-12, None)
    q = np.clip(q, 1e-12, None)
    m = 0.5 * (p + q)
    divergence = 0.5 * (p * np.log2(p / m)).sum(-1) + 0.5 * (q * np.log2(q / m)).sum(-1)
    return np.sqrt(np.clip(divergence, 0.0, 1.0))


def compare(first: Attention, second: Attention) -> np.ndarray:
    """Mean Jensen–Shannon distance per head between two models on the same tokens.  # (layers, heads)"""
    if first.tokens != second.tokens:
        raise CoreError(
            Message("The two models split the text into different tokens, so their attention maps cannot be "
                    "compared position by position; pick two models with the same tokenizer.")
        )
    if first.weights.shape != second.weights.shape:
        raise CoreError(
            Message("The two models have different shapes (layers × heads {first} vs {second}); pick models of the "
                    "same architecture.", first=tuple(first.weights.shape[:2]), second=tuple(second.weights.shape[:2]))
        )
    return jensen_shannon(first.weights, second.weights).mean(axis=-1)


def inspectable_specs() -> list[ModelSpec]:
    return [spec for spec in catalog.all_specs() if inspectable(spec)]

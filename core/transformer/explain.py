"""Self-attention taken apart, one stage at a time, on a real MiniLM head or on a toy example."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.messages import Message
from core.transformer.attention import scaled_dot_product_attention, softmax_entropy


@dataclass(frozen=True)
class Steps:
    tokens: list[str]
    x: np.ndarray  # token vectors entering the layer  # (T, d_model)
    q: np.ndarray  # (T, d_k)
    k: np.ndarray  # (T, d_k)
    v: np.ndarray  # (T, d_k)
    scores: np.ndarray  # Q Kᵀ / √d_k, masked entries −inf  # (T, T)
    weights: np.ndarray  # softmax of the scores  # (T, T)
    output: np.ndarray  # weights @ V  # (T, d_k)
    d_k: int
    diff_vs_torch: float  # max |ours − torch SDPA| on the output
    source: str
    rotated: bool = False  # q and k are shown after RoPE turned them by their positions (a RoFormer head)


def _attend(tokens, x, w_q, b_q, w_k, b_k, w_v, b_v, causal: bool, source: str, rotary: bool = False) -> Steps:
    # 1) project every token vector into a query, a key and a value
    q = x @ w_q.T + b_q  # (T, d_k)
    k = x @ w_k.T + b_k  # (T, d_k)
    v = x @ w_v.T + b_v  # (T, d_k)
    if rotary:  # a RoFormer: RoPE turns each query and key by its position (the values keep theirs)
        from core.transformer.positional import rope_heads

        q, k = rope_heads(q), rope_heads(k)
    d_k = q.shape[-1]
    # 2) scores, 3) softmax, 4) weighted sum — the same function the rest of LM Lab uses
    output, weights = scaled_dot_product_attention(q, k, v, causal=causal)
    scores = q @ k.T / d_k**0.5
    if causal:
        scores = scores.masked_fill(~torch.ones_like(scores, dtype=torch.bool).tril(), float("-inf"))
    reference = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=causal)[0]
    return Steps(
        tokens=tokens,
        x=x.float().cpu().numpy(),
        q=q.float().cpu().numpy(),
        k=k.float().cpu().numpy(),
        v=v.float().cpu().numpy(),
        scores=scores.float().cpu().numpy(),
        weights=weights.float().cpu().numpy(),
        output=output.float().cpu().numpy(),
        d_k=d_k,
        diff_vs_torch=float((output - reference).abs().max()),  # computed where the model is, then drawn on the CPU
        source=source,
        rotated=rotary,
    )


def encoder_head(folder: Path, text: str, layer: int, head: int, causal: bool, max_tokens: int = 32,
                 name: str = "MiniLM") -> Steps:
    """Head ``head`` of layer ``layer`` of a BERT encoder (MiniLM by default) on ``text``, with the layer's real
    weights and the real vectors that enter it, read from the model's folder and computed by LM Lab's own code
    (``core.transformer.bert_weights``); a RoFormer's queries and keys are rotated by their positions."""
    from core.transformer import bert_weights

    found = bert_weights.head_inputs(folder, text, layer, head, max_tokens=max_tokens)
    return _attend(found.tokens, found.x, *found.projections, causal=causal, rotary=found.rotary,
                   source=Message("{name} layer {layer}, head {head}", name=name, layer=layer, head=head))  # fmt: skip


@torch.no_grad()
def toy(words: list[str], d_model: int = 8, d_k: int = 4, causal: bool = False, seed: int = 0) -> Steps:
    """Random token vectors and random projections: small enough to read every number."""
    if not words:
        raise ValueError("Give at least one word.")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(words), d_model, generator=generator)
    parts = []
    for _ in range(3):
        parts += [torch.randn(d_k, d_model, generator=generator) / d_model**0.5, torch.zeros(d_k)]
    return _attend(list(words), x, *parts, causal=causal, source=Message("toy example, seed {seed}", seed=seed))


@torch.no_grad()
def scaling_demo(
    d_ks: list[int], n_keys: int = 32, trials: int = 400, seed: int = 0
) -> dict[str, np.ndarray]:
    """Why divide by √d_k: with unit-variance q and k, q·k has variance d_k, so unscaled scores grow
    with d_k and the softmax saturates (entropy → 0, one key takes all). Scaling keeps it steady."""
    generator = torch.Generator().manual_seed(seed)
    rows = {"d_k": np.array(d_ks)}
    for name in (
        "entropy scaled",
        "entropy unscaled",
        "top weight scaled",
        "top weight unscaled",
        "score std unscaled",
    ):
        rows[name] = np.zeros(len(d_ks))
    for i, d_k in enumerate(d_ks):
        q = torch.randn(trials, 1, d_k, generator=generator)
        k = torch.randn(trials, n_keys, d_k, generator=generator)
        raw = (q @ k.transpose(-2, -1))[:, 0]  # (trials, n_keys)
        for label, scores in (("scaled", raw / d_k**0.5), ("unscaled", raw)):
            weights = torch.softmax(scores, dim=-1)
            rows[f"entropy {label}"][i] = float(softmax_entropy(weights).mean())
            rows[f"top weight {label}"][i] = float(weights.max(dim=-1).values.mean())
        rows["score std unscaled"][i] = float(raw.std())
    rows["uniform entropy"] = np.full(len(d_ks), np.log(n_keys))
    return rows

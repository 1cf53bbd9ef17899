"""Scaled dot-product attention and the masks that shape it."""

from __future__ import annotations

import math

import torch


def causal_mask(t_q: int, t_k: int | None = None) -> torch.Tensor:
    """``True`` where position i may look at position j (j ≤ i).  # (T_q, T_k)"""
    t_k = t_q if t_k is None else t_k
    return torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=t_k - t_q)


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """From a tokenizer's 0/1 ``attention_mask`` (B, T) to a keep-mask over keys.  # (B, 1, 1, T)"""
    return attention_mask.bool()[:, None, None, :]


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V.

    ``q`` (…, T_q, d_k), ``k`` (…, T_k, d_k), ``v`` (…, T_k, d_v). ``mask`` is boolean and
    broadcastable to (…, T_q, T_k): ``True`` keeps a query–key pair, ``False`` removes it (its
    score becomes −∞ before the softmax). ``causal=True`` also removes every key after the query.
    Returns the output (…, T_q, d_v) and the attention weights (…, T_q, T_k), whose rows sum to 1.
    """
    d_k = q.size(-1)
    # 1) similarity of every query with every key, scaled so its variance does not grow with d_k
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (…, T_q, T_k)
    # 2) remove the pairs the masks forbid
    keep = None
    if causal:
        keep = causal_mask(q.size(-2), k.size(-2)).to(q.device)
    if mask is not None:
        keep = mask if keep is None else keep & mask
    if keep is not None:
        scores = scores.masked_fill(~keep, float("-inf"))
    # 3) softmax over the keys: each query's weights sum to 1
    weights = torch.softmax(scores, dim=-1)  # (…, T_q, T_k)
    # a query with every key masked would give NaN; it attends to nothing instead
    weights = torch.nan_to_num(weights, nan=0.0)
    # 4) the weighted sum of the values
    return weights @ v, weights  # (…, T_q, d_v), (…, T_q, T_k)


def softmax_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each attention row: 0 when one key takes everything, log T when uniform."""
    return -(weights * torch.log(weights.clamp_min(1e-12))).sum(dim=-1)

"""Our Transformer pieces against PyTorch's, with the same weights and inputs: max absolute differences."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.messages import N_
from core.transformer import seeded
from core.transformer.attention import scaled_dot_product_attention
from core.transformer.layers import DecoderLayer, EncoderLayer
from core.transformer.multihead import MultiHeadAttention


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


@torch.no_grad()
def attention_vs_torch(
    seed: int = 0, batch: int = 2, heads: int = 3, t: int = 7, d_k: int = 16
) -> dict[str, float]:
    """Ours vs ``torch.nn.functional.scaled_dot_product_attention``: no mask, causal, padding mask."""
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, t, d_k, generator=generator) for _ in range(3))
    keep = torch.ones(batch, 1, 1, t, dtype=torch.bool)
    keep[0, ..., t - 2 :] = False  # the first sequence ends with two padding tokens
    results = {}
    for name, kwargs, theirs_kwargs in (
        (N_("no mask"), {}, {}),
        (N_("causal mask"), {"causal": True}, {"is_causal": True}),
        (N_("padding mask"), {"mask": keep}, {"attn_mask": keep}),
    ):
        ours, _ = scaled_dot_product_attention(q, k, v, **kwargs)
        theirs = F.scaled_dot_product_attention(q, k, v, **theirs_kwargs)
        results[name] = _diff(ours, theirs)
    return results


@torch.no_grad()
def multihead_vs_torch(seed: int = 0, d_model: int = 32, n_heads: int = 4, t: int = 6) -> dict[str, float]:
    """Ours vs ``torch.nn.MultiheadAttention`` with the same weights: outputs and head-averaged weights."""
    with seeded(seed):  # the same weights whatever other walkthroughs and checks draw meanwhile
        reference = nn.MultiheadAttention(d_model, n_heads, batch_first=True).eval()
        ours = MultiHeadAttention(d_model, n_heads).load_from_torch(reference).eval()
        x = torch.randn(2, t, d_model)
        out_ours, weights_ours = ours(x)
        out_ref, weights_ref = reference(x, x, x, need_weights=True, average_attn_weights=True)
        return {N_("output"): _diff(out_ours, out_ref), N_("weights"): _diff(weights_ours.mean(dim=1), weights_ref)}


@torch.no_grad()
def layers_vs_torch(seed: int = 0, d_model: int = 32, n_heads: int = 4, d_ff: int = 64) -> dict[str, float]:
    """Our encoder and decoder layers vs ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``."""
    with seeded(seed):  # the same weights whatever other walkthroughs and checks draw meanwhile
        common = {"dim_feedforward": d_ff, "dropout": 0.0, "batch_first": True, "norm_first": False}
        encoder_ref = nn.TransformerEncoderLayer(d_model, n_heads, **common).eval()
        decoder_ref = nn.TransformerDecoderLayer(d_model, n_heads, **common).eval()
        encoder = EncoderLayer(d_model, n_heads, d_ff).load_from_torch(encoder_ref).eval()
        decoder = DecoderLayer(d_model, n_heads, d_ff).load_from_torch(decoder_ref).eval()
        source, target = torch.randn(2, 7, d_model), torch.randn(2, 5, d_model)
        memory, _ = encoder(source)
        decoded, _, _ = decoder(target, memory)
        causal = nn.Transformer.generate_square_subsequent_mask(5)
        memory_ref = encoder_ref(source)
        decoded_ref = decoder_ref(target, memory_ref, tgt_mask=causal)
        return {N_("encoder layer"): _diff(memory, memory_ref), N_("decoder layer"): _diff(decoded, decoded_ref)}

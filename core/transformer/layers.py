"""Encoder and decoder layers as in the paper: sublayer → dropout → residual → LayerNorm (post-norm)."""

from __future__ import annotations

import torch
from torch import nn

from core.transformer.multihead import MultiHeadAttention


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, applied to each position separately."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(torch.relu(self.linear1(x)))  # (B, T, d_model)


def _record(trace: list | None, name: str, tensor: torch.Tensor) -> None:
    if trace is not None:
        trace.append((name, tuple(tensor.shape)))


class EncoderLayer(nn.Module):
    """Self-attention (every token sees every non-padding token), then the feed-forward network."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, trace: list | None = None):
        _record(trace, "encoder input", x)
        # 1) multi-head self-attention, residual, LayerNorm
        attended, weights = self.self_attn(x, mask=mask)
        _record(trace, "encoder self-attention weights", weights)
        x = self.norm1(x + attended)  # (B, T, d_model)
        _record(trace, "after attention + residual + norm", x)
        # 2) position-wise feed-forward, residual, LayerNorm
        x = self.norm2(x + self.ffn(x))  # (B, T, d_model)
        _record(trace, "encoder output", x)
        return x, weights

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> EncoderLayer:
        self.self_attn.load_from_torch(layer.self_attn)
        _copy_ffn_and_norms(self, layer, norms=("norm1", "norm2"))
        return self


class DecoderLayer(nn.Module):
    """Masked self-attention (no peeking ahead), cross-attention to the encoder, then the FFN."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff)
        self.norm1, self.norm2, self.norm3 = (
            nn.LayerNorm(d_model),
            nn.LayerNorm(d_model),
            nn.LayerNorm(d_model),
        )

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
        trace: list | None = None,
    ):
        _record(trace, "decoder input (shifted target)", y)
        # 1) causal self-attention: position i sees targets 0…i only
        attended, self_weights = self.self_attn(y, causal=True)
        _record(trace, "decoder self-attention weights (causal)", self_weights)
        y = self.norm1(y + attended)
        # 2) cross-attention: queries from the decoder, keys and values from the encoder output
        _record(trace, "encoder output (memory)", memory)
        crossed, cross_weights = self.cross_attn(y, memory, mask=memory_mask)
        _record(trace, "cross-attention weights", cross_weights)
        y = self.norm2(y + crossed)
        # 3) position-wise feed-forward
        y = self.norm3(y + self.ffn(y))  # (B, T_tgt, d_model)
        _record(trace, "decoder output", y)
        return y, self_weights, cross_weights

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerDecoderLayer) -> DecoderLayer:
        self.self_attn.load_from_torch(layer.self_attn)
        self.cross_attn.load_from_torch(layer.multihead_attn)
        _copy_ffn_and_norms(self, layer, norms=("norm1", "norm2", "norm3"))
        return self


def _copy_ffn_and_norms(ours: nn.Module, theirs: nn.Module, norms: tuple[str, ...]) -> None:
    ours.ffn.linear1.load_state_dict(theirs.linear1.state_dict())
    ours.ffn.linear2.load_state_dict(theirs.linear2.state_dict())
    for name in norms:
        getattr(ours, name).load_state_dict(getattr(theirs, name).state_dict())

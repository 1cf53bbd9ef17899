"""Multi-head attention: MultiHead(Q, K, V) = Concat(head_1, …, head_h) W_O,
with head_i = Attention(Q W_Q,i, K W_K,i, V W_V,i)."""

from __future__ import annotations

import torch
from torch import nn

from core.transformer.attention import scaled_dot_product_attention


class MultiHeadAttention(nn.Module):
    """Written in four numbered steps so each intermediate can be shown on a page."""

    def __init__(self, d_model: int, n_heads: int, bias: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}; pick a divisor.")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.rotary = False  # a RoFormer's block (load_from_bert): queries and keys turned by their positions

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_k).transpose(1, 2)  # (B, h, T, d_k)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        trace: dict | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention when ``x_kv`` is None, cross-attention otherwise. Returns (output, weights)."""
        rotate_qk = self.rotary and x_kv is None  # RoFormer's RoPE is for self-attention only
        x_kv = x_q if x_kv is None else x_kv
        b, t_q, _ = x_q.shape
        # 1) project into queries, keys and values, and split them into h heads
        q = self.split_heads(self.w_q(x_q))  # (B, h, T_q, d_k)
        k = self.split_heads(self.w_k(x_kv))  # (B, h, T_k, d_k)
        v = self.split_heads(self.w_v(x_kv))  # (B, h, T_k, d_k)
        if rotate_qk:  # RoPE: each query and key turned by its position; the values keep theirs
            from core.transformer.positional import rope_heads

            q, k = rope_heads(q), rope_heads(k)
        # 2) every head attends on its own
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)  # (B, h, T_q, d_k)
        # 3) concatenate the heads back into d_model
        concat = heads.transpose(1, 2).reshape(b, t_q, self.d_model)  # (B, T_q, d_model)
        # 4) the output projection W_O mixes what the heads found
        output = self.w_o(concat)  # (B, T_q, d_model)
        if trace is not None:
            trace.update(q=q, k=k, v=v, heads=heads, weights=weights, concat=concat, output=output)
        return output, weights

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of ``torch.nn.MultiheadAttention`` (its in_proj packs W_Q, W_K, W_V)."""
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3, dim=0)
        b_q, b_k, b_v = mha.in_proj_bias.chunk(3, dim=0)
        for linear, weight, bias in ((self.w_q, w_q, b_q), (self.w_k, w_k, b_k), (self.w_v, w_v, b_v)):
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        self.w_o.weight.copy_(mha.out_proj.weight)
        self.w_o.bias.copy_(mha.out_proj.bias)
        return self

    @torch.no_grad()
    def load_from_bert(self, tensors: dict[str, torch.Tensor], rotary: bool = False) -> MultiHeadAttention:
        """Copy a BERT attention block's weights, by BERT's names: self.query/key/value and output.dense (a
        RoFormer's have the same names; ``rotary`` turns its queries and keys by their positions)."""
        self.rotary = rotary
        for ours, name in ((self.w_q, "self.query"), (self.w_k, "self.key"), (self.w_v, "self.value"),
                           (self.w_o, "output.dense")):  # fmt: skip
            ours.weight.copy_(tensors[f"{name}.weight"])
            ours.bias.copy_(tensors[f"{name}.bias"])
        return self

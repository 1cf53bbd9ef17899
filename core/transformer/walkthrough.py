"""Shapes and masks flowing through one encoder layer and one decoder layer, on a toy input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.transformer import seeded
from core.transformer.attention import causal_mask
from core.transformer.layers import DecoderLayer, EncoderLayer
from core.transformer.positional import sinusoidal


@dataclass(frozen=True)
class Walkthrough:
    trace: list[tuple[str, tuple[int, ...]]]
    source_tokens: list[str]
    target_tokens: list[str]
    encoder_mask: np.ndarray  # keys each source position may see  # (S, S)
    causal_mask: np.ndarray  # targets each target position may see  # (T, T)
    cross_mask: np.ndarray  # source positions each target position may see  # (T, S)
    encoder_weights: np.ndarray  # (h, S, S)
    decoder_weights: np.ndarray  # (h, T, T)
    cross_weights: np.ndarray  # (h, T, S)


@torch.no_grad()
def run(
    source: list[str], target: list[str], d_model: int = 16, n_heads: int = 2, n_pad: int = 0, seed: int = 0
) -> Walkthrough:
    """Embed toy tokens (random vectors + the paper's positional encoding) and pass them through both layers.

    The last ``n_pad`` source positions are padding: masked out as keys in the encoder and in
    cross-attention. The decoder input is the target shifted right behind a <bos> token.
    """
    if d_model % n_heads or d_model % 2:
        raise ValueError(f"d_model={d_model} must be even and divisible by n_heads={n_heads}.")
    with seeded(seed):
        return _run(source, target, d_model, n_heads, n_pad)


def _run(source: list[str], target: list[str], d_model: int, n_heads: int, n_pad: int) -> Walkthrough:
    source_tokens = list(source) + ["<pad>"] * n_pad
    target_tokens = ["<bos>", *target[:-1]] if target else ["<bos>"]
    s, t = len(source_tokens), len(target_tokens)
    vocabulary = {token: i for i, token in enumerate(dict.fromkeys(source_tokens + target_tokens))}
    embedding = torch.nn.Embedding(len(vocabulary), d_model)

    def embed(tokens: list[str]) -> torch.Tensor:
        ids = torch.tensor([[vocabulary[token] for token in tokens]])
        positions = torch.from_numpy(sinusoidal(len(tokens), d_model)).float()
        return embedding(ids) + positions  # (1, L, d_model)

    keep_source = torch.tensor([[token != "<pad>" for token in source_tokens]])  # (1, S)
    key_mask = keep_source[:, None, None, :]  # (1, 1, 1, S)
    encoder = EncoderLayer(d_model, n_heads, 4 * d_model).eval()
    decoder = DecoderLayer(d_model, n_heads, 4 * d_model).eval()
    trace: list = []
    memory, encoder_weights = encoder(embed(source_tokens), mask=key_mask, trace=trace)
    _, decoder_weights, cross_weights = decoder(
        embed(target_tokens), memory, memory_mask=key_mask, trace=trace
    )
    keep = keep_source[0].numpy()
    return Walkthrough(
        trace=trace,
        source_tokens=source_tokens,
        target_tokens=target_tokens,
        encoder_mask=np.tile(keep, (s, 1)),
        causal_mask=causal_mask(t).numpy(),
        cross_mask=np.tile(keep, (t, 1)),
        encoder_weights=encoder_weights[0].numpy(),
        decoder_weights=decoder_weights[0].numpy(),
        cross_weights=cross_weights[0].numpy(),
    )

"""One real layer of the packaged MiniLM (a BERT encoder), recomputed by our own code.

We take the layer's real weights and the real hidden states that enter it, run our
multi-head attention, and compare with what Hugging Face computed: the attention
probabilities of all heads and the attention block's output (after W_O, residual, LayerNorm).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import torch

from core.transformer.attention import padding_mask, softmax_entropy
from core.transformer.multihead import MultiHeadAttention


@dataclass(frozen=True)
class LayerReport:
    tokens: list[str]
    layer: int
    ours: np.ndarray  # our attention probabilities  # (h, T, T)
    theirs: np.ndarray  # Hugging Face's  # (h, T, T)
    weights_diff: float
    output_diff: float
    head_outputs: np.ndarray  # each head's weighted values before concatenation  # (h, T, d_k)
    stats: dict[str, np.ndarray]  # per-head statistics  # each (h,)


def head_statistics(weights: np.ndarray, tokens: list[str]) -> dict[str, np.ndarray]:
    """How each head attends, averaged over queries: entropy, distance, and where the weight goes.  # (h,)"""
    t = weights.shape[-1]
    positions = np.arange(t)
    distance = np.abs(positions[:, None] - positions[None, :])  # (T, T)
    entropy = softmax_entropy(torch.tensor(weights)).numpy().mean(axis=-1)  # a copy: shared maps are read-only
    is_cls = np.array([tok == "[CLS]" for tok in tokens])
    is_sep = np.array([tok == "[SEP]" for tok in tokens])
    # Unicode punctuation (P*), so Chinese 。、“” count as well as ASCII , and .
    is_punct = np.array([bool(tok) and all(unicodedata.category(ch).startswith("P") for ch in tok) for tok in tokens])
    return {
        "entropy (nats)": entropy,
        "mean distance (tokens)": (weights * distance).sum(axis=-1).mean(axis=-1),
        "share to [CLS]": weights[..., is_cls].sum(axis=-1).mean(axis=-1),
        "share to [SEP]": weights[..., is_sep].sum(axis=-1).mean(axis=-1),
        "share to punctuation": weights[..., is_punct].sum(axis=-1).mean(axis=-1),
        "share to itself": np.diagonal(weights, axis1=-2, axis2=-1).mean(axis=-1),
    }


@torch.no_grad()
def recompute_layer(model, tokenizer, text: str, layer: int, max_tokens: int = 64) -> LayerReport:
    """Run MiniLM (eager attention) on ``text`` and redo layer ``layer``'s attention with our code."""
    n_layers = model.config.num_hidden_layers
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be between 0 and {n_layers - 1}, got {layer}.")
    batch = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)
    device = next(model.parameters()).device  # where LM Lab placed the model; ours computes there too
    batch = {name: value.to(device) for name, value in batch.items()}
    outputs = model(**batch, output_hidden_states=True, output_attentions=True)
    hidden_in = outputs.hidden_states[layer]  # what enters the layer  # (1, T, d_model)
    theirs = outputs.attentions[layer][0]  # (h, T, T)
    block = model.encoder.layer[layer].attention  # BertAttention: self + output (dense, LayerNorm)
    if hidden_in.dtype != torch.float32:  # a model served in bf16/fp16: both sides recompute this layer in fp32
        import copy

        block, hidden_in = copy.deepcopy(block).float(), hidden_in.float()
        theirs = block(hidden_in)[1][0]

    config = model.config
    ours_mha = MultiHeadAttention(config.hidden_size, config.num_attention_heads).load_from_bert(block).eval()
    ours_mha.to(device=hidden_in.device, dtype=hidden_in.dtype)
    trace: dict = {}
    projected, weights = ours_mha(hidden_in, mask=padding_mask(batch["attention_mask"]), trace=trace)
    # BERT's attention block ends with residual + LayerNorm around W_O (dropout is off in eval mode)
    ours_out = block.output.LayerNorm(projected + hidden_in)
    theirs_out = block(hidden_in)[0]

    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
    ours_np = weights[0].float().cpu().numpy()  # back on the CPU only to be drawn
    return LayerReport(
        tokens=tokens,
        layer=layer,
        ours=ours_np,
        theirs=theirs.float().cpu().numpy(),
        weights_diff=float((weights[0] - theirs).abs().max()),
        output_diff=float((ours_out - theirs_out).abs().max()),
        head_outputs=trace["heads"][0].float().cpu().numpy(),
        stats=head_statistics(ours_np, tokens),
    )


def learned_positions(model, n_positions: int) -> np.ndarray:
    """BERT's learned absolute position embeddings (rows 0…n−1), as trained — no formula behind them.  # (N, d)"""
    table = model.embeddings.position_embeddings.weight
    return table[:n_positions].detach().float().cpu().numpy().astype(float)

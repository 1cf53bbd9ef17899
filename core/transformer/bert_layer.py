"""One real layer of a BERT encoder (the packaged MiniLM, or the Chinese BERT pretrained here), recomputed by our code.

The layer's real weights and the vectors that enter it are read from the model's files (``bert_weights``), our
multi-head attention runs on them, and ``against_transformers`` compares the result with what Hugging Face computes:
the attention probabilities of all heads and the attention block's output (after W_O, residual, LayerNorm).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.transformer import bert_weights, seeded
from core.transformer.attention import softmax_entropy
from core.transformer.multihead import MultiHeadAttention


@dataclass(frozen=True)
class LayerReport:
    tokens: list[str]
    layer: int
    ours: np.ndarray  # our attention probabilities  # (h, T, T)
    head_outputs: np.ndarray  # each head's weighted values before concatenation  # (h, T, d_k)
    block_output: np.ndarray  # after W_O, the residual connection and LayerNorm  # (T, d_model)
    stats: dict[str, np.ndarray]  # per-head statistics  # each (h,)
    rotary: bool = False  # a RoFormer: queries and keys turned by their positions (RoPE) before the scores


@dataclass(frozen=True)
class Agreement:
    weights_diff: float  # max |ours − Hugging Face| over the attention probabilities
    output_diff: float  # … over the attention block's output
    precision: str  # what Hugging Face's side computed in: the served model's dtype ("float32", "bfloat16")


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
def layer_from_files(folder: Path, text: str, layer: int, max_tokens: int = 64) -> LayerReport:
    """Layer ``layer``'s attention on ``text``, by our ``MultiHeadAttention`` on the weights and inputs read from the
    model's folder: no transformers involved."""
    found = bert_weights.layer_inputs(folder, text, layer, max_tokens)
    width = found.x.shape[-1]
    with seeded(0):  # its random start is overwritten by the weights read, but must not move a walkthrough's draws
        ours_mha = MultiHeadAttention(width, found.heads).load_from_bert(found.attention, rotary=found.rotary).eval()
    trace: dict = {}
    projected, weights = ours_mha(found.x[None], trace=trace)
    # BERT's attention block ends with residual + LayerNorm around W_O (dropout is off in eval mode)
    block_output = F.layer_norm(projected[0] + found.x, (width,), found.attention["output.LayerNorm.weight"],
                                found.attention["output.LayerNorm.bias"], found.eps)  # fmt: skip
    ours = weights[0].numpy()
    return LayerReport(tokens=found.tokens, layer=layer, ours=ours, head_outputs=trace["heads"][0].numpy(),
                       block_output=block_output.numpy(), stats=head_statistics(ours, found.tokens),
                       rotary=found.rotary)  # fmt: skip


@torch.no_grad()
def against_transformers(report: LayerReport, model, tokenizer, text: str, max_tokens: int = 64) -> Agreement:
    """Hugging Face's attention probabilities and attention-block output for the same text and layer (eager
    attention, on the device and in the precision LM Lab serves the model in), compared with ``report``'s."""
    batch = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)
    if tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist()) != report.tokens:
        raise ValueError("transformers' tokenizer cut the text differently from the model's tokenizer.json.")
    parameter = next(model.parameters())
    outputs = model(**{name: value.to(parameter.device) for name, value in batch.items()},
                    output_hidden_states=True, output_attentions=True)  # fmt: skip
    theirs = outputs.attentions[report.layer][0].float().cpu()  # (h, T, T)
    encoder = model.base_model.encoder
    block = encoder.layer[report.layer].attention  # BertAttention: self + output (dense, LayerNorm)
    extra = {}
    if hasattr(encoder, "embed_positions"):  # a RoFormer's attention takes the rotary angles of the positions
        extra["sinusoidal_pos"] = encoder.embed_positions(batch["input_ids"].shape)[None, None]
    theirs_out = block(outputs.hidden_states[report.layer], **extra)[0][0].float().cpu()  # (T, d_model)
    return Agreement(weights_diff=float((torch.from_numpy(report.ours) - theirs).abs().max()),
                     output_diff=float((torch.from_numpy(report.block_output) - theirs_out).abs().max()),
                     precision=str(parameter.dtype).removeprefix("torch."))  # fmt: skip

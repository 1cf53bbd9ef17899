"""A BERT encoder read straight from its files and run by LM Lab's own code, without transformers.

The Self-attention page needs the vectors that enter one layer and that layer's W_Q, W_K, W_V for one head.
Here they come from the model's ``model.safetensors`` (memory-mapped: only the embedding rows of the sentence's
tokens and the layers up to the chosen one are read) and its ``tokenizer.json`` (the Rust tokenizers library).
On a fresh server that takes a few hundredths of a second where importing transformers and building the model
take two to three. The page says so, and a test checks every layer's input and the tokens against transformers.

Folders are the verified ones ``core.loading.local_dir`` returns: a bare BERT (the packaged MiniLM), or one with a
task head, whose encoder's names start with ``bert.``, or a RoFormer (the Chinese BERT pretrained here: BERT's
layers with rotary position embeddings), whose names start with ``roformer.``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from core.errors import ModelUnavailableError
from core.messages import Message
from core.transformer.attention import scaled_dot_product_attention
from core.transformer.positional import rope_heads

WEIGHTS_FILE = "model.safetensors"
PREFIXES = ("", "bert.", "roformer.")  # a bare encoder's names, then those of an encoder under a task head


@dataclass(frozen=True)
class Shape:
    layers: int
    heads: int
    width: int
    eps: float  # LayerNorm's epsilon
    positions: int  # the most tokens the encoder reads (its learned position table, or its rotary limit)
    rotary: bool = False  # RoFormer: no position table; queries and keys rotated by their positions (RoPE)


def read_shape(folder: Path) -> Shape:
    """The encoder's size from its config.json; ValueError for anything but a BERT (learned absolute positions) or
    RoFormer (rotary positions on queries and keys only) encoder this code runs exactly."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind not in ("bert", "roformer") or config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"{folder.name} is not a BERT encoder with GELU activations.")
    if config.get("position_embedding_type", "absolute") != "absolute" or config.get("is_decoder"):
        raise ValueError(f"{folder.name} is not an encoder with learned absolute positions.")
    if kind == "roformer" and (config.get("rotary_value") or config.get("embedding_size") not in (None, config.get("hidden_size"))):
        raise ValueError(f"{folder.name} is a RoFormer with rotated values or a projected embedding.")
    try:
        shape = Shape(layers=int(config["num_hidden_layers"]), heads=int(config["num_attention_heads"]),
                      width=int(config["hidden_size"]), eps=float(config.get("layer_norm_eps", 1e-12)),
                      positions=int(config.get("max_position_embeddings", 512)), rotary=kind == "roformer")  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{folder.name}'s config.json lacks a readable size.") from None
    if shape.layers < 1 or shape.heads < 1 or shape.width % shape.heads or shape.positions < 2 or (
            shape.rotary and (shape.width // shape.heads) % 2):  # RoPE turns pairs of coordinates
        raise ValueError(f"{folder.name}'s config.json gives an impossible size.")
    return shape


def _unreadable(folder: Path, error: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(Message("{name} could not be read ({error}); retrain it or reinstall LM Lab's "
                                         "packages.", name=f"{folder.parent.name}/{folder.name}", error=str(error)[:200]))  # fmt: skip


# One tokenizer per file (and length cap), each with its own lock: a Rust tokenizer used by two threads at once
# can fail ("Already borrowed"). A few entries only: the Learn pages open two encoders.
_tokenizers: OrderedDict[tuple, tuple] = OrderedDict()
_tokenizers_lock = threading.Lock()


def _tokenizer(folder: Path, max_tokens: int):
    from core.loading import read_tokenizer

    path = folder / "tokenizer.json"
    try:
        key = (str(path), path.stat().st_mtime_ns, max_tokens)
    except OSError as error:
        raise _unreadable(folder, error) from None
    with _tokenizers_lock:
        if key not in _tokenizers:
            tokenizer = read_tokenizer(folder)
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_tokens)  # counts [CLS] and [SEP], as transformers' truncation does
            _tokenizers[key] = (tokenizer, threading.Lock())
            while len(_tokenizers) > 4:
                _tokenizers.popitem(last=False)
        _tokenizers.move_to_end(key)
        return _tokenizers[key]


def tokenize(folder: Path, text: str, max_tokens: int) -> tuple[list[str], list[int]]:
    """The tokens and ids the model's own tokenizer gives ``text``, [CLS] and [SEP] included."""
    tokenizer, lock = _tokenizer(folder, max_tokens)
    with lock:
        encoding = tokenizer.encode(text)
    return list(encoding.tokens), list(encoding.ids)


class _Reader:
    """Named tensors of one open weight file, in fp32, under the encoder's prefix."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.names = names = set(handle.keys())
        found = [p for p in PREFIXES if f"{p}embeddings.word_embeddings.weight" in names]
        if not found:
            raise ValueError("The weight file holds no BERT embeddings.")
        self.prefix = found[0]

    def __call__(self, name: str) -> torch.Tensor:
        if self.prefix + name not in self.names:
            raise ValueError(f"The weight file holds no {name}: it does not match its config.json.")
        return self.handle.get_tensor(self.prefix + name).float()

    def rows(self, name: str, ids: list[int]) -> torch.Tensor:
        """Only the rows ``ids`` of a table (the word embeddings are most of the file).  # (len(ids), width)"""
        table = self.handle.get_slice(self.prefix + name)
        count = table.get_shape()[0]
        if any(not 0 <= i < count for i in ids):  # a tokenizer.json that does not belong to these weights
            raise ValueError(f"The tokenizer gives ids beyond the {count} rows of {name}.")
        return torch.cat([table[i : i + 1] for i in ids]).float()


def _embed(read: _Reader, ids: list[int], shape: Shape) -> torch.Tensor:
    """Word + position + segment-0 embeddings, then LayerNorm (a RoFormer adds no position here).  # (T, width)"""
    x = read.rows("embeddings.word_embeddings.weight", ids)
    if not shape.rotary:
        x = x + read("embeddings.position_embeddings.weight")[: len(ids)]
    x = x + read("embeddings.token_type_embeddings.weight")[0]
    return F.layer_norm(x, (shape.width,), read("embeddings.LayerNorm.weight"), read("embeddings.LayerNorm.bias"),
                        shape.eps)  # fmt: skip


def _linear(read: _Reader, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, read(f"{name}.weight"), read(f"{name}.bias"))


def _norm(read: _Reader, name: str, x: torch.Tensor, shape: Shape) -> torch.Tensor:
    return F.layer_norm(x, (shape.width,), read(f"{name}.weight"), read(f"{name}.bias"), shape.eps)


def encoder_layer(read: _Reader, index: int, x: torch.Tensor, shape: Shape) -> torch.Tensor:
    """One encoder layer: multi-head self-attention, W_O, residual + LayerNorm; GELU feed-forward, residual +
    LayerNorm (BERT's post-norm order). One sentence, so no padding mask. A RoFormer rotates the queries and keys
    by their positions (RoPE) before the scores.  # (T, width)"""
    name = f"encoder.layer.{index}"
    t, d_k = x.shape[0], shape.width // shape.heads

    def heads(part: str) -> torch.Tensor:  # (heads, T, d_k)
        projected = _linear(read, f"{name}.attention.self.{part}", x).view(t, shape.heads, d_k).transpose(0, 1)
        return rope_heads(projected) if shape.rotary and part != "value" else projected

    mixed, _weights = scaled_dot_product_attention(heads("query"), heads("key"), heads("value"))
    merged = mixed.transpose(0, 1).reshape(t, shape.width)
    attended = _norm(read, f"{name}.attention.output.LayerNorm",
                     _linear(read, f"{name}.attention.output.dense", merged) + x, shape)  # fmt: skip
    inner = F.gelu(_linear(read, f"{name}.intermediate.dense", attended))
    return _norm(read, f"{name}.output.LayerNorm", _linear(read, f"{name}.output.dense", inner) + attended, shape)


def _open(folder: Path):
    from safetensors import SafetensorError, safe_open

    try:
        return safe_open(str(folder / WEIGHTS_FILE), framework="pt")
    except (OSError, SafetensorError) as error:
        raise _unreadable(folder, error) from None


@dataclass(frozen=True)
class LayerInputs:
    tokens: list[str]
    x: torch.Tensor  # what enters the layer: the embeddings for layer 0, else the output of the layers below  # (T, width)
    attention: dict[str, torch.Tensor]  # the layer's attention block, by BERT's names ("self.query.weight", …)
    heads: int
    eps: float  # LayerNorm's epsilon
    rotary: bool  # queries and keys are rotated by their positions (RoPE) before the scores


ATTENTION_NAMES = tuple(f"{part}.{kind}" for part in ("self.query", "self.key", "self.value", "output.dense",
                                                      "output.LayerNorm") for kind in ("weight", "bias"))  # fmt: skip


@torch.no_grad()
def layer_inputs(folder: Path, text: str, layer: int, max_tokens: int = 64) -> LayerInputs:
    """The tokens of ``text``, the vectors entering layer ``layer`` (computed here, layer by layer, from the weight
    file) and that layer's attention weights."""
    shape = read_shape(folder)
    if not 0 <= layer < shape.layers:
        raise ValueError(f"layer must be between 0 and {shape.layers - 1}, got {layer}.")
    tokens, ids = tokenize(folder, text, min(max_tokens, shape.positions))
    with _open(folder) as handle:
        read = _Reader(handle)
        x = _embed(read, ids, shape)
        for index in range(layer):
            x = encoder_layer(read, index, x, shape)
        attention = {name: read(f"encoder.layer.{layer}.attention.{name}") for name in ATTENTION_NAMES}
    return LayerInputs(tokens=tokens, x=x, attention=attention, heads=shape.heads, eps=shape.eps, rotary=shape.rotary)


@dataclass(frozen=True)
class HeadInputs:
    tokens: list[str]
    x: torch.Tensor  # what enters the layer  # (T, width)
    projections: tuple[torch.Tensor, ...]  # this head's W_Q, b_Q, W_K, b_K, W_V, b_V  # (d_k, width) / (d_k,)
    rotary: bool  # queries and keys are rotated by their positions (RoPE) before the scores


def head_inputs(folder: Path, text: str, layer: int, head: int, max_tokens: int = 32) -> HeadInputs:
    """``layer_inputs``, with head ``head``'s slice of the layer's query, key and value projections."""
    found = layer_inputs(folder, text, layer, max_tokens)
    if not 0 <= head < found.heads:
        raise ValueError(f"head must be between 0 and {found.heads - 1}, got {head}.")
    d_k = found.x.shape[-1] // found.heads
    rows = slice(head * d_k, (head + 1) * d_k)
    projections = tuple(found.attention[f"self.{part}.{kind}"][rows] for part in ("query", "key", "value")
                        for kind in ("weight", "bias"))  # fmt: skip
    return HeadInputs(tokens=found.tokens, x=found.x, projections=projections, rotary=found.rotary)


@torch.no_grad()
def hidden_states(folder: Path, text: str, max_tokens: int = 64) -> tuple[list[str], list[torch.Tensor]]:
    """The tokens of ``text`` and every hidden state, as transformers' ``output_hidden_states`` gives them: the
    embeddings, then each layer's output.  # each (T, width)"""
    shape = read_shape(folder)
    tokens, ids = tokenize(folder, text, min(max_tokens, shape.positions))
    with _open(folder) as handle:
        read = _Reader(handle)
        states = [_embed(read, ids, shape)]
        for index in range(shape.layers):
            states.append(encoder_layer(read, index, states[-1], shape))
    return tokens, states


def positions(folder: Path, count: int) -> torch.Tensor:
    """The first ``count`` rows of the encoder's learned position table, as trained.  # (count, width)"""
    with _open(folder) as handle:
        return _Reader(handle)("embeddings.position_embeddings.weight")[:count]

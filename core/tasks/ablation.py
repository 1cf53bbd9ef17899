"""Ablation: switch parts of a GPT or a BERT-class classifier off and measure what it costs.

A head is switched off by zeroing its output before the attention block's output projection (W_O), so the
other heads' outputs are untouched ("zero ablation"); an MLP is switched off by replacing its output with zeros,
so that block adds only its attention to the residual stream. W_O's bias is still added; later layers see the
changed stream. In GPT-2 (pre-LN) nothing else changes in that block; in BERT (post-LN) the layer norm after W_O
and after the MLP still runs, so it rescales what the remaining heads wrote. Hooks on the real model do it;
nothing is copied or retrained, and removing the hooks restores the model exactly.

This module holds the hooks and the language model's side (perplexity); a classifier's accuracy is measured in
``core.tasks.ablation_classifier``, a translation model's chrF in ``core.tasks.ablation_translation``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import CoreError
from core.memo import MEANS, Memo
from core.messages import Message
from core.tasks.activation_sums import summed
from core.tasks.inputs import to_cpu

MAX_SWEEP_HEADS = 64  # a translation sweep scores its held-out pairs once per head
SWEEP_DOCUMENTS = 200  # held-out documents a language model's sweep scores at most (all of them when there are fewer)
# (heads + MLPs + 2) × tokens read × weights (a tied output matrix counted once) a language model's sweep may cost: the
# whole model once, the pass mean ablation takes its means in, then each head and MLP off, every window of
# documents_nll. A model whose sweep over every document would cost
# more reads blocks of at most SWEEP_BLOCK tokens (its context, if shorter) drawn at random instead (GPT-2 small,
# 144 heads and 12 MLPs: about 1,000 tokens, at least 7 blocks; 12 from 30 documents of 100–500 tokens; 13 before the
# means pass was counted, swept in 381 s on one thread by benchmarks/ablation.py --gpt2-shaped); one that cannot read MIN_SWEEP_BLOCKS is refused.
LM_SWEEP_WORK_BUDGET = 2e13
SWEEP_BLOCK = 128
MIN_SWEEP_BLOCKS = 5
# the classifiers' sweeps count heads × held-out tokens × non-embedding weights: the topic MiniLM's 5e12 took 48 s
SWEEP_WORK_BUDGET = 2e13


def _points(model):
    """Per block: (the module whose input is the heads side by side before the output projection, the MLP module
    whose output is zeroed) of a GPT-2-class model or a BERT-class encoder (BERT, MiniLM), whatever head is on top."""
    body = getattr(model, "transformer", None)
    if hasattr(body, "h") and all(hasattr(getattr(b, "attn", None), "c_proj") and hasattr(b, "mlp") for b in body.h):
        return [(block.attn.c_proj, block.mlp) for block in body.h]  # GPT-2: c_proj is W_O, mlp adds to the stream
    encoder = getattr(getattr(model, "base_model", None), "encoder", None)
    points = [(getattr(getattr(getattr(block, "attention", None), "output", None), "dense", None),
               getattr(getattr(block, "output", None), "dense", None)) for block in getattr(encoder, "layer", ())]  # fmt: skip
    width = getattr(model.config, "hidden_size", None)
    if points and all(_linear(w_o, width) and _linear(mlp, None) for w_o, mlp in points):
        # BERT: attention.output.dense is W_O (its input the heads side by side); output.dense the MLP's second matrix
        return points
    raise CoreError(Message("Ablation reads GPT-2-class models and BERT-class encoders; {name} is neither.",
                            name=type(model).__name__))  # fmt: skip


def _linear(module, inputs: int | None) -> bool:
    """A linear layer (taking ``inputs`` features, when given): where a BERT block's hooks go."""
    return type(module).__name__ == "Linear" and (inputs is None or getattr(module, "in_features", None) == inputs)


def head_inputs(model) -> list:
    """Per block, the module whose input is that block's heads side by side (W_O): where a head's output is read."""
    return [w_o for w_o, _mlp in _points(model)]


def shape(model) -> tuple[int, int]:
    """(layers, heads per layer) of a GPT-2-class model or a BERT-class encoder."""
    config = model.config
    layers = len(_points(model))
    heads = getattr(config, "n_head", None) or config.num_attention_heads
    return layers, int(heads)


@contextlib.contextmanager
def ablated(model, heads: Iterable[tuple[int, int]] = (), mlps: Iterable[int] = (), means: dict | None = None):
    """Within the block, ``model`` runs with those heads ((layer, head) pairs) and MLPs (layers) switched off: their
    output zeroed, or with ``means`` (``mean_outputs``) replaced by its mean on held-out text."""
    points = _points(model)
    layers, count = shape(model)
    width = (getattr(model.config, "n_embd", None) or model.config.hidden_size) // count
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        if not (0 <= layer < layers and 0 <= head < count):
            raise CoreError(Message("There is no head {head} in layer {layer}.", head=head, layer=layer))
        by_layer.setdefault(layer, []).append(head)
    for layer in set(mlps):
        if not 0 <= layer < layers:
            raise CoreError(Message("There is no layer {layer}.", layer=layer))
    mlp_layers = sorted(set(mlps))
    head_means, mlp_means = [], []
    if means is not None:  # every part switched off gets its mean: none falls back to zeros unsaid
        try:
            head_means = [means[("heads", layer)] for layer in by_layer]
            mlp_means = [means[("mlp", layer)] for layer in mlp_layers]
        except KeyError as missing:
            raise CoreError(Message("No mean was taken for {part}.", part=str(missing))) from None
    with switched_off([(points[layer][0], chosen, width) for layer, chosen in by_layer.items()],
                      [points[layer][1] for layer in mlp_layers], head_means, mlp_means):  # fmt: skip
        yield model


@contextlib.contextmanager
def switched_off(heads: Sequence[tuple[object, Sequence[int], int]], outputs: Sequence[object] = (),
                 head_means: Sequence[object] = (), output_means: Sequence[object] = ()):  # fmt: skip
    """Hooks for the block: per (W_O module, heads, width of a head) the chosen heads' slices of W_O's input
    zeroed; each module of ``outputs`` (an MLP's last layer) answering zeros. Where ``head_means`` / ``output_means``
    give a vector for a module (in the same order; None for zeros), that vector replaces the part instead: W_O's
    whole input for the heads, its slices taken; the MLP's output. Removed on the way out."""
    import torch

    def put(target, mean) -> None:  # into (…, tokens, width): one vector, or (2, width): the first position's, the rest's
        mean = mean.to(target.device, target.dtype)
        target[...] = mean if mean.dim() == 1 else mean[1]
        if mean.dim() == 2:
            target[..., :1, :] = mean[0]

    def silence(chosen: Sequence[int], width: int, mean) -> Callable:
        def hook(_module, inputs):
            merged = inputs[0].clone()  # (batch, tokens, heads × width): the heads side by side, before W_O
            for head in chosen:
                part = slice(head * width, (head + 1) * width)
                if mean is None:
                    merged[..., part] = 0
                else:
                    put(merged[..., part], mean[..., part])
            return (merged, *inputs[1:])

        return hook

    def replaced(mean) -> Callable:
        if mean is None:
            return lambda _m, _i, out: torch.zeros_like(out)

        def hook(_m, _i, out):
            put(new := torch.empty_like(out), mean)
            return new

        return hook

    head_means, output_means = list(head_means) or [None] * len(heads), list(output_means) or [None] * len(outputs)
    hooks = []
    try:
        for (module, chosen, width), mean in zip(heads, head_means, strict=True):
            hooks.append(module.register_forward_pre_hook(silence(list(chosen), width, mean)))
        for module, mean in zip(outputs, output_means, strict=True):
            hooks.append(module.register_forward_hook(replaced(mean)))
        yield
    finally:
        for hook in hooks:
            hook.remove()


MEAN_TOKENS = 4096  # held-out tokens whose activations mean ablation averages (the first blocks of a sweep's text)


def mean_outputs(model, documents: Sequence[Sequence[int]], block: int, most: int = MEAN_TOKENS,
                 first_apart: bool = False) -> dict:  # fmt: skip
    """What mean ablation puts in place of a part of a language model: per layer, the mean over held-out tokens (the
    documents, ids as the model reads them, cut into pieces of at most ``block`` tokens, up to ``most`` tokens in
    all; every position counted alike, the first of each piece too) of W_O's input (every head's output side by
    side: ``("heads", layer)``) and of the MLP's output (``("mlp", layer)``), as 1-D tensors. With ``first_apart``
    (a classifier, which reads its answer at the first position, [CLS]): (2, width) tensors, the mean at the first
    position of each piece, then the mean at the others."""
    import torch

    points = _points(model)
    before = {("heads", layer): w_o for layer, (w_o, _mlp) in enumerate(points)}
    after = {("mlp", layer): mlp for layer, (_w_o, mlp) in enumerate(points)}
    tokens = pieces = 0
    with summed(before, after, first_apart) as (sums, _positions), torch.no_grad():
        for ids in documents:
            for start in range(0, len(ids), block):
                piece = list(ids[start : start + block])[: most - tokens]
                if not piece:
                    break
                model(torch.tensor([piece], device=next(model.parameters()).device))
                tokens += len(piece)
                pieces += 1
            if tokens >= most:
                break
    if not tokens:
        raise CoreError(Message("Mean ablation needs some held-out text to average over."))
    if first_apart:  # a piece of one token has no other positions: its first stands in for them
        counts = torch.tensor([[pieces], [max(tokens - pieces, 1)]], dtype=torch.float64)
        means = {key: total / counts for key, total in sums.items()}
        if tokens == pieces:
            means = {key: mean[[0, 0]] for key, mean in means.items()}
        return {key: mean.float() for key, mean in means.items()} | {"tokens": tokens, "pieces": pieces}
    return {key: (total / tokens).float().cpu() for key, total in sums.items()} | {"tokens": tokens}


@dataclass(frozen=True)
class Effect:
    tokens: list[str]  # the tokens scored (each given the ones before it)
    before: list[float]  # log-probability of each, the whole model
    after: list[float]  # the same with the chosen parts switched off
    perplexity_before: float
    perplexity_after: float


def effect(model, tokenizer, ids: Sequence[int], heads=(), mlps=(), means: dict | None = None) -> Effect:
    """Each token's log-probability with and without the chosen parts (zeroed, or replaced by ``means``), and the
    text's perplexity both ways."""
    import torch

    ids = list(ids)
    if len(ids) < 2:
        raise CoreError(Message("Score needs at least one token of text."))

    def logprobs() -> list[float]:
        with torch.no_grad():
            found = torch.log_softmax(to_cpu(model(torch.tensor([ids])).logits[0]), dim=-1)
        return [float(found[i - 1, ids[i]]) for i in range(1, len(ids))]

    before = logprobs()
    with ablated(model, heads, mlps, means):
        after = logprobs()
    return Effect(tokens=[tokenizer.decode([i]) for i in ids[1:]], before=before, after=after,
                  perplexity_before=math.exp(-sum(before) / len(before)),
                  perplexity_after=math.exp(-sum(after) / len(after)))  # fmt: skip


def paired_change(base: np.ndarray, changed: np.ndarray, counts: np.ndarray, *, seed: int = 0,
                  n_resamples: int = 1000) -> tuple[float, float, float]:  # fmt: skip
    """Δ perplexity (changed − base) over documents, with a 95 % bootstrap CI resampling the same documents for
    both (paired): base and changed are each document's summed NLL, counts its scored tokens."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(base), size=(n_resamples, len(base)))
    total = np.maximum(counts[index].sum(axis=1), 1)
    deltas = np.exp(changed[index].sum(axis=1) / total) - np.exp(base[index].sum(axis=1) / total)
    low, high = np.quantile(deltas, [0.025, 0.975])
    value = math.exp(changed.sum() / counts.sum()) - math.exp(base.sum() / counts.sum())
    return float(value), float(low), float(high)


def sweep(score: Callable[..., list[tuple[float, int]]], layers: int, heads: int,
          report: Callable[[float], None] = lambda done: None, *, mlps: bool = False) -> dict[str, np.ndarray]:  # fmt: skip
    """Every head switched off alone (and, with ``mlps``, every MLP), ranked by what it costs on held-out text.

    ``score(heads)`` — ``score(heads, mlps)`` when ``mlps`` — returns (summed NLL, tokens) per held-out document with
    those parts off (the caller takes the model's lock for each call, so other sessions are served between parts).
    Returns (layers, heads) arrays: Δ perplexity and its CI, the base perplexity, and with ``mlps`` the same per
    layer's MLP (``mlp_delta``, ``mlp_low``, ``mlp_high``).
    """
    base = np.array(score(()), dtype=float)
    found = {name: np.zeros((layers, heads)) for name in ("delta", "low", "high")}
    total = layers * heads + (layers if mlps else 0)
    for n, (layer, head) in enumerate((layer, head) for layer in range(layers) for head in range(heads)):
        changed = np.array(score([(layer, head)]), dtype=float)
        delta, low, high = paired_change(base[:, 0], changed[:, 0], base[:, 1])
        found["delta"][layer, head], found["low"][layer, head], found["high"][layer, head] = delta, low, high
        report((n + 1) / total)
    if mlps:
        found.update({name: np.zeros(layers) for name in ("mlp_delta", "mlp_low", "mlp_high")})
        for layer in range(layers):
            changed = np.array(score((), [layer]), dtype=float)
            found["mlp_delta"][layer], found["mlp_low"][layer], found["mlp_high"][layer] = paired_change(
                base[:, 0], changed[:, 0], base[:, 1])
            report((layers * heads + layer + 1) / total)
    found["base"] = np.array(math.exp(base[:, 0].sum() / base[:, 1].sum()))
    return found


def sweep_plan(heads: int, weights: int, documents: Sequence[Sequence[int]], block: int = SWEEP_BLOCK,
               mlps: int = 0, extra: int = 0) -> tuple[list[list[int]], bool]:  # fmt: skip
    """What a sweep of ``heads`` heads and ``mlps`` MLPs reads of the held-out ``documents`` (ids): all of them when
    (heads + mlps + 1 + extra) × the
    tokens its windows of ``block`` tokens read × weights fits LM_SWEEP_WORK_BUDGET; else blocks of at most ``block``
    tokens cut from them (one window each), as many as fit, drawn at random (seed 0: the same for the whole class) and
    kept in their order, and True. Refused (CoreError) when fewer than MIN_SWEEP_BLOCKS fit. ``extra`` passes over
    the same tokens are counted too (mean ablation's pass that takes the means)."""
    from core.tasks.lm_scoring import windows

    def cost(tokens: int) -> float:
        return (heads + mlps + 1 + extra) * tokens * weights

    read = sum(len(window) for ids in documents for window, _first in windows(list(ids), block))
    if cost(read) <= LM_SWEEP_WORK_BUDGET:
        return [list(ids) for ids in documents], False
    blocks = [list(ids[i : i + block]) for ids in documents for i in range(0, len(ids), block)]
    blocks = [block for block in blocks if len(block) > 1]  # one window each: read once, every token after the first scored
    tokens, chosen = 0, []
    for index in np.random.default_rng(0).permutation(len(blocks)):
        if cost(tokens + len(blocks[index])) <= LM_SWEEP_WORK_BUDGET:  # one too long is skipped, a shorter may fit
            tokens += len(blocks[index])
            chosen.append(int(index))
    if len(chosen) < MIN_SWEEP_BLOCKS:
        raise CoreError(Message("A sweep would run this model ({weights} M weights) over at least {count} held-out "
                                "blocks of up to {block} tokens once as a whole and once for each of its {heads} heads "
                                "and {mlps} MLPs: more "
                                "than LM Lab runs for one sweep (about 8 minutes of work on one core). Switch heads off "
                                "by hand instead.", weights=f"{weights / 1e6:.0f}", count=MIN_SWEEP_BLOCKS,
                                block=block, heads=heads, mlps=mlps))  # fmt: skip
    return [blocks[i] for i in sorted(chosen)], True


def effect_on(lm, text: str, heads=(), mlps=(), means: dict | None = None) -> Effect:
    """``effect`` for a shared ``core.tasks.generate.LanguageModel`` and a user's text (``means``: ``lm_means``)."""
    ids = lm.scored_ids(text)
    with lm.exclusive() as model:
        return effect(model, lm.tokenizer, ids, heads, mlps, means)


def held_out_ids(lm) -> list[list[int]]:
    """The held-out documents of the text ``lm`` was trained on (Lee news otherwise), at most SWEEP_DOCUMENTS spread
    over them, as ids with the boundary token first."""
    from core import catalog
    from core.tasks.generate import lm_corpus

    card = catalog.read_metadata(lm.spec.key) if lm.spec.trained_here else None
    documents = lm_corpus(card.recipe.get("dataset", "lee") if card else "lee").split()[1]
    step = max(1, math.ceil(len(documents) / SWEEP_DOCUMENTS))
    # split_special_tokens as every request does: the shared tokenizer's setting is never flipped under another
    return [[lm.tokenizer.eos_token_id, *lm.tokenizer(text, split_special_tokens=True)["input_ids"]]
            for text in documents[::step]]


def sweep_model(lm, report: Callable[[float], None] = lambda done: None, *, mean: bool = False,
                version: str = "") -> dict[str, np.ndarray]:  # fmt: skip
    """``sweep`` on a shared language model: its held-out documents, or the blocks of them ``sweep_plan`` allows, the
    lock taken per head. With ``mean``, each part is replaced by its mean on the first MEAN_TOKENS tokens of those
    documents (``lm_means``, shared with hand-picked runs of the same model ``version``) instead of zeroed."""
    from core.tasks.generate import documents_nll

    layers, heads = shape(lm.model)
    documents, available, block, cut = _sweep_text(lm)
    means = lm_means(lm, version) if mean else None

    def score(chosen, mlps=()) -> list[tuple[float, int]]:
        with lm.exclusive() as model, ablated(model, chosen, mlps, means):
            return documents_nll(model, documents, block)

    found = sweep(score, layers, heads, report, mlps=True)
    found["mean_tokens"] = np.array(means["tokens"] if means else 0)  # 0: parts were zeroed
    found["documents"], found["available"], found["blocks"] = (np.array(len(documents)), np.array(available),
                                                               np.array(cut))  # fmt: skip
    found["block"] = np.array(block)
    return found


def _sweep_text(lm) -> tuple[list[list[int]], int, int, bool]:
    """What a sweep of a shared language model reads: (its held-out documents, or the blocks of them ``sweep_plan``
    allows; how many documents there were; the window ``documents_nll`` reads them in; whether they were cut)."""
    layers, heads = shape(lm.model)
    available = held_out_ids(lm)
    weights = sum(p.numel() for p in lm.model.parameters())  # a tied unembedding counted once: it is a matmul too
    block = min(lm.context, SWEEP_BLOCK)  # the windows documents_nll reads: the plan counts and cuts with the same
    # every head, then every MLP, and the pass mean ablation takes its means in: counted in either mode, so that
    # both modes read the same held-out text (a large model's blocks are drawn to fit the cap)
    documents, cut = sweep_plan(layers * heads, weights, available, block, mlps=layers, extra=1)
    return documents, len(available), block, cut


MEAN_MEMO = Memo(max_entry_bytes=1 << 20, store=MEANS)  # each part's means per model version (GPT-2 small's: 74 KB)


def lm_means(lm, version: str = "") -> dict:
    """Mean ablation's replacements for a shared language model: each part's mean output over the first MEAN_TOKENS
    tokens its sweep reads (``mean_outputs``; a model too large to sweep: of its held-out documents), in one pass.
    Taken once per model ``version`` for every session: hand-picked runs and the sweep use the same means (without a
    ``version``, as in the copyable code's own process, taken afresh)."""

    def take() -> dict:
        try:
            documents, _available, block, _cut = _sweep_text(lm)
        except CoreError:  # refused as a sweep: the means read only MEAN_TOKENS tokens anyway
            documents, block = held_out_ids(lm), min(lm.context, SWEEP_BLOCK)
        with lm.exclusive() as model:
            return mean_outputs(model, documents, block)

    return MEAN_MEMO.get((lm.spec.key, version, MEAN_TOKENS), take) if version else take()

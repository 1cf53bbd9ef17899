"""Ablation on an encoder-decoder translation model (BART / Marian class): heads of the encoder's
self-attention, the decoder's self-attention and the decoder's cross-attention, and either stack's MLPs,
switched off with the hooks of ``core.tasks.ablation``; the user's sentence translated both ways, held-out chrF
both ways with a paired CI, and every head ranked by the chrF it costs when switched off alone.

Greedy decoding, as the Translate page's default: the hooks act at every decoding step (the cross-attention's
keys and values are computed once, but W_O reads the heads at each step). chrF here is the mean of sentence
chrF over the held-out pairs — the unit the paired bootstrap resamples — not the corpus chrF of the benchmark.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.errors import CoreError
from core.memo import Memo, digest
from core.messages import Message
from core.stats import held_out_summary, paired_mean_change, sign_test
from core.tasks.ablation import (
    MAX_SWEEP_HEADS,
    MEAN_MEMO,
    switched_off,
)
from core.tasks.activation_sums import summed

# where a head sits: the encoder's self-attention, the decoder's self-attention, the decoder's cross-attention
ABBREVIATIONS = {"encoder": "enc", "decoder": "dec", "cross": "cross"}
MAX_HELD_OUT = 200  # held-out pairs an ablation translates, of the 400 (each new set of parts decodes them all)
GRAMMAR = "en-zh-grammar"  # the dataset of the translation recipes, whose held-out pairs none of them saw
BATCH = 64  # sentences per greedy pass; the model is held one pass at a time


def _stacks(model):
    inner = getattr(model, "model", None)
    encoder, decoder = getattr(inner, "encoder", None), getattr(inner, "decoder", None)
    layers = getattr(encoder, "layers", None), getattr(decoder, "layers", None)
    parts_there = layers[0] is not None and layers[1] is not None and all(
        hasattr(block, "self_attn") and hasattr(block, "fc2") for block in (*layers[0], *layers[1])) and all(
        hasattr(block, "encoder_attn") for block in layers[1])  # fmt: skip
    if not parts_there:
        raise CoreError(Message("Ablation reads BART- and Marian-class translation models; {name} is neither.",
                                name=type(model).__name__))  # fmt: skip
    return layers


def shape(model) -> dict[str, tuple[int, int]]:
    """(layers, heads per layer) of each group of heads."""
    encoder, decoder = _stacks(model)
    config = model.config
    heads = {"encoder": config.encoder_attention_heads, "decoder": config.decoder_attention_heads}
    return {"encoder": (len(encoder), heads["encoder"]), "decoder": (len(decoder), heads["decoder"]),
            "cross": (len(decoder), heads["decoder"])}  # fmt: skip


def every_head(model) -> list[tuple[str, int, int]]:
    return [(group, layer, head) for group, (layers, heads) in shape(model).items()
            for layer in range(layers) for head in range(heads)]  # fmt: skip


def label(part: tuple) -> str:
    """"enc L0 H1", "cross L1 H3", "dec MLP L0": a head or an MLP as the page names it."""
    if len(part) == 3:
        return f"{ABBREVIATIONS[part[0]]} L{part[1]} H{part[2]}"
    return f"{ABBREVIATIONS[part[0]]} MLP L{part[1]}"


@contextlib.contextmanager
def ablated(model, heads: Iterable[tuple[str, int, int]] = (), mlps: Iterable[tuple[str, int]] = (),
            means: dict | None = None):  # fmt: skip
    """Within the block, ``model`` runs with those heads ((group, layer, head)) and MLPs ((stack, layer)) off:
    zeroed, or with ``means`` (``mean_outputs``) put in their place."""
    encoder, decoder = _stacks(model)
    sizes = shape(model)
    w_o = {"encoder": [b.self_attn.out_proj for b in encoder], "decoder": [b.self_attn.out_proj for b in decoder],
           "cross": [b.encoder_attn.out_proj for b in decoder]}  # fmt: skip
    chosen: dict[tuple[str, int], list[int]] = {}
    for group, layer, head in heads:
        if group not in sizes:
            raise CoreError(Message("There is no attention named {name} here.", name=str(group)))
        layers, count = sizes[group]
        if not (0 <= layer < layers and 0 <= head < count):
            raise CoreError(Message("There is no head {head} in layer {layer}.", head=head, layer=layer))
        chosen.setdefault((group, layer), []).append(head)
    outputs, output_keys = [], []
    for stack, layer in set(mlps):
        blocks = {"encoder": encoder, "decoder": decoder}.get(stack, ())
        if not 0 <= layer < len(blocks):
            raise CoreError(Message("There is no layer {layer}.", layer=layer))
        outputs.append(blocks[layer].fc2)
        output_keys.append(("mlp", stack, layer))
    heads_of = [(w_o[group][layer], picked, w_o[group][layer].in_features // sizes[group][1])
                for (group, layer), picked in chosen.items()]  # fmt: skip
    head_means = [means[key] for key in chosen] if means else ()
    output_means = [means[key] for key in output_keys] if means else ()
    with switched_off(heads_of, outputs, head_means, output_means):
        yield model


def mean_outputs(translator, sources: Sequence[str], references: Sequence[str]) -> dict:
    """What mean ablation puts in place of a part: per (group, layer), W_O's input (every head's output side by
    side) averaged over the tokens of the held-out pairs read teacher-forced — the encoder's over the source tokens,
    the decoder's and the cross-attention's over the reference's tokens as the decoder reads them (the start token,
    then the reference without its end token) —, and per ("mlp", stack, layer) fc2's output; 1-D tensors. One pair
    per pass, so no padding is averaged. Every position gets the same mean, the decoder's first too (greedy decoding
    with a cache reads one position at a time). The caller holds the model (``translator.exclusive()``)."""
    import torch

    from core.tasks.inputs import inputs_for

    model = translator.model
    encoder, decoder = _stacks(model)
    points = {**{("encoder", n): b.self_attn.out_proj for n, b in enumerate(encoder)},
              **{("decoder", n): b.self_attn.out_proj for n, b in enumerate(decoder)},
              **{("cross", n): b.encoder_attn.out_proj for n, b in enumerate(decoder)}}  # fmt: skip
    mlps = {**{("mlp", "encoder", n): b.fc2 for n, b in enumerate(encoder)},
            **{("mlp", "decoder", n): b.fc2 for n, b in enumerate(decoder)}}  # fmt: skip
    device = next(model.parameters()).device
    start = torch.tensor([[model.config.decoder_start_token_id]], device=device)
    with summed(points, mlps) as (sums, counts), torch.no_grad():
        for source, reference in zip(sources, references, strict=True):
            encoded = translator.tokenizer(source, truncation=True, max_length=translator.max_source,
                                           return_tensors="pt", return_token_type_ids=False)  # fmt: skip
            target = translator.tokenizer(reference, truncation=True, max_length=translator.max_new,
                                          return_tensors="pt", return_token_type_ids=False)["input_ids"]  # fmt: skip
            model(**inputs_for(model, encoded), decoder_input_ids=torch.cat([start, target[:, :-1].to(device)], 1))
    return {key: (total / counts[key]).to(torch.float32) for key, total in sums.items()}


def _parts_key(heads, mlps) -> tuple:
    return tuple(sorted(tuple(h) for h in heads)), tuple(sorted({tuple(m) for m in mlps}))


def _greedy(translator, texts: Sequence[str], parts: tuple, means: dict | None = None) -> list[str]:
    """Greedy translations with ``parts`` off (zeroed, or replaced by ``means``), BATCH sentences per pass, the
    model held one pass at a time."""
    import torch

    from core.tasks.inputs import inputs_for

    found: list[str] = []
    for start in range(0, len(texts), BATCH):
        with translator.exclusive() as model, ablated(model, *parts, means=means):
            encoded = translator.tokenizer(list(texts[start : start + BATCH]), truncation=True, padding=True,
                                           max_length=translator.max_source, return_tensors="pt",
                                           return_token_type_ids=False)  # fmt: skip
            with torch.no_grad():
                output = model.generate(**inputs_for(model, encoded), num_beams=1, do_sample=False,
                                        max_new_tokens=translator.max_new)  # fmt: skip
            found += [translator.decode(ids) for ids in output.cpu()]
    return found


_MEMO = Memo(max_entry_bytes=64 << 10)  # held-out sentence chrF any session already got, by model, parts and pairs


@dataclass(frozen=True)
class _HeldOut:
    translator: object
    sources: list[str]
    references: list[str]
    version: str

    @cached_property
    def means(self) -> dict:
        """Mean ablation's replacements, from these pairs (one short pass each, the model held for all of them),
        taken once per model version and pairs for every session (about 10 KB for the 2+2-layer model)."""

        def take() -> dict:
            with self.translator.exclusive():
                return mean_outputs(self.translator, self.sources, self.references)

        key = (self.translator.spec.key, self.version, digest(*self.sources, *self.references), "means")
        return MEAN_MEMO.get(key, take)

    def chrf(self, heads=(), mlps=(), mean: bool = False) -> np.ndarray:
        """Sentence chrF of each held-out translation with those parts off — zeroed, or with ``mean`` replaced by
        their means over these pairs (cached for every session)."""
        parts = _parts_key(heads, mlps)
        with_means = bool(mean and (parts[0] or parts[1]))
        key = (self.translator.spec.key, self.version, parts, digest(*self.sources, *self.references), with_means)
        # the means are taken only when a translation is missing: a sweep every part of which a session already
        # scored reads its memo and runs nothing
        return np.array(_MEMO.get(key, lambda: _sentence_chrf(
            _greedy(self.translator, self.sources, parts, self.means if with_means else None), self.references)))


def _sentence_chrf(outputs: list[str], references: list[str]) -> list[float]:
    from sacrebleu.metrics import CHRF

    metric = CHRF()
    return [float(metric.sentence_score(o, [r]).score) for o, r in zip(outputs, references, strict=True)]


def held_out_pairs(spec) -> tuple[list[str], list[str]] | None:
    """The held-out (sources, references) of a translation model trained here on the generated grammar, read in
    its direction; None for any other model (a Hub model's own test data is not on this machine)."""
    from core import catalog
    from core.data import translation
    from core.tasks.translate import direction

    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    if card is None or card.recipe.get("dataset") != GRAMMAR:
        return None
    pairs = translation.corpus(train_size=0).test
    source_of, target_of = direction(spec.task)
    return [source_of(p) for p in pairs], [target_of(p) for p in pairs]


def _held_out(translator, held_out, version: str) -> _HeldOut:
    sources, references = list(held_out[0])[:MAX_HELD_OUT], list(held_out[1])[:MAX_HELD_OUT]
    return _HeldOut(translator, sources, references, version)


@dataclass(frozen=True)
class TranslationEffect:
    before: str  # the whole model's greedy translation of the user's sentence
    after: str  # the same with the chosen parts switched off
    held_out: dict | None  # mean sentence chrF before and after on held-out pairs, the paired Δ with its 95 % CI


def translation_effect(translator, text: str, heads=(), mlps=(), held_out: tuple[Sequence[str], Sequence[str]] | None = None,
                       *, version: str = "", seed: int = 0, means: dict | None = None) -> TranslationEffect:  # fmt: skip
    """A ``core.tasks.translate.Translator``'s greedy translation of ``text`` with and without the chosen parts
    (zeroed, or replaced by ``means``: ``held_out_means``) and (given held-out sources and references) its mean
    sentence chrF both ways, with a paired bootstrap CI."""
    from core.tasks.inputs import check_text

    text = check_text(text)
    _stacks(translator.model)  # refused in words before anything runs
    before = _greedy(translator, [text], ((), ()))[0]
    after = _greedy(translator, [text], _parts_key(heads, mlps), means)[0]
    found = None
    if held_out is not None and len(held_out[0]):
        found = held_out_change(translator, held_out, heads, mlps, version=version, seed=seed, mean=means is not None)
    return TranslationEffect(before=before, after=after, held_out=found)


def held_out_change(translator, held_out: tuple[Sequence[str], Sequence[str]], heads=(), mlps=(), *, version: str = "",
                    seed: int = 0, mean: bool = False, report: Callable[[float], None] = lambda done: None) -> dict:  # fmt: skip
    """Mean sentence chrF of the held-out pairs with and without the chosen parts (zeroed, or with ``mean`` replaced
    by ``held_out_means``), the paired change with its 95 % bootstrap CI, and the sentences scored lower and higher
    with the exact sign test's p (the slow half of ``translation_effect``: two greedy passes over the pairs, each
    cached for every session)."""
    scored = _held_out(translator, held_out, version)
    base = scored.chrf()
    report(0.5)
    changed = scored.chrf(heads, mlps, mean=mean)
    return held_out_summary(base, changed, seed=seed)


def held_out_means(translator, held_out: tuple[Sequence[str], Sequence[str]], *, version: str = "") -> dict:
    """Mean ablation's replacements for a translation model: each part's mean output over the first MAX_HELD_OUT
    held-out pairs read teacher-forced (``mean_outputs``): the means its sweep and held-out scoring use, taken once per
    model ``version`` for every session. Also says how many pairs they average (``"pairs"``)."""
    scored = _held_out(translator, held_out, version)
    return {**scored.means, "pairs": len(scored.sources)}


def translation_sweep(translator, held_out: tuple[Sequence[str], Sequence[str]], *, version: str = "",
                      report: Callable[[float], None] = lambda done: None, seed: int = 0,
                      mean: bool = False) -> dict:  # fmt: skip
    """Every head switched off alone (zeroed, or with ``mean`` replaced by its mean output over the same held-out
    pairs read teacher-forced), ranked by the held-out chrF it costs: ``rows`` (a label per group and layer,
    "enc L0" …) and (rows, heads) arrays of Δ mean sentence chrF with paired 95 % CIs, the sentences that scored
    lower and higher and the exact sign test's p, the whole model's mean, the pairs read. Refused (CoreError) over MAX_SWEEP_HEADS heads or without held-out pairs."""
    heads = every_head(translator.model)
    if len(heads) > MAX_SWEEP_HEADS:
        raise CoreError(Message("This model has {count} heads; a sweep here scores at most {most} (one held-out pass "
                                "per head). Switch heads off by hand instead.", count=len(heads),
                                most=MAX_SWEEP_HEADS))  # fmt: skip
    if not len(held_out[0]):
        raise CoreError(Message("A sweep needs held-out texts, and this model has none."))
    scored = _held_out(translator, held_out, version)
    rows = list(dict.fromkeys((group, layer) for group, layer, _head in heads))
    width = max(head for _g, _l, head in heads) + 1
    found = {name: np.full((len(rows), width), np.nan) for name in ("delta", "low", "high", "worse", "better", "p")}
    base = scored.chrf()
    for n, (group, layer, head) in enumerate(heads):
        changed = scored.chrf([(group, layer, head)], mean=mean)
        row = rows.index((group, layer))
        for name, value in zip(("delta", "low", "high", "worse", "better", "p"),
                               (*paired_mean_change(base, changed, seed=seed), *sign_test(base, changed)), strict=True):
            found[name][row, head] = value
        report((n + 1) / len(heads))
    return {**found, "rows": [f"{ABBREVIATIONS[group]} L{layer}" for group, layer in rows],
            "base": float(base.mean()), "pairs": len(base)}  # fmt: skip

"""Ablation on a BERT-class classifier: its answer for one text with chosen heads and MLPs switched off, its
held-out accuracy both ways, and every head ranked by the accuracy it costs when switched off alone.

The hooks are those of ``core.tasks.ablation``; held-out answers are computed once per model version and set of
parts, for every session (a sweep's passes serve a later hand-picked ablation of one head, and the other way
round), and the model is held one padded pass at a time, so other sessions are served between passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.errors import CoreError
from core.memo import Memo, digest
from core.messages import Message
from core.stats import held_out_summary, paired_mean_change, sign_test
from core.tasks.ablation import (
    MEAN_MEMO,
    MEAN_TOKENS,
    SWEEP_WORK_BUDGET,
    ablated,
    mean_outputs,
    shape,
)
from core.tasks.inputs import to_cpu

MAX_HELD_OUT = 200  # held-out texts a classifier's ablation reads (all of them when there are fewer)
# SWEEP_WORK_BUDGET, counted with non-embedding weights: every MiniLM classifier here fits (the Chinese one, 72 heads ×
# 13,000 tokens, is the largest at 1e13); BERT-large's does not
MAX_SWEEP_HEADS = 144  # BERT-base's 12 × 12


@dataclass(frozen=True)
class ClassEffect:
    labels: list[str]
    before: list[float]  # the class probabilities for the user's text, the whole model
    after: list[float]  # the same with the chosen parts switched off
    held_out: dict | None  # accuracy before and after on the model's held-out texts, the paired Δ with its 95 % CI


def _probabilities(model, batch) -> np.ndarray:
    import torch

    from core.tasks.inputs import inputs_for

    with torch.no_grad():
        return to_cpu(torch.softmax(model(**inputs_for(model, batch)).logits.float(), dim=-1)).numpy()


_MEMO = Memo(max_entry_bytes=64 << 10)  # held-out answers any session already got, by model, parts and texts


def _lengths(classifier, texts: list[str], max_length: int) -> list[int]:
    with classifier.exclusive():  # the shared tokenizer serves one request at a time
        return [len(ids) for ids in classifier.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]


def _guesses(classifier, texts: list[str], lengths: list[int], parts, max_length: int,
             means: dict | None = None) -> list[int]:  # fmt: skip
    """The classifier's label for each text (of ``lengths`` tokens) with ``parts`` ((heads, mlps)) off (zeroed, or
    replaced by ``means``): sorted by length, in passes of at most PADDED_TOKENS padded tokens, the model held one pass
    at a time."""
    from core.tasks.batching import padded_passes

    tokenizer = classifier.tokenizer
    found: dict[int, int] = {}
    for group in padded_passes(lengths):
        with classifier.exclusive() as model, ablated(model, *parts, means=means):
            batch = dict(tokenizer([texts[i] for i in group], truncation=True, padding=True, max_length=max_length,
                                   return_tensors="pt"))  # fmt: skip
            found.update(zip(group, _probabilities(model, batch).argmax(axis=1).tolist(), strict=True))
    return [found[i] for i in range(len(texts))]


@dataclass
class _HeldOut:
    """The held-out texts an ablation reads, and a way to score them with parts switched off (cached)."""

    classifier: object
    texts: list[str]
    truth: np.ndarray
    limit: int
    version: str

    @cached_property
    def lengths(self) -> list[int]:
        """Each text's length in tokens: tokenized once, however many sets of parts are scored."""
        return _lengths(self.classifier, self.texts, self.limit)

    @cached_property
    def fingerprint(self) -> str:
        return digest(*self.texts)

    @cached_property
    def means(self) -> dict:
        """Mean ablation's replacements: each part's mean output over the first ``MEAN_TOKENS`` tokens of these texts
        (each read alone, so no padding is averaged), apart at the first position ([CLS], where the answer is read)
        and at the others; one pass per text, the model held for all of them (about a second for MiniLM)."""

        def take() -> dict:
            with self.classifier.exclusive() as model:
                ids = self.classifier.tokenizer(self.texts, truncation=True, max_length=self.limit)["input_ids"]
                return mean_outputs(model, ids, block=self.limit, most=MEAN_TOKENS, first_apart=True)

        # taken once per model version, cap and texts for every session (40 KB for MiniLM, 147 KB for a BERT-base)
        return MEAN_MEMO.get((self.classifier.spec.key, self.version, self.limit, self.fingerprint, MEAN_TOKENS,
                              "means"), take)  # fmt: skip

    def right(self, heads=(), mlps=(), mean: bool = False) -> np.ndarray:
        """1.0 where the classifier with those parts off (zeroed, or with ``mean`` replaced by their means) gives a
        text its true label, else 0.0."""
        parts = (tuple(sorted(tuple(pair) for pair in heads)), tuple(sorted(set(mlps))))
        with_means = bool(mean and (parts[0] or parts[1]))
        key = (self.classifier.spec.key, self.version, parts, self.limit, self.fingerprint,
               MEAN_TOKENS if with_means else 0)
        # the means are taken only on a miss: a sweep already scored for another session runs nothing
        guesses = _MEMO.get(key, lambda: _guesses(self.classifier, self.texts, self.lengths, parts, self.limit,
                                                  self.means if with_means else None))
        return (np.array(guesses) == self.truth).astype(float)


def _held_out(classifier, held_out, limit: int, version: str) -> _HeldOut:
    texts, truth = list(held_out[0])[:MAX_HELD_OUT], np.array(list(held_out[1])[:MAX_HELD_OUT])
    return _HeldOut(classifier, texts, truth, limit, version)


def _limit(classifier, max_length: int | None) -> int:
    return min(max_length or classifier.max_tokens, classifier.max_tokens)


def classifier_effect(classifier, text: str, heads=(), mlps=(), held_out: tuple[Sequence[str], Sequence[int]] | None = None,
                      *, max_length: int | None = None, version: str = "", seed: int = 0,
                      means: dict | None = None) -> ClassEffect:  # fmt: skip
    """A ``core.tasks.classify.TransformerClassifier``'s class probabilities for ``text`` with and without the chosen
    heads and MLPs (zeroed, or replaced by ``means``: ``held_out_means``), and (given its held-out texts and label
    indices) its accuracy both ways with a paired bootstrap CI of the change. Held-out answers are computed once per
    model ``version`` and set of parts, for every session."""
    from core.tasks.inputs import check_text

    text = check_text(text)
    limit = _limit(classifier, max_length)
    with classifier.exclusive() as model:
        batch = dict(classifier.tokenizer(text, truncation=True, max_length=limit, return_tensors="pt"))
        before = _probabilities(model, batch)[0]
        with ablated(model, heads, mlps, means):
            after = _probabilities(model, batch)[0]
    names = list(getattr(classifier, "labels", None) or [model.config.id2label[i] for i in range(len(before))])
    found = None
    if held_out is not None and len(held_out[0]):
        found = held_out_change(classifier, held_out, heads, mlps, max_length=max_length, version=version, seed=seed,
                                mean=means is not None)  # fmt: skip
    return ClassEffect(labels=[str(n) for n in names], before=before.tolist(), after=after.tolist(), held_out=found)


def held_out_change(classifier, held_out: tuple[Sequence[str], Sequence[int]], heads=(), mlps=(), *,
                    max_length: int | None = None, version: str = "", seed: int = 0, mean: bool = False,
                    report: Callable[[float], None] = lambda done: None) -> dict:  # fmt: skip
    """Held-out accuracy with and without the chosen parts (zeroed, or with ``mean`` replaced by ``held_out_means``),
    the paired change with its 95 % bootstrap CI, and the texts turned wrong and right with the exact sign test's p
    (the slow half of ``classifier_effect``; each pass is cached for every session)."""
    scored = _held_out(classifier, held_out, _limit(classifier, max_length), version)
    base = scored.right()
    report(0.5)
    changed = scored.right(heads, mlps, mean=mean)
    return held_out_summary(base, changed, seed=seed)


def held_out_means(classifier, held_out: tuple[Sequence[str], Sequence[int]], *, max_length: int | None = None,
                   version: str = "") -> dict:  # fmt: skip
    """Mean ablation's replacements for a classifier: each part's mean output over the first ``MEAN_TOKENS`` tokens of
    its held-out texts, [CLS] apart (``_HeldOut.means``): the same means its sweep and held-out scoring use, taken
    once per model ``version`` for every session."""
    return _held_out(classifier, held_out, _limit(classifier, max_length), version).means


def held_out_texts(classifier) -> tuple[list[str], list[int]] | None:
    """The held-out texts and label indices of the data a classifier was trained on here; None for any other."""
    from core.tasks.base import get_task, own_dataset

    dataset = own_dataset(classifier.spec)
    if not dataset:
        return None
    split, _labels = get_task(classifier.spec.task).held_out(dataset)
    index = classifier.model.config.label2id
    pairs = [(e.text, index[e.label]) for e in split.test if e.label in index]
    return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


def classifier_sweep(classifier, held_out: tuple[Sequence[str], Sequence[int]], *, max_length: int | None = None,
                     version: str = "", report: Callable[[float], None] = lambda done: None,
                     seed: int = 0, mean: bool = False) -> dict[str, np.ndarray]:  # fmt: skip
    """Every head of the classifier switched off alone (zeroed, or with ``mean`` replaced by its mean output over the
    first ``MEAN_TOKENS`` tokens of the same held-out texts), ranked by the held-out accuracy it costs: (layers,
    heads) arrays of Δ accuracy with its paired 95 % bootstrap CI, the texts turned wrong and right and the exact
    sign test's p, the whole model's accuracy and the texts read. Refused (CoreError) when heads × held-out tokens
    × weights exceed SWEEP_WORK_BUDGET."""
    if not len(held_out[0]):
        raise CoreError(Message("A sweep needs held-out texts, and this model has none."))
    scored = _held_out(classifier, held_out, _limit(classifier, max_length), version)
    layers, heads = shape(classifier.model)
    weights = sum(p.numel() for name, p in classifier.model.named_parameters() if "embeddings" not in name)
    tokens = sum(scored.lengths)
    if layers * heads > MAX_SWEEP_HEADS or layers * heads * tokens * weights > SWEEP_WORK_BUDGET:
        raise CoreError(Message("A sweep would run this model ({weights} M weights) over {tokens} held-out tokens once "
                                "for each of its {count} heads: more than LM Lab runs for one sweep (at most {most} "
                                "heads, and a few minutes of work on 2 cores). Switch heads off by hand instead.",
                                weights=f"{weights / 1e6:.0f}", tokens=tokens, count=layers * heads,
                                most=MAX_SWEEP_HEADS))  # fmt: skip
    base = scored.right()
    found = {name: np.zeros((layers, heads)) for name in ("delta", "low", "high", "worse", "better", "p")}
    if mean:  # what the means read, counted without taking them: each text is one piece of at most the cap
        found["mean_tokens"] = np.array(min(MEAN_TOKENS, tokens))
    for n, (layer, head) in enumerate((layer, head) for layer in range(layers) for head in range(heads)):
        changed = scored.right([(layer, head)], mean=mean)
        for name, value in zip(("delta", "low", "high", "worse", "better", "p"),
                               (*paired_mean_change(base, changed, seed=seed), *sign_test(base, changed)), strict=True):
            found[name][layer, head] = value
        report((n + 1) / (layers * heads))
    found["base"], found["texts"] = np.array(base.mean()), np.array(len(base))
    return found

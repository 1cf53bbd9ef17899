"""A learning curve of what pretraining buys: the Chinese BERT pretrained here and the same BERT from random weights,
fine-tuned on the same few labelled reviews (``benchmarks/pretraining_curve.py`` trains them; the Train page's
pretraining box reads their cards)."""

from __future__ import annotations

import dataclasses
import math
import re

from core import catalog
from core.training.recipes import RECIPES, Recipe

PAIR = ("sentiment-zh-bert", "sentiment-zh-scratch")  # pretrained here, then from random weights
PRETRAINING = "zh-bert-mlm"
# what the two halves of a pair share: everything but the base, the learning rate and the names
SHARED = ("task", "dataset", "examples", "epochs", "batch_size", "max_length", "seed", "validation_fraction",
          "warmup_ratio", "weight_decay", "dropout", "augment", "padding", "group_by_length", "scratch")  # fmt: skip
_KEY = re.compile(PAIR[0] + r"-n([1-9][0-9]*)")


def recipe_for(key: str, size: int, steps: int, learning_rate: float | None = None) -> Recipe:
    """``key``'s recipe on ``size`` labelled reviews for at least ``steps`` optimiser steps (more epochs for fewer
    reviews, at most a recipe's 200), at ``learning_rate`` instead of the recipe's when given (its key then ends in
    ``-lr<rate>``)."""
    base = RECIPES[key]
    epochs = min(200, max(base.epochs, math.ceil(steps * base.batch_size / size)))
    rate, name, title = base.learning_rate, f"{key}-n{size}", f"{base.title} ({size} labelled reviews)"
    if learning_rate is not None:
        rate, name, title = learning_rate, f"{name}-lr{learning_rate:g}", f"{title[:-1]}, learning rate {learning_rate:g})"
    return dataclasses.replace(base, key=name, title=title, examples=size, epochs=epochs,
                               learning_rate=rate).validated()  # fmt: skip


def accuracy(card) -> dict | None:
    """A classifier card's (or a card's dict's) held-out accuracy with its interval (None when it has none)."""
    metrics = card.get("metrics") if card is not None else None
    found = metrics.get("accuracy") if isinstance(metrics, dict) else None
    return found if isinstance(found, dict) and {"value", "low", "high"} <= found.keys() else None


def is_pair(pretrained, scratch, size: int, pretraining: str) -> bool:
    """Whether two cards are a pair as the curve trains it: from the two Chinese bases (a Train-page run cannot start
    from either), on the reviews, spending ``size`` labels, each at its own recipe's learning rate, every other
    setting the same, the pretrained half from the pretraining whose weights are ``pretraining`` (the one in the cache
    now), and both scored."""
    if accuracy(pretrained) is None or accuracy(scratch) is None:
        return False
    first, second = pretrained.recipe, scratch.recipe
    return (first.get("base") == "zh-bert" and second.get("base") == "zh-scratch"
            and first.get("dataset") == "reviews-zh" and first.get("examples") == size
            and first.get("learning_rate") == RECIPES[PAIR[0]].learning_rate
            and second.get("learning_rate") == RECIPES[PAIR[1]].learning_rate
            and all(first.get(name) == second.get(name) for name in SHARED)
            and pretrained.get("base_sha256") == pretraining)  # fmt: skip


def pairs_in_cache() -> list[tuple[int, dict, dict]]:
    """(labelled reviews, pretrained accuracy, random-weights accuracy) of every curve pair in the cache, by size."""
    pretraining = catalog.read_metadata(PRETRAINING)
    if pretraining is None:
        return []
    sizes = sorted({int(found.group(1)) for spec in catalog.trained_specs() if (found := _KEY.fullmatch(spec.key))})
    found = []
    for size in sizes:
        cards = [catalog.read_metadata(f"{key}-n{size}") for key in PAIR]
        if is_pair(*cards, size=size, pretraining=pretraining.sha256):
            found.append((size, accuracy(cards[0]), accuracy(cards[1])))
    return found


# what makes two runs points of one learning curve: the same data (and columns) and the same starting point
_SAME_CURVE = ("task", "dataset", "data_file", "hub_dataset", "text_column", "label_column", "base", "hub_model",
               "scratch")  # fmt: skip


def by_labels(cards: list) -> dict[str, list[tuple[int, dict, str]]]:
    """Classifier runs as learning curves: grouped by their data and their starting point, each group's points
    (labelled examples spent, accuracy, run key) by size; only groups with two sizes or more. A group is named by its
    base and its dataset key (never a user's text), numbered when two share a name."""
    groups: dict[tuple, list[tuple[int, dict, str]]] = {}
    names: dict[tuple, str] = {}
    for card in cards:
        recipe, data, found = card.get("recipe") or {}, card.get("data") or {}, accuracy(card)
        used = data.get("labelled_examples_used", data.get("train_size"))
        if not isinstance(recipe, dict) or found is None or not isinstance(used, int) or used <= 0:
            continue
        group = tuple(repr(recipe.get(name)) for name in _SAME_CURVE)
        groups.setdefault(group, []).append((used, found, str(card.get("key", ""))))
        names.setdefault(group, f"{card.get('base') or recipe.get('base')} · {recipe.get('dataset')}")
    curves: dict[str, list[tuple[int, dict, str]]] = {}
    for group, points in groups.items():
        if len({size for size, *_ in points}) < 2:
            continue
        name, number = names[group], 2
        while name in curves:
            name, number = f"{names[group]} ({number})", number + 1
        curves[name] = sorted(points, key=lambda point: point[0])
    return curves

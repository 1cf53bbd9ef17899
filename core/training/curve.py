"""A learning curve of what pretraining buys: the Chinese BERT pretrained here and the same BERT from random weights,
fine-tuned on the same few labelled reviews (``benchmarks/pretraining_curve.py`` trains them; the Train page's
pretraining box reads their cards)."""

from __future__ import annotations

import dataclasses
import json
import math
import re

from core import catalog
from core.cards import labelled_examples
from core.training.recipe import complete
from core.training.recipes import RECIPES, Recipe

PAIR = ("sentiment-zh-bert", "sentiment-zh-scratch")  # pretrained here, then from random weights
# what may differ between the two halves of a pair: their names, their starting point and its learning rate (and
# activation checkpointing, which saves memory and changes no number)
_PAIR_MAY_DIFFER = ("key", "title", "description", "base", "learning_rate", "checkpointing")
# what may differ between the runs of one learning curve: their names, how many labels they spend and for how long
_CURVE_MAY_DIFFER = ("key", "title", "description", "examples", "epochs", "checkpointing")
_KEY = re.compile(PAIR[0] + r"-n([1-9][0-9]*)")  # a pair's pretrained half (the box lists no other rate's)
_NAME = re.compile(r"(sentiment-zh-(?:bert|scratch))-n([1-9][0-9]*)(?:-lr([0-9.e+-]+))?")  # recipe_for's names


def reserved(key: str) -> bool:
    """A name the curve's runs use: no other run may take it (``ownership.custom_recipe``)."""
    return bool(_NAME.fullmatch(key))


def own_run(recipe: Recipe) -> bool:
    """Whether ``recipe`` is one of the curve's own (``recipe_for``'s, whatever its number of steps)."""
    found = _NAME.fullmatch(recipe.key)
    if found is None:
        return False
    rate = found.group(3)
    if rate is not None and f"{recipe.learning_rate:g}" != rate:  # the name carries the rate as recipe_for writes it
        return False
    try:
        expected = recipe_for(found.group(1), int(found.group(2)), 1, recipe.learning_rate if rate else None)
    except Exception:  # noqa: BLE001 - a name no valid curve recipe has (a size or a rate out of range)
        return False
    return dataclasses.replace(recipe, epochs=expected.epochs) == expected


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
            and _without(first, _PAIR_MAY_DIFFER) == _without(second, _PAIR_MAY_DIFFER)
            and not pretrained.get("stopped_early") and not scratch.get("stopped_early")
            and pretrained.get("base_sha256") == pretraining)  # fmt: skip


def _without(recipe, names: tuple[str, ...]) -> str:
    """A card's recipe less ``names``, as text that compares equal whatever the order of its keys."""
    return json.dumps({name: value for name, value in complete(dict(recipe)).items() if name not in names},
                      sort_keys=True, default=str)  # fmt: skip


def pairs_in_cache() -> list[tuple[int, dict, dict]]:
    """(labelled reviews spent, pretrained accuracy, random-weights accuracy) of every curve pair in the cache, by
    size."""
    from core.training.prepare import PRETRAINED_ZH

    pretraining = catalog.read_metadata(PRETRAINED_ZH)
    if pretraining is None:
        return []
    sizes = sorted({int(found.group(1)) for spec in catalog.trained_specs() if (found := _KEY.fullmatch(spec.key))})
    found = []
    for size in sizes:
        cards = [catalog.read_metadata(f"{key}-n{size}") for key in PAIR]
        used = cards[0].get("data", {}).get("labelled_examples_used") if cards[0] is not None else None
        if is_pair(*cards, size=size, pretraining=pretraining.sha256) and isinstance(used, int):
            found.append((used, accuracy(cards[0]), accuracy(cards[1])))
    return found


def by_labels(cards: list) -> dict[str, list[tuple[int, dict, tuple]]]:
    """Classifier runs as learning curves: grouped by everything in their recipes but the labels they spend and the
    epochs (the same data, starting point and settings), by the weights they started from where a card records them
    and by the held-out split; each group's points (labelled examples spent, accuracy, (run key, learning rate,
    epochs)) by size, only groups with two sizes or more. A group is named by its base and its dataset
    key, numbered when two share a name."""
    groups: dict[tuple, list[tuple[int, dict, tuple]]] = {}
    names: dict[tuple, str] = {}
    for card in cards:
        recipe, data, found = card.get("recipe") or {}, card.get("data") or {}, accuracy(card)
        used = labelled_examples(card)
        if not isinstance(recipe, dict) or found is None or not isinstance(used, int) or used <= 0:
            continue
        group = (_without(recipe, _CURVE_MAY_DIFFER), str(card.get("base_sha256", "")),
                 str(data.get("test_fingerprint", "")))  # fmt: skip
        groups.setdefault(group, []).append((used, found, (str(card.get("key", "")), recipe.get("learning_rate"),
                                                           recipe.get("epochs"))))  # fmt: skip
        names.setdefault(group, f"{card.get('base') or recipe.get('base')} · {recipe.get('dataset')}")
    curves: dict[str, list[tuple[int, dict, tuple]]] = {}
    for group, points in groups.items():
        if len({size for size, *_ in points}) < 2:
            continue
        name, number = names[group], 2
        while name in curves:
            name, number = f"{names[group]} ({number})", number + 1
        curves[name] = sorted(points, key=lambda point: (point[0], point[2][0]))
    return curves

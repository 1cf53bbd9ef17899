"""What the Train page shows before training: the data as the model will see it, and the architecture."""

from __future__ import annotations

from collections import Counter

from core import catalog
from core.training.prepare import load_split, training_part
from core.training.recipes import Recipe

# What each preview reads from a recipe: the page caches on these fields only, so changing the
# learning rate or the epochs does not re-tokenize the data or reload the base model.
DATA_FIELDS = ("dataset", "data_file", "text_column", "label_column", "hub_dataset", "max_length",
               "validation_fraction", "seed", "examples")  # fmt: skip
SOURCE_FIELDS = ("dataset", "data_file", "text_column", "label_column", "hub_dataset")  # the texts, not how they are cut
ARCHITECTURE_FIELDS = ("base", "scratch", "hub_model", "dropout", "max_length")


def relevant(recipe: Recipe, fields: tuple[str, ...]) -> dict:
    """The part of a recipe that a preview depends on, as a cache key."""
    return {name: getattr(recipe, name) for name in fields}


def _with(fields: dict) -> Recipe:
    """A recipe carrying ``fields`` over neutral defaults for everything a preview does not read."""
    base = {"key": "preview", "title": "preview", "task": "sentiment", "dataset": "polarity", "base": "minilm-l6",
            "epochs": 1, "learning_rate": 1e-4, "batch_size": 16}  # fmt: skip
    return Recipe(**{**base, **fields})


def source_split(recipe: Recipe | dict) -> tuple:
    """The split a preview reads (``SOURCE_FIELDS`` decide it: the split into training and test texts is fixed), so
    a page can read an upload once for every seed, length cap and validation share."""
    return load_split(_with(recipe) if isinstance(recipe, dict) else recipe)


def token_lengths(recipe: Recipe | dict, split: tuple | None = None) -> list[int]:
    """Every training text's length in tokens, untruncated: the slow part of a preview, which depends on the texts
    only (``SOURCE_FIELDS``), not on the seed or the length cap. ``split``: ``source_split``'s, when already read."""
    from core.loading import load_tokenizer
    from core.training.token_rows import count_tokens

    split, _labels = split or source_split(recipe)
    return count_tokens(load_tokenizer(catalog.MINILM), [e.text for e in split.train])


def data_preview(recipe: Recipe | dict, lengths: list[int] | None = None, split: tuple | None = None) -> dict:
    """Class balance per split, one example's tokens / ids / attention mask, token lengths, truncation count
    (``lengths``: ``token_lengths`` of the same texts, computed once for any seed and length cap; ``split``:
    ``source_split``'s)."""
    recipe = _with(recipe) if isinstance(recipe, dict) else recipe
    split, labels = split or source_split(recipe)
    positions, train, validation = training_part(list(split.train), recipe)
    lengths = token_lengths(recipe, (split, labels)) if lengths is None else lengths
    lengths = [lengths[i] for i in positions]  # the texts this run spends
    example = train[0]  # the first text the model trains on (the validation share was taken out above)
    counts = {name: Counter(e.label for e in part) for name, part in
              (("train", train), ("validation", validation), ("test", split.test))}  # fmt: skip
    found = {
        "dataset": split.dataset,
        "labels": labels,
        "balance": {name: [counts[name].get(label, 0) for label in labels] for name in counts},
        "example": {"text": example.text, "label": example.label},
        "lengths": lengths,
        "available": len(split.train),  # labelled training examples in all (``examples`` may spend fewer)
    }
    return recut(found, recipe.max_length)


def recut(preview: dict, max_length: int) -> dict:
    """``preview`` for the length cap ``max_length``: the example's tokens, ids and attention mask cut there, and how
    many training texts the cap cuts — from what the preview holds (the example's text, the untruncated lengths), so a
    new cap never reads the data again."""
    from core.loading import load_tokenizer

    tokenizer = load_tokenizer(catalog.MINILM)
    encoded = tokenizer(preview["example"]["text"], truncation=True, max_length=max_length)
    example = {"text": preview["example"]["text"], "label": preview["example"]["label"],
               "tokens": tokenizer.convert_ids_to_tokens(encoded["input_ids"]), "input_ids": encoded["input_ids"],
               "attention_mask": encoded["attention_mask"]}  # fmt: skip
    return {**preview, "example": example, "truncated": sum(length > max_length for length in preview["lengths"])}


def architecture(recipe: Recipe | dict, n_labels: int) -> dict:
    """Parameter count and configuration of the model the recipe would train (built, not trained)."""
    recipe = _with(recipe) if isinstance(recipe, dict) else recipe
    if recipe.base == "hub":
        return {
            "parameters": None,
            "config": {"hub_model": recipe.hub_model},
            "note": "Read from the Hub when training starts.",
        }
    from core.loading import LOAD_LOCK
    from core.training.prepare import base_model
    from core.transformer import seeded

    # its random start must not move the draws of a walkthrough built in the same moment; the load lock first, so
    # that walkthroughs wait for this build alone, never behind another session's load
    with LOAD_LOCK, seeded(0):
        _, model = base_model(recipe, [f"class {i}" for i in range(n_labels)])
    config = model.config.to_dict()
    keep = ("model_type", "num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "vocab_size", "hidden_dropout_prob", "attention_probs_dropout_prob")  # fmt: skip
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": {name: config[name] for name in keep if name in config},
        "note": "",
    }

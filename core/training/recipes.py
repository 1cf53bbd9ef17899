"""How each trained-here model is made: the data, the starting point and the hyperparameters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.errors import CoreError


@dataclass(frozen=True)
class Recipe:
    key: str  # the cache key the model is saved under
    title: str
    task: str
    dataset: str  # "polarity"
    base: str  # "minilm-l6" (fine-tune the packaged encoder) or "scratch" (random weights)
    epochs: float
    learning_rate: float
    batch_size: int
    # Polarity sentences are 22 words on average, 52 at most: 64 tokens truncate almost none
    # and dynamic padding keeps most batches far shorter.
    max_length: int = 64
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 42
    # For base="scratch": the size of the randomly initialised BERT.
    scratch: dict = field(default_factory=dict)
    description: str = ""

    def with_overrides(self, overrides: dict) -> Recipe:
        allowed = {f.name for f in dataclasses.fields(self)} - {"key", "task", "dataset", "base", "title"}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise CoreError(f"Unknown training option(s) {unknown}; choose from {sorted(allowed)}.")
        typed = {}
        for name, value in overrides.items():
            current = getattr(self, name)
            typed[name] = type(current)(value) if not isinstance(current, dict) else value
        return dataclasses.replace(self, **typed)

    def hyperparameters(self) -> dict:
        keep = ("epochs", "learning_rate", "batch_size", "max_length", "weight_decay", "warmup_ratio", "seed")
        return {name: getattr(self, name) for name in keep}


RECIPES: dict[str, Recipe] = {
    recipe.key: recipe
    for recipe in (
        Recipe(
            key="sentiment-minilm",
            title="MiniLM fine-tuned on movie-review polarity",
            task="sentiment",
            dataset="polarity",
            base="minilm-l6",
            # 150 sentences: a higher learning rate than BERT's usual 2e-5 and several epochs,
            # since each epoch is only 10 steps. Measured: see README "Numbers".
            epochs=8,
            learning_rate=1e-4,
            batch_size=16,
            description="Packaged MiniLM + classification head, fine-tuned on 150 polarity sentences.",
        ),
        Recipe(
            key="sentiment-tiny",
            title="Tiny BERT trained from scratch on movie-review polarity",
            task="sentiment",
            dataset="polarity",
            base="scratch",
            epochs=10,
            learning_rate=1e-3,
            batch_size=16,
            scratch={
                "hidden_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "intermediate_size": 128,
            },
            description="A 2-layer BERT with random initial weights, trained on 150 polarity sentences.",
        ),
        Recipe(
            key="topic-minilm",
            title="MiniLM fine-tuned on newsgroup topics",
            task="topic",
            dataset="newsgroups",
            base="minilm-l6",
            # Posts are ~100 words: 128 tokens keep the opening, which usually names the topic.
            max_length=128,
            epochs=6,
            learning_rate=1e-4,
            batch_size=16,
            description="Packaged MiniLM + classification head, fine-tuned on 149 newsgroup posts (atheism vs space).",
        ),
        Recipe(
            key="topic-tiny",
            title="Tiny BERT trained from scratch on newsgroup topics",
            task="topic",
            dataset="newsgroups",
            base="scratch",
            max_length=128,
            epochs=10,
            learning_rate=1e-3,
            batch_size=16,
            scratch={
                "hidden_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "intermediate_size": 128,
            },
            description="A 2-layer BERT with random initial weights, trained on 149 newsgroup posts.",
        ),
        Recipe(
            key="keyword-tiny",
            title="Tiny BERT on the one-word-cue sentences",
            task="sentiment",
            dataset="keyword",
            base="scratch",
            epochs=4,
            learning_rate=2e-3,
            batch_size=32,
            scratch={
                "hidden_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "intermediate_size": 128,
            },
            description="Generated sentences in which one word ('great' or 'awful') decides the label: "
            "a model whose right answer for attributions is known.",
        ),
    )
}


def get_recipe(key: str) -> Recipe:
    try:
        return RECIPES[key]
    except KeyError:
        raise CoreError(f"No training recipe for {key!r}; choose one of {sorted(RECIPES)}.") from None

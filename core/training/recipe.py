"""What a recipe is (``Recipe``: the data, the starting point and the hyperparameters of one training run),
how overrides are read, and what a new run starts from. The built-in recipes are in ``core.training.recipes``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.errors import CoreError


@dataclass(frozen=True)
class Recipe:
    key: str  # the cache key the model is saved under
    title: str
    task: str
    dataset: str  # a registered dataset ("polarity", "newsgroups", …), "csv" or "hub"; sequence tasks name their corpus
    base: str  # "minilm-l6" (fine-tune the packaged encoder), "scratch" (random weights) or "hub" (a Hub checkpoint)
    epochs: float
    learning_rate: float
    batch_size: int
    # Polarity sentences are 22 words on average, 52 at most: 64 tokens truncate almost none
    # and dynamic padding keeps most batches far shorter.
    max_length: int = 64
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 42
    # For base="scratch": the size of the randomly initialised model, in its own class's terms — BERT config
    # fields for classifiers, {"d_model", "layers", "heads", "ffn"} for the BART translator, {"n_embd",
    # "n_layer", "n_head", "vocab_size"} for the GPT.
    scratch: dict = field(default_factory=dict)
    description: str = ""
    # Dropout on hidden states and attention probabilities (BERT's default); None keeps the base's own.
    dropout: float | None = None
    # Early stopping: stop after this many epochs without a lower validation loss (0 = off).
    patience: int = 0
    # Data augmentation on the training split: "none", "word-dropout" or "word-swap", with rate augment_p.
    augment: str = "none"
    augment_p: float = 0.1
    # Share of the training split held back for validation curves (and early stopping).
    validation_fraction: float = 0.15
    # "dynamic": pad each batch to its longest text; "max_length": pad every text to max_length.
    padding: str = "dynamic"
    # Batches of similar lengths waste less compute on padding.
    group_by_length: bool = False
    # Activation checkpointing: keep only each layer's input in the forward pass and recompute the rest during the
    # backward pass. The same arithmetic (dropout draws the same masks again), less memory, more time.
    checkpointing: bool = False
    # A classifier's word-embedding table left as its base has it (random, from scratch): no gradients or optimiser
    # state for its weights, 0.14 GB less to fine-tune MiniLM, whose table holds 11.7 M of its 22.7 M weights.
    freeze_word_embeddings: bool = False
    # The most tokens (batch_size × max_length) one forward and backward pass takes on the CPU, where a run shares the
    # server's memory: a bigger batch runs as passes over parts of it whose gradients add up before the optimiser's
    # step (gradient accumulation; ``core.training.trainer.passes``). 0: no limit (the built-in recipes, measured).
    step_tokens: int = 0
    # For dataset="csv": the stored upload and its columns; for dataset="hub": "name" or "name/config".
    data_file: str = ""
    text_column: str = "text"
    label_column: str = "label"
    hub_dataset: str = ""
    # For base="hub": a Hub checkpoint id (online only).
    hub_model: str = ""
    # For generated corpora (translation, SRL): how many training sentences; for the language model,
    # how many training articles; for a classifier, how many of its training split's labelled examples it
    # spends, validation share included (each label keeping its share: core.training.prepare.sample_indices).
    # 0 keeps the dataset's default (a classifier: every example).
    examples: int = 0

    def unused(self) -> tuple[str, ...]:
        """Options this recipe's task does not use: refused when set, left out of its model card."""
        from core.tasks.base import SEQUENCE, tasks

        task = tasks().get(self.task)
        return SEQUENCE_IGNORES if task is not None and task.family == SEQUENCE else CLASSIFIER_IGNORES

    def with_overrides(self, overrides: dict) -> Recipe:
        allowed = {f.name for f in dataclasses.fields(self)} - {"key", "task", "dataset", "base", "title"}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise CoreError(f"Unknown training option(s) {unknown}; choose from {sorted(allowed)}.")
        ignored = sorted(set(overrides) & set(self.unused()))
        if ignored:
            raise CoreError(f"Training a {self.task} model does not use {ignored}: setting them would change nothing.")
        typed = {}
        for name, value in overrides.items():
            current = getattr(self, name)
            try:
                typed[name] = _convert(current, value, name)
            except (TypeError, ValueError):
                raise CoreError(f"Option {name}={value!r} is not a valid {type(current).__name__}.") from None
        return dataclasses.replace(self, **typed).validated()

    def validated(self) -> Recipe:
        problems = []
        if self.epochs <= 0 or self.epochs > 200:
            problems.append(f"epochs must be in (0, 200], got {self.epochs}")
        if not 0 < self.learning_rate < 1:
            problems.append(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 1 <= self.batch_size <= 1024:
            problems.append(f"batch_size must be 1–1024, got {self.batch_size}")
        if not 8 <= self.max_length <= 512:
            problems.append(f"max_length must be 8–512, got {self.max_length}")
        if self.augment not in ("none", "word-dropout", "word-swap"):
            problems.append(f"augment must be none, word-dropout or word-swap, got {self.augment!r}")
        if self.padding not in ("dynamic", "max_length"):
            problems.append(f"padding must be dynamic or max_length, got {self.padding!r}")
        if not 0 <= self.validation_fraction < 0.5:
            problems.append(f"validation_fraction must be in [0, 0.5), got {self.validation_fraction}")
        if not 0 <= self.step_tokens <= 1_000_000:
            problems.append(f"step_tokens must be 0–1,000,000, got {self.step_tokens}")
        if not 0 <= self.examples <= 1_000_000:
            problems.append(f"examples must be 0–1,000,000, got {self.examples}")
        for name in ("group_by_length", "checkpointing", "freeze_word_embeddings"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        from core.catalog import split_hub_dataset, validate_hub_id

        if self.dataset == "hub" or self.hub_dataset:  # names a student types: refused on their own, in words
            split_hub_dataset(self.hub_dataset)
        if self.base == "hub" or self.hub_model:
            validate_hub_id(self.hub_model)
        for column in (self.text_column, self.label_column):
            if not isinstance(column, str) or len(column) > 200:
                problems.append("column names must be text of at most 200 characters")
        if problems:
            raise CoreError("Invalid training options: " + "; ".join(problems) + ".")
        return self

    def hyperparameters(self) -> dict:
        keep = ("epochs", "learning_rate", "batch_size", "max_length", "weight_decay", "warmup_ratio", "seed",
                "dropout", "patience", "augment", "augment_p", "validation_fraction", "padding", "group_by_length",
                "examples", "checkpointing", "freeze_word_embeddings", "step_tokens")  # fmt: skip
        return {name: getattr(self, name) for name in keep if name not in self.unused()}

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Recipe:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names}).validated()


def complete(stored: dict) -> dict:
    """A recipe as a model card stores it, with every option it predates at its default: a card written before an
    option existed compares equal to one written after with that option off."""
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe) if f.default is not dataclasses.MISSING}
    return {**defaults, **stored}


# Options only one family of tasks uses: the sequence models train on their whole corpus with no validation share,
# early stopping, augmentation or padding; only the text classifiers' trainer freezes a word table (in translation
# and the language models it is also the output layer).
CLASSIFIER_IGNORES = ()
SEQUENCE_IGNORES = ("patience", "augment", "augment_p", "validation_fraction", "padding", "freeze_word_embeddings")


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Recipe)}


def _convert(current, value, name: str):
    if isinstance(value, str) and name == "dropout" and value.lower() in ("", "none"):
        return None
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if isinstance(current, dict) or current is None:
        return float(value) if name == "dropout" else value
    if _FIELD_TYPES.get(name) == "float":  # a recipe may write epochs=2: an override of 0.5 is still a float
        return float(value)
    return type(current)(value)


# The random BERT every "tiny" model starts from: 2 layers of width 64, trained in seconds.
TINY_BERT = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}

# The Chinese BERT the Chinese classifiers share (pretrained here, or from random weights): 2 layers of width 128,
# a 6,000-token character vocabulary (the third classifier reads PIECES instead).
CHINESE_BERT_SIZE = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "intermediate_size": 512, "vocab_size": 6000}  # fmt: skip
# The vocabulary of pieces (BPE) the third Chinese classifier reads instead of characters, on the same layers.
PIECES = 8000  # picked by the held-out reviews' accuracy from random weights (so slightly optimistic): 85.1 and 84.4 %
# (two seeds) against 82.3 % with characters; 4,000 is no merge at all (the training reviews have 4,414 distinct
# characters), 82.2 %; 16,000 scored 83.6 %, and 8,000 learnt on People's Daily with the reviews 83.7 % (one run each)


# What a new run (the Train page's, or `python -m core.train --name`) starts from: one source for both.
NEW_RUN = {
    "epochs": 3.0, "learning_rate": 2e-4, "batch_size": 16, "weight_decay": 0.01, "warmup_ratio": 0.1,
    "dropout": 0.1, "seed": 42, "patience": 2, "augment": "none", "augment_p": 0.1, "validation_fraction": 0.15,
    "group_by_length": True, "checkpointing": False, "freeze_word_embeddings": False,
    # 16 × 128 tokens, the default batch at the longest default length, in one pass; 64 × 512 in one pass would take
    # about 20 GB on MiniLM (32 × 512 peaked at 11.4 GB)
    "step_tokens": 2048,
}  # fmt: skip
NEW_RUN_BASES = ("minilm-l6", "scratch", "hub")  # what a new run starts from (the Train page's choice, the CLI's --base)
# and the most a session's run from random weights may ask for (the Train page's largest choices)
SCRATCH_LIMITS = {"num_hidden_layers": 6, "hidden_size": 256, "num_attention_heads": 8, "intermediate_size": 512}
SCRATCH_LEARNING_RATE = 1e-3  # random weights need bigger steps than fine-tuning


def new_run_defaults(base: str, max_length: int = 64) -> dict:
    """The hyperparameters a new run starts from, for its base model and its task's token length."""
    return {**NEW_RUN, "max_length": max_length,
            "learning_rate": SCRATCH_LEARNING_RATE if base == "scratch" else NEW_RUN["learning_rate"]}  # fmt: skip

"""Train a recipe with Hugging Face ``Trainer`` and publish it to the cache.

Knows nothing about Streamlit or terminals: progress goes out through ``report(dict)``, and
``should_stop()`` is polled at every step so a job can be cancelled cleanly.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from core.errors import CoreError, JobCancelled, JobError
from core.messages import Message
from core.tasks.base import get_task
from core.training import store
from core.training.evaluation import evaluate_predictions, overfitting
from core.training.recipes import Recipe
from core.training.token_rows import count_tokens
from core.training.trainer import CARD_POINTS, Report, card_header, fit, provenance, quiet_transformers, thin

PAD_MULTIPLE = 16
LARGE_SET = 1_000  # training rows from which batches are padded to PAD_MULTIPLE (see pad_multiple)


def train_recipe(recipe: Recipe, *, report: Report, should_stop: Callable[[], bool] = lambda: False) -> Path:
    """Train ``recipe`` and publish it under ``recipe.key``; returns the cache folder.

    A cancel is honoured at every phase the run reports (reading data, building the model, scoring), not only at
    training steps: a job cancelled while it loads ends there instead of at its first step."""

    def checked(update: dict) -> None:
        phase = update.get("phase")  # a step checks for itself, in Trainer's callback; curves carry no phase
        if phase and phase != "training" and should_stop():
            raise JobCancelled(f"Training was cancelled while {phase}.")
        report(update)

    def build(folder: Path) -> dict:
        return train_into(recipe, folder, checked, should_stop)

    checked({"phase": "preparing", "message": "removing leftovers of earlier jobs"})
    store.remove_leftovers(recipe.key)
    return store.publish(recipe.key, build)


def train_without_publishing(recipe: Recipe) -> None:
    """A non-zero rank of a multi-process run: train in step with rank 0, keep nothing."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lmlab-rank-") as folder:
        train_into(recipe, Path(folder), report=lambda _: None, should_stop=lambda: False)


def train_into(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    """The task's trainer builds, fits and scores the model in ``folder``; the card gets the run's header and provenance."""
    from core.device import describe

    trainer = get_task(recipe.task).hook("trainer")
    quiet_transformers()
    started = time.perf_counter()
    card = trainer(recipe, folder, report, should_stop)
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    return {**card_header(recipe), **card, **provenance(recipe, describe(), started)}


def freeze_word_table(recipe: Recipe, model) -> None:
    """The recipe's frozen word table (Trainer's optimiser takes only the weights that want gradients), refused in
    words where the model has none to freeze."""
    if recipe.freeze_word_embeddings:
        try:
            table = model.get_input_embeddings().weight
        except (AttributeError, NotImplementedError):
            raise CoreError(Message("{model} has no word table LM Lab can freeze: train it without freezing.",
                                    model=type(model).__name__)) from None
        table.requires_grad_(False)


def train_classifier(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    """A text classifier: data → model → fit → held-out scores → saved weights and its model card."""
    import torch

    from core.training.prepare import base_model, encode, prepare

    # 1) data: the fixed split, a validation hold-out from the training part, augmentation
    report({"phase": "loading data", "message": f"reading dataset {recipe.dataset!r}"})
    data = prepare(recipe)
    label_ids = {label: i for i, label in enumerate(data.labels)}

    # 2) architecture
    report({"phase": "loading model", "message": f"building the model from {recipe.base!r}"})
    torch.manual_seed(recipe.seed)
    base_weights = pretrained_from(recipe)
    tokenizer, model = base_model(recipe, data.labels)
    same_base(base_weights, recipe)
    freeze_word_table(recipe, model)
    train_rows = encode(tokenizer, data.train, label_ids, recipe)
    validation_rows = encode(tokenizer, data.validation, label_ids, recipe)
    test_rows = encode(tokenizer, list(data.split.test), label_ids, recipe)

    # 3) training with Trainer; validation once per epoch when there is a validation set
    from transformers import DataCollatorWithPadding

    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_multiple(len(train_rows), recipe.max_length))
    fitted = fit(recipe, folder, model, train_rows, collator, report, should_stop,
                 tokenizer=tokenizer, validation=validation_rows, compute_metrics=_accuracy)  # fmt: skip

    # 4) evaluation on the held-out test split, 5) safetensors and tokenizer; the store writes the card last
    scores = _held_out_scores(fitted.trainer, test_rows, data.labels, recipe, report)
    report({"phase": "saving", "message": "writing safetensors, tokenizer and metadata"})
    if fitted.trainer.is_world_process_zero():
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
    lengths = count_tokens(tokenizer, [e.text for e in data.labelled])
    return {
        "labels": data.labels,
        "base": recipe.base if recipe.base != "hub" else f"hub:{recipe.hub_model}",
        **base_weights,
        "data": {
            **data.split.describe(),
            "labelled_examples_used": len(data.labelled),
            "validation_size": len(data.validation),
            "train_size_after_augmentation": len(data.train),
            "truncated_at_max_length": sum(length > recipe.max_length for length in lengths),
        },
        **scores,
        "loss_curve": thin(fitted.losses, CARD_POINTS),
        "eval_curve": fitted.evals,
        "overfitting": overfitting(fitted.evals),
        "stopped_early": fitted.stopped_early,
        "epochs_run": fitted.epochs_run,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": fitted.seconds,
    }


def pretrained_from(recipe: Recipe) -> dict:
    """For a run fine-tuned from a model pretrained here: that model's weights (``base_sha256``), so that a card says
    which pretraining it started from after the pretrained model is trained again."""
    if recipe.base != "zh-bert":
        return {}
    from core.catalog import read_metadata
    from core.training.prepare import PRETRAINED_ZH

    card = read_metadata(PRETRAINED_ZH)
    return {"base_sha256": card.sha256} if card is not None else {}


def same_base(before: dict, recipe: Recipe) -> None:
    """Refuse a run whose pretrained model was published again while it loaded (its card, written last, changed):
    the card could not say which weights the run started from."""
    if pretrained_from(recipe) != before:
        raise JobError(Message("The Chinese BERT this run starts from was trained again while the run loaded it; "
                               "start the run again."))


def pad_multiple(rows: int, max_length: int) -> int | None:
    """Batches of a large training set are padded to a multiple of ``PAD_MULTIPLE`` tokens. Padded to their
    longest text, length-grouped batches take a new shape at almost every step, and the C allocator's free lists
    fragment: fine-tuning the Chinese BERT on 15,358 reviews (960 steps) grew by 280 MB while it trained, and stays
    flat padded to 16, with the same accuracy. Training sets under ``LARGE_SET`` rows (after the validation share;
    the built-in English models train on 150–600) keep exact padding, and their published scores. So does a
    ``max_length`` that is not a multiple of ``PAD_MULTIPLE``: a batch is never padded past it (a model built for
    that length has no position beyond it)."""
    return PAD_MULTIPLE if rows >= LARGE_SET and max_length % PAD_MULTIPLE == 0 else None


def _accuracy(prediction) -> dict:
    import numpy as np

    return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}


def _held_out_scores(trainer, test_rows: list, labels: list[str], recipe: Recipe, report: Report) -> dict:
    report({"phase": "evaluating", "message": f"scoring {len(test_rows)} held-out examples"})
    output = trainer.predict(test_rows)
    predictions = output.predictions.argmax(axis=-1).tolist()
    # Use the labels Trainer returns alongside the predictions, not the dataset's order: with
    # train_sampling_strategy="group_by_length", transformers 5 also length-groups the evaluation
    # sampler, so predictions come back permuted relative to the dataset.
    references = output.label_ids.tolist()
    return evaluate_predictions(predictions, references, labels, recipe.seed)

"""Train a recipe with Hugging Face ``Trainer`` and publish it to the cache.

Knows nothing about Streamlit or terminals: progress goes out through ``report(dict)``, and
``should_stop()`` is polled at every step so a job can be cancelled cleanly.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from core.errors import JobCancelled
from core.training import store
from core.training.recipes import Recipe

Report = Callable[[dict], None]


class _ProgressCallback:
    """Forwards Trainer's steps and logs to ``report`` and honours ``should_stop``."""

    def __init__(self, report: Report, should_stop: Callable[[], bool]):
        from transformers import TrainerCallback

        outer = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                outer.step(state)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    outer.losses.append(
                        {"step": state.global_step, "epoch": state.epoch, "loss": logs["loss"]}
                    )
                if logs and "eval_loss" in logs:
                    point = {"step": state.global_step, "epoch": state.epoch, "eval_loss": logs["eval_loss"]}
                    if "eval_accuracy" in logs:
                        point["eval_accuracy"] = logs["eval_accuracy"]
                    outer.evals.append(point)
                    outer.report({"eval_curve": list(outer.evals)})

        self.callback = Callback()
        self.report = report
        self.should_stop = should_stop
        self.losses: list[dict] = []
        self.evals: list[dict] = []
        self.started = time.perf_counter()

    def step(self, state) -> None:
        if self.should_stop():
            raise JobCancelled("Training was cancelled.")
        elapsed = time.perf_counter() - self.started
        total = max(state.max_steps, 1)
        rate = elapsed / max(state.global_step, 1)
        self.report(
            {
                "phase": "training",
                "step": state.global_step,
                "total_steps": total,
                "epoch": round(state.epoch or 0.0, 3),
                "loss": self.losses[-1]["loss"] if self.losses else None,
                # the curve so far, thinned to at most 300 points so the progress file stays small
                "curve": self.losses[:: max(1, len(self.losses) // 300)][-300:],
                "eta_s": round(rate * (total - state.global_step), 1),
                "message": f"step {state.global_step}/{total}",
            }
        )


def train_recipe(recipe: Recipe, *, report: Report, should_stop: Callable[[], bool] = lambda: False) -> Path:
    """Train ``recipe`` and publish it under ``recipe.key``; returns the cache folder."""

    def build(folder: Path) -> dict:
        return _train(recipe, folder, report, should_stop)

    report({"phase": "preparing", "message": "removing leftovers of earlier jobs"})
    store.remove_leftovers(recipe.key)
    return store.publish(recipe.key, build)


def train_without_publishing(recipe: Recipe) -> None:
    """A non-zero rank of a multi-process run: train in step with rank 0, keep nothing."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lmlab-rank-") as folder:
        _train(recipe, Path(folder), report=lambda _: None, should_stop=lambda: False)


def _train(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    from core.training import sequence

    if recipe.task in sequence.TASKS:
        return sequence.train_into(recipe, folder, report, should_stop)
    return _train_into(recipe, folder, report, should_stop)


def _train_into(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    import numpy as np
    import torch
    from transformers import (
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )
    from transformers.utils import logging as hf_logging

    from core.device import describe, mixed_precision_flags
    from core.training.evaluation import evaluate_predictions, overfitting
    from core.training.prepare import base_model, encode, prepare

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    started = time.perf_counter()
    device = describe()

    # 1) data: the fixed split, a validation hold-out from the training part, augmentation
    report({"phase": "loading data", "message": f"reading dataset {recipe.dataset!r}"})
    data = prepare(recipe)
    label_ids = {label: i for i, label in enumerate(data.labels)}

    # 2) architecture
    report({"phase": "loading model", "message": f"building the model from {recipe.base!r}"})
    torch.manual_seed(recipe.seed)
    tokenizer, model = base_model(recipe, data.labels)
    train_rows = encode(tokenizer, data.train, label_ids, recipe)
    validation_rows = encode(tokenizer, data.validation, label_ids, recipe)
    test_rows = encode(tokenizer, list(data.split.test), label_ids, recipe)
    if should_stop():
        raise JobCancelled("Training was cancelled.")

    # 3) training with Trainer; validation once per epoch when there is a validation set
    evaluate_each_epoch = bool(validation_rows)
    early_stopping = recipe.patience > 0 and evaluate_each_epoch
    args = TrainingArguments(
        output_dir=str(folder / "checkpoints"),
        num_train_epochs=recipe.epochs,
        learning_rate=recipe.learning_rate,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=64,
        weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup_ratio,  # a float below 1 is a ratio of all steps
        seed=recipe.seed,
        logging_steps=1,
        eval_strategy="epoch" if evaluate_each_epoch else "no",
        # early stopping restores the best epoch, which needs that epoch's checkpoint
        save_strategy="epoch" if early_stopping else "no",
        save_total_limit=1 if early_stopping else None,
        load_best_model_at_end=early_stopping,
        metric_for_best_model="eval_loss" if early_stopping else None,
        greater_is_better=False if early_stopping else None,
        train_sampling_strategy="group_by_length" if recipe.group_by_length else "random",
        report_to="none",
        disable_tqdm=True,
        use_cpu=device.device == "cpu",
        dataloader_num_workers=0,
        **mixed_precision_flags(device),
    )

    def accuracy_metric(prediction) -> dict:
        return {
            "accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())
        }

    progress = _ProgressCallback(report, should_stop)
    callbacks = [progress.callback]
    if early_stopping:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.patience))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_rows,
        eval_dataset=validation_rows or None,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=accuracy_metric if evaluate_each_epoch else None,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through report(), never print
    train_started = time.perf_counter()
    result = trainer.train()
    train_seconds = time.perf_counter() - train_started

    # 4) evaluation on the held-out test split
    report({"phase": "evaluating", "message": f"scoring {len(test_rows)} held-out examples"})
    output = trainer.predict(test_rows)
    predictions = output.predictions.argmax(axis=-1).tolist()
    # Use the labels Trainer returns alongside the predictions, not the dataset's order: with
    # train_sampling_strategy="group_by_length", transformers 5 also length-groups the evaluation
    # sampler, so predictions come back permuted relative to the dataset.
    references = output.label_ids.tolist()
    scores = evaluate_predictions(predictions, references, data.labels, recipe.seed)
    lengths = [
        len(ids) for ids in tokenizer([e.text for e in data.split.train], truncation=False)["input_ids"]
    ]

    # 5) deployment: safetensors, tokenizer, and the model card (metadata.json, written last by the store)
    report({"phase": "saving", "message": "writing safetensors, tokenizer and metadata"})
    if trainer.is_world_process_zero():
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    return {
        "key": recipe.key,
        "title": recipe.title,
        "task": recipe.task,
        "description": recipe.description,
        "labels": data.labels,
        "base": recipe.base if recipe.base != "hub" else f"hub:{recipe.hub_model}",
        "data": {
            **data.split.describe(),
            "validation_size": len(data.validation),
            "train_size_after_augmentation": len(data.train),
            "truncated_at_max_length": sum(length > recipe.max_length for length in lengths),
        },
        "hyperparameters": recipe.hyperparameters(),
        "recipe": recipe.to_json(),
        **scores,
        "loss_curve": progress.losses[:: max(1, len(progress.losses) // 400)],  # a card stays small, however long the run
        "eval_curve": progress.evals,
        "overfitting": overfitting(progress.evals),
        "stopped_early": early_stopping and result.global_step < trainer.state.max_steps,
        "epochs_run": round(float(trainer.state.epoch or 0), 2),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(train_seconds, 2),
        **provenance(recipe, device, started),
    }


def provenance(recipe: Recipe, device, started: float) -> dict:
    """Where, when and with what a model was trained: the last fields of every model card."""
    from core.device import library_versions

    return {
        "total_seconds": round(time.perf_counter() - started, 2),
        "device": device.device,
        "precision": device.train_dtype,
        "threads": device.threads,
        "versions": library_versions(),
        "seed": recipe.seed,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }

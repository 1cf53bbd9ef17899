"""Train a recipe with Hugging Face ``Trainer`` and publish it to the cache.

Knows nothing about Streamlit or terminals: progress goes out through ``report(dict)``, and
``should_stop()`` is polled at every step so a job can be cancelled cleanly.
"""

from __future__ import annotations

import platform
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from core import catalog
from core.errors import CoreError, JobCancelled
from core.training import store
from core.training.recipes import Recipe

Report = Callable[[dict], None]


def _versions() -> dict[str, str]:
    import accelerate
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
    }


DATASETS = ("polarity", "newsgroups", "keyword")


def _examples(recipe: Recipe):
    if recipe.dataset == "polarity":
        from core.data import polarity

        return polarity.split(), list(polarity.LABELS)
    if recipe.dataset == "newsgroups":
        from core.data import newsgroups

        data, labels = newsgroups.split()
        return data, list(labels)
    if recipe.dataset == "keyword":
        from core.data import keyword

        data, labels = keyword.split()
        return data, list(labels)
    raise CoreError(
        f"Unknown dataset {recipe.dataset!r} in recipe {recipe.key!r}; choose one of {list(DATASETS)}."
    )


def _base_model(recipe: Recipe, labels: list[str]):
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    from core.loading import load_tokenizer, local_dir

    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    # Both starting points use the packaged MiniLM's WordPiece tokenizer (bert-base-uncased vocab).
    tokenizer = load_tokenizer(catalog.MINILM)
    if recipe.base == "minilm-l6":
        model = AutoModelForSequenceClassification.from_pretrained(
            str(local_dir(catalog.MINILM)),
            num_labels=len(labels),
            id2label=id2label,
            label2id=label2id,
            local_files_only=True,
            use_safetensors=True,
            trust_remote_code=False,
        )
    elif recipe.base == "scratch":
        config = BertConfig(
            vocab_size=tokenizer.vocab_size,
            max_position_embeddings=max(128, recipe.max_length),
            num_labels=len(labels),
            id2label=id2label,
            label2id=label2id,
            **recipe.scratch,
        )
        model = BertForSequenceClassification(config)
    else:
        raise CoreError(f"Unknown base {recipe.base!r}; choose 'minilm-l6' or 'scratch'.")
    return tokenizer, model


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

        self.callback = Callback()
        self.report = report
        self.should_stop = should_stop
        self.losses: list[dict] = []
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
                "eta_s": round(rate * (total - state.global_step), 1),
                "message": f"step {state.global_step}/{total}",
            }
        )


def train_recipe(recipe: Recipe, *, report: Report, should_stop: Callable[[], bool] = lambda: False) -> Path:
    """Train ``recipe`` and publish it under ``recipe.key``; returns the cache folder."""

    def build(folder: Path) -> dict:
        return _train_into(recipe, folder, report, should_stop)

    report({"phase": "preparing", "message": "removing leftovers of earlier jobs"})
    store.remove_leftovers(recipe.key)
    return store.publish(recipe.key, build)


def _train_into(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    import torch
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    from core.bench import metrics
    from core.bench.stats import accuracy_with_ci
    from core.device import describe, mixed_precision_flags

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    started = time.perf_counter()
    device = describe()

    report({"phase": "loading data", "message": f"reading dataset {recipe.dataset!r}"})
    split, labels = _examples(recipe)
    label_ids = {label: i for i, label in enumerate(labels)}

    report({"phase": "loading model", "message": f"building the model from {recipe.base!r}"})
    torch.manual_seed(recipe.seed)
    tokenizer, model = _base_model(recipe, labels)

    def encode(examples):
        encoded = tokenizer([e.text for e in examples], truncation=True, max_length=recipe.max_length)
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": label_ids[e.label]}
            for ids, mask, e in zip(encoded["input_ids"], encoded["attention_mask"], examples, strict=True)
        ]

    train_rows = encode(split.train)
    test_rows = encode(split.test)
    if should_stop():
        raise JobCancelled("Training was cancelled.")

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
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=device.device == "cpu",
        dataloader_num_workers=0,
        **mixed_precision_flags(device),
    )
    progress = _ProgressCallback(report, should_stop)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_rows,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        callbacks=[progress.callback],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through report(), never print
    train_started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - train_started

    report({"phase": "evaluating", "message": f"scoring {len(test_rows)} held-out sentences"})
    output = trainer.predict(test_rows)
    predictions = output.predictions.argmax(axis=-1).tolist()
    references = [row["labels"] for row in test_rows]
    accuracy = metrics.load("accuracy").compute(predictions=predictions, references=references)["accuracy"]
    estimate = accuracy_with_ci(predictions, references, seed=recipe.seed)
    assert abs(estimate.value - accuracy) < 1e-9, "evaluate and the bootstrap disagree on accuracy"

    report({"phase": "saving", "message": "writing safetensors, tokenizer and metadata"})
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)

    return {
        "key": recipe.key,
        "title": recipe.title,
        "task": recipe.task,
        "description": recipe.description,
        "labels": labels,
        "base": recipe.base,
        "data": split.describe(),
        "hyperparameters": recipe.hyperparameters(),
        "metrics": {"accuracy": estimate.as_dict()},
        "loss_curve": progress.losses,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(train_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "device": device.device,
        "precision": device.train_dtype,
        "threads": device.threads,
        "versions": _versions(),
        "seed": recipe.seed,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }

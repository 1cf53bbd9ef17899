"""One way to train any task's model: Hugging Face ``Trainer`` set up once, progress and cancel, provenance.

Every task builds its rows, model and collator, then calls ``fit``: the same ``TrainingArguments``
(validation each epoch and early stopping where the task has a validation set), the same progress
callback (``report(dict)`` at every step, ``should_stop()`` polled), the same thinning of curves and
the same provenance fields at the end of every model card.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.errors import CoreError, JobCancelled
from core.messages import Message
from core.training.recipes import Recipe

# Whether this process is a training job of its own (``python -m core.train``), not the app or a test that trains
# in-process: only then may a run change how the process's malloc hands memory back (``return_freed_memory``).
OWN_PROCESS = False

Report = Callable[[dict], None]
PROGRESS_POINTS = 300  # points of the loss curve in the progress file, read by every page that shows it
CARD_POINTS = 400  # points of the loss curve kept in a model card


def thin(curve: list, at_most: int) -> list:
    """At most ``at_most`` points spread evenly over the whole curve, the first and the last always kept."""
    if len(curve) <= at_most:
        return list(curve)
    if at_most < 2:
        return curve[-at_most:] if at_most else []
    step = (len(curve) - 1) / (at_most - 1)
    return [curve[round(i * step)] for i in range(at_most)]


class ProgressCallback:
    """Forwards Trainer's steps and logs to ``report`` and honours ``should_stop``."""

    def __init__(self, report: Report, should_stop: Callable[[], bool]):
        from transformers import TrainerCallback

        outer = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                outer.step(state)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    outer.losses.append({"step": state.global_step, "epoch": state.epoch, "loss": logs["loss"]})
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
                "curve": thin(self.losses, PROGRESS_POINTS),  # the progress file stays small
                "eta_s": round(rate * (total - state.global_step), 1),
                "message": f"step {state.global_step}/{total}",
            }
        )


@dataclass
class Fitted:
    """What training left: the trainer (to predict and save with), the curves, the seconds it took."""

    trainer: object
    losses: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False
    epochs_run: float = 0.0


def return_freed_memory() -> bool:
    """Have glibc's malloc give every block of 64 KiB or more straight back to the system when it is freed.

    By default malloc raises that threshold to the size of each large block freed (up to 32 MiB), so a training
    step's activations, freed after its backward pass, stay in the heap, and the next step's land beside them. A
    fixed threshold turns that off, at the price of mapping those blocks afresh every step: only a run that asks to
    save memory (``checkpointing``) in a process of its own (``OWN_PROCESS``, set by ``python -m core.train``) pays
    it. Measured fine-tuning MiniLM on the Chinese reviews (batches of 16 × 128 tokens): 1.74 GB resident after a
    backward pass, 0.96 GB with this; with checkpointing, 1.01 GB at the job's peak (1.64 GB with neither).
    Linux with glibc only; elsewhere nothing changes. Whether it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 64 * 1024))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # another C library (musl has no mallopt)
        return False


def fit(recipe: Recipe, folder: Path, model, rows: Sequence[dict], collator, report: Report,
        should_stop: Callable[[], bool], *, tokenizer=None, validation: list | None = None,
        compute_metrics=None) -> Fitted:  # fmt: skip
    """Train ``model`` on ``rows`` with Trainer. With ``validation`` rows: one evaluation per epoch, and
    early stopping after ``recipe.patience`` epochs without improvement (restoring the best epoch)."""
    from transformers import EarlyStoppingCallback, PrinterCallback, Trainer

    from core.device import describe, training_precision

    if should_stop():
        raise JobCancelled("Training was cancelled.")
    if recipe.checkpointing and not getattr(model, "supports_gradient_checkpointing", False):
        raise CoreError(Message("{model} does not support activation checkpointing: train it without checkpointing.",
                                model=type(model).__name__))
    if recipe.checkpointing and OWN_PROCESS:  # the run asked to save memory: freed activations go back too
        return_freed_memory()
    device = describe()
    precision = training_precision(device, recipe.max_length)
    evaluate_each_epoch = bool(validation)
    early_stopping = recipe.patience > 0 and evaluate_each_epoch
    args = _arguments(recipe, folder, device, precision, evaluate_each_epoch, early_stopping)
    progress = ProgressCallback(report, should_stop)
    callbacks = [progress.callback]
    if early_stopping:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.patience))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=rows,
        eval_dataset=validation or None,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=compute_metrics if evaluate_each_epoch else None,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through report(), never print
    if args.gradient_accumulation_steps > 1 and not type(model).__name__.endswith(("LMHeadModel", "ForCausalLM")):
        # Trainer reads a forward(**kwargs) as a loss already divided over the whole step's items, and then does not
        # divide it by the passes; but a classifier's, a tagger's, BART's and the masked model's loss is the mean over
        # its own pass, so the step's gradient came out as many times too big as there were passes (and the logged
        # loss too). Each pass's mean, divided by the passes, instead: exact for a classifier whose parts are the same
        # size, the usual approximation where the counted labels differ from pass to pass. A GPT's loss does divide by
        # the step's counted tokens (Trainer passes their number), so Trainer's own handling stays: exact for it.
        trainer.model_accepts_loss_kwargs = False
    started = time.perf_counter()
    result = _train(trainer, model, device.device, precision)
    seconds = time.perf_counter() - started
    return Fitted(
        trainer=trainer,
        losses=progress.losses,
        evals=progress.evals,
        seconds=round(seconds, 2),
        stopped_early=early_stopping and result.global_step < trainer.state.max_steps,
        epochs_run=round(float(trainer.state.epoch or 0), 2),
    )


def _train(trainer, model, device: str, precision: str):
    """``trainer.train()`` in the run's precision; the model in eval mode after, computing in fp32 again."""
    from core.loading import eager_attention

    # bf16 on a CPU: attention in plain operations (PyTorch's fused CPU attention trains slowly in bf16; see
    # core.device.CPU_BF16_MAX_LENGTH), the model's own attention again once trained
    with eager_attention(model) if device == "cpu" and precision == "bf16" else contextlib.nullcontext():
        result = trainer.train()
    if precision != "fp32":  # held-out scores, and whatever comes after, in fp32, as the model is served
        _without_autocast(model)
    model.eval()
    return result


def _without_autocast(model) -> None:
    """The model's own forward again: mixed precision (accelerate) replaced it with one wrapped in autocast, keeping the
    original as ``_original_forward`` (accelerate's ``unwrap_model`` would strip transformers' own decorators of
    ``forward`` as well)."""
    original = model.__dict__.pop("_original_forward", None)
    if original is None:
        return
    if getattr(original, "__func__", None) is type(model).forward:
        model.__dict__.pop("forward", None)  # the class's method, decorators and all
    else:
        model.forward = original


def passes(recipe: Recipe, on_cpu: bool) -> tuple[int, int, int]:
    """``split`` for the recipe's batch size, token length and ``step_tokens``."""
    return split(recipe.batch_size, recipe.max_length, recipe.step_tokens, on_cpu)


def split(batch: int, length: int, step_tokens: int, on_cpu: bool) -> tuple[int, int, int]:
    """(texts per training pass, passes per optimiser step, texts per scoring pass): the whole batch in one pass,
    unless on the CPU its batch × length tokens would pass ``step_tokens`` (0: no limit); then the largest part of
    the batch that divides it and fits, the parts' gradients added up before each step (the same batches and steps,
    a fraction of the memory). Scoring, which keeps no activations for a backward pass, takes 4 times as many."""
    if not on_cpu or not step_tokens:
        return batch, 1, 64
    most = max(1, step_tokens // length)
    part = max(size for size in range(1, min(most, batch) + 1) if batch % size == 0)
    return part, batch // part, max(1, min(64, 4 * step_tokens // length))


def _arguments(recipe: Recipe, folder: Path, device, precision: str, evaluate_each_epoch: bool, early_stopping: bool):
    """One TrainingArguments for every task: the recipe's settings, validation and early stopping when asked."""
    from transformers import TrainingArguments

    from core.device import mixed_precision_flags
    from core.loading import checkpointing_argument

    part, accumulate, scoring = passes(recipe, device.device == "cpu")
    return TrainingArguments(
        output_dir=str(folder / "checkpoints"),
        num_train_epochs=recipe.epochs,
        learning_rate=recipe.learning_rate,
        per_device_train_batch_size=part,
        gradient_accumulation_steps=accumulate,
        per_device_eval_batch_size=scoring,
        weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup_ratio,  # a float below 1 is a ratio of all steps
        seed=recipe.seed,
        logging_steps=1,
        eval_strategy="epoch" if evaluate_each_epoch else "no",
        # early stopping restores the best epoch, which needs that epoch's checkpoint
        save_strategy="epoch" if early_stopping else "no",
        save_total_limit=1 if early_stopping else None,
        save_only_model=True,  # nothing resumes a run: its checkpoints need no optimizer state (twice the weights)
        load_best_model_at_end=early_stopping,
        metric_for_best_model="eval_loss" if early_stopping else None,
        greater_is_better=False if early_stopping else None,
        train_sampling_strategy="group_by_length" if recipe.group_by_length else "random",
        **({checkpointing_argument(): True} if recipe.checkpointing else {}),
        report_to="none",
        disable_tqdm=True,
        use_cpu=device.device == "cpu",
        dataloader_num_workers=0,
        **mixed_precision_flags(precision),
    )


def quiet_transformers() -> None:
    """No progress bars or warnings from transformers: progress goes through ``report``."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def provenance(recipe: Recipe, device, started: float) -> dict:
    """Where, when and with what a model was trained: the last fields of every model card."""
    from core.device import library_versions, training_precision

    return {
        "total_seconds": round(time.perf_counter() - started, 2),
        "device": device.device,
        "precision": training_precision(device, recipe.max_length),
        "threads": device.threads,
        "versions": library_versions(),
        "seed": recipe.seed,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def card_header(recipe: Recipe) -> dict:
    """The first fields of every model card: what the run is and how it was set up."""
    return {
        "key": recipe.key,
        "title": recipe.title,
        "task": recipe.task,
        "description": recipe.description,
        "base": recipe.base,
        "hyperparameters": recipe.hyperparameters(),
        "recipe": recipe.to_json(),
    }

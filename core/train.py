"""Train a model from the command line; writes the same cache entry the app uses.

    python -m core.train --list
    python -m core.train --all            # pre-build every embedded default (a classroom server, before the lesson)
    python -m core.train --model sentiment-minilm
    python -m core.train --model sentiment-tiny --set epochs=3 --force
    python -m core.train --name my-reviews --dataset csv --csv reviews.csv --text-column review \
        --label-column stars --task sentiment --base minilm-l6 --set epochs=4 --set patience=2
    torchrun --nproc_per_node 4 -m core.train --name big-run --dataset hub --hub-dataset stanfordnlp/imdb \
        --text-column text --label-column label --task sentiment --base minilm-l6

Exit codes: 0 trained (or already cached), 1 failed, 2 bad arguments, 3 already being
trained elsewhere, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core import settings
from core.errors import CoreError, JobCancelled, JobError


def _parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CoreError(f"--set expects NAME=VALUE, got {pair!r}.")
        overrides[name.strip()] = value.strip()
    return overrides


def _datasets() -> list[str]:
    """Named datasets of the registered classification tasks, then the two a run brings with it."""
    from core.tasks.base import new_run_datasets
    from core.training.prepare import UPLOADED

    return [*new_run_datasets(), *UPLOADED]


def _custom_recipe(args, overrides: dict):
    import dataclasses
    from pathlib import Path

    from core.data import uploads
    from core.tasks.base import CLASSIFICATION, get_task, split_names, task_for_dataset, tasks
    from core.training.prepare import UPLOADED
    from core.training.recipes import TINY_BERT, Recipe, new_run_defaults

    if not args.dataset:
        raise CoreError(f"--name needs --dataset ({', '.join(_datasets())}).")
    data_file = ""
    if args.dataset == "csv":
        if not args.csv:
            raise CoreError("--dataset csv needs --csv FILE.")
        try:
            raw = Path(args.csv).read_bytes()
        except OSError as error:
            raise CoreError(f"Could not read {args.csv}: {error.strerror}.") from None
        data_file = uploads.store(raw).data_id
    named = {*split_names(), *UPLOADED}
    if args.dataset not in named:
        raise CoreError(f"Unknown dataset {args.dataset!r}; choose one of {sorted(named)}.")
    known = task_for_dataset(args.dataset)
    task = get_task(args.task) if args.task else known
    if task is None:
        raise CoreError("Say which page should offer the model: --task with one of the tasks listed by --help.")
    if task.family != CLASSIFICATION and not (task.hub_recipe and args.dataset == "hub"):
        exceptions = [name for name, found in tasks().items() if found.family != CLASSIFICATION and found.hub_recipe]
        raise CoreError(f"New {task.name!r} runs are not trained this way; the exceptions ({', '.join(exceptions)}) "
                        "train on a Hub dataset: use --task NAME --dataset hub --hub-dataset NAME.")  # fmt: skip
    if known is not None and known.name != task.name:
        raise CoreError(f"The dataset {args.dataset!r} trains the task {known.name!r}, not {task.name!r}.")
    if task.family != CLASSIFICATION:  # e.g. SRL on CoNLL-2012 frames: the recipe the Train page's button uses
        base_recipe = task.hook("hub_recipe")(key=args.name)
        recipe = dataclasses.replace(base_recipe, title=args.name, hub_dataset=args.hub_dataset or base_recipe.hub_dataset,
                                     description=f"Trained from the command line on {args.hub_dataset or base_recipe.hub_dataset}.")  # fmt: skip
        return recipe.with_overrides(overrides) if overrides else recipe.validated()
    recipe = Recipe(
        key=args.name,
        title=args.name,
        task=task.name,
        dataset=args.dataset,
        base=args.base,
        description=f"Trained from the command line on {args.dataset}.",
        **new_run_defaults(args.base, task.max_length),
        data_file=data_file,
        text_column=args.text_column,
        label_column=args.label_column,
        hub_dataset=args.hub_dataset,
        hub_model=args.hub_model,
        scratch=TINY_BERT if args.base == "scratch" else {},
    )
    return recipe.with_overrides(overrides) if overrides else recipe.validated()


def _terminal_bar():
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}] {postfix}")
    phase = {"last": ""}

    def echo(data: dict) -> None:
        if data.get("phase") != phase["last"]:
            phase["last"] = data.get("phase", "")
            bar.set_description(phase["last"])
        total = data.get("total_steps") or 0
        if total:
            done = 5 + 95 * data.get("step", 0) / total
            bar.update(max(0.0, done - bar.n))
        loss = data.get("loss")
        bar.set_postfix_str(f"loss {loss:.4f}" if isinstance(loss, float) else data.get("message", ""))

    return bar, echo


def _train_all(*, force: bool, workers: int = 1) -> int:
    """Every built-in recipe not cached yet (all with ``force``): one after another in this process, each with its
    terminal bar, or ``workers`` at a time in processes of their own; a summary table at the end."""
    import time

    from core.catalog import read_metadata
    from core.training import jobs
    from core.training.recipes import RECIPES

    keys = [key for key in RECIPES if force or not read_metadata(key)]
    rows = [(key, "cached", 0.0) for key in RECIPES if key not in keys]
    if workers > 1:
        rows += _train_side_by_side(keys, workers)
    for key in keys if workers <= 1 else ():
        started = time.perf_counter()
        bar, echo = _terminal_bar()
        try:
            jobs.run_here(key, echo=echo)
            rows.append((key, "trained", time.perf_counter() - started))
        except CoreError as error:
            rows.append((key, f"failed: {error}", time.perf_counter() - started))
        finally:
            bar.close()
    for key, state, seconds in rows:
        print(f"{key:24s} {state:10s} {seconds:6.0f} s")
    return 1 if any(state.startswith("failed") for _key, state, _seconds in rows) else 0


def _train_side_by_side(keys: list[str], workers: int) -> list[tuple[str, str, float]]:
    """``workers`` trainings at once, each ``python -m core.train --model KEY --force`` in a process of its own with
    the cores shared out (small models leave a second core idle: measured on 2 cores, two models side by side on
    one thread each took 107 s against 151 s one after another, with the same held-out scores). A model waits for
    the one it starts from (the Chinese BERT's pretraining). Logs go to a temporary folder, kept and named only on failure."""
    import shutil
    import tempfile
    import time

    from core.io import spawn_module
    from core.training.prepare import prerequisite

    threads = str(max(1, settings.cores() // workers))  # each child's share; this process keeps its own setting
    logs = Path(tempfile.mkdtemp(prefix="lmlab-train-all-"))
    pending, running, rows = list(keys), {}, []
    print(f"training {len(keys)} models, {workers} at a time on {threads} thread(s) each; "
          f"logs in {logs} (kept if one fails)", flush=True)
    while pending or running:
        for key in list(pending):
            first = prerequisite(key)
            if len(running) >= workers or first in pending or first in running:
                continue  # no free worker, or the model it starts from is still to come
            pending.remove(key)
            running[key] = (spawn_module("core.train", "--model", key, "--force", log=logs / f"{key}.log",
                                         extra_env={"OMP_NUM_THREADS": threads, "LMLAB_THREADS": threads}),
                            time.perf_counter())  # fmt: skip
        time.sleep(0.5)
        for key, (child, started) in list(running.items()):
            if child.poll() is not None:
                del running[key]
                state = "trained" if child.returncode == 0 else f"failed (exit {child.returncode}, {logs / key}.log)"
                rows.append((key, state, time.perf_counter() - started))
                print(f"{key:24s} {state} in {rows[-1][2]:.0f} s", flush=True)
    if all(state == "trained" for _key, state, _seconds in rows):
        shutil.rmtree(logs, ignore_errors=True)  # kept only when a log names a failure
    return rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.train", description="Train an LM Lab model into the cache.")
    parser.add_argument("--model", help="recipe key, e.g. sentiment-minilm (see --list)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a hyperparameter")
    parser.add_argument("--force", action="store_true", help="retrain even if the model is cached")
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument("--all", action="store_true",
                        help="train every built-in model that is not cached yet (with --force: all)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=0, metavar="N",
                        help="with --all: N trainings at once, the cores shared out (default: 2 where there are 2 "
                             "cores or more; 1 trains one after another in this process)")  # fmt: skip
    parser.add_argument("--pin", metavar="KEY", help="keep this run whatever the cache quota (LMLAB_MAX_RUNS)")
    parser.add_argument("--unpin", metavar="KEY", help="let the cache quota drop this run again")
    parser.add_argument("--delete", metavar="KEY", help="delete a run trained here (never a built-in model)")
    parser.add_argument("--delete-session-runs", action="store_true",
                        help="delete every run the app's sessions trained that is not training now and not pinned "
                             "(when a class has filled the cache)")  # fmt: skip
    parser.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    custom = parser.add_argument_group("a new run (instead of --model)")
    custom.add_argument("--name", help="cache name for the new model (lowercase letters, digits, . _ -)")
    custom.add_argument("--dataset", help="training data: " + ", ".join(_datasets()))
    custom.add_argument("--csv", help="a CSV file (with --dataset csv)")
    custom.add_argument("--hub-dataset", default="",
                        help="owner/name[/configuration], e.g. stanfordnlp/sst2 (with --dataset hub; online)")  # fmt: skip
    custom.add_argument("--text-column", default="text")
    custom.add_argument("--label-column", default="label")
    from core.training.recipe import NEW_RUN_BASES

    custom.add_argument("--base", choices=list(NEW_RUN_BASES), default="minilm-l6")
    custom.add_argument("--hub-model", default="", help="Hub checkpoint to fine-tune (with --base hub; online)")
    custom.add_argument("--task", help="which page offers the model (default: the dataset's task; srl: with --dataset hub)")
    return parser


def _manage(args) -> int:
    """--pin, --unpin, --delete, --delete-session-runs."""
    from core.catalog import read_metadata
    from core.training import ownership

    try:
        if args.delete:
            ownership.delete_run(args.delete, owner=None)  # the command line may delete any session's run
            print(f"deleted {args.delete}")
        elif args.delete_session_runs:
            deleted, training = ownership.delete_session_runs()
            print(f"deleted {len(deleted)} session run(s)" + (": " + ", ".join(deleted) if deleted else ""))
            if training:
                print(f"kept {len(training)} training now: {', '.join(training)}")
        else:
            key = args.pin or args.unpin
            if read_metadata(key) is None:
                raise CoreError(f"{key!r} is not in the cache.")
            ownership.set_pinned(key, bool(args.pin))
            print(f"{'pinned' if args.pin else 'unpinned'} {key}")
    except CoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _summary(key: str, path) -> dict:
    """What a finished run prints: where it is, its task, and its held-out score as its task words it."""
    from core.catalog import read_metadata
    from core.tasks.base import tasks

    meta = read_metadata(key) or {}
    task = tasks().get(str(meta.get("task")))
    metrics = meta.get("metrics") or {}
    summary = {"model": key, "path": str(path), "task": meta.get("task")}
    if task is not None and task.metric.key in metrics:
        summary[task.metric.key] = metrics[task.metric.key]
        summary["held_out"] = task.headline(metrics)
    summary["train_seconds"] = meta.get("train_seconds")
    return summary


def _time_limit(key: str) -> int:
    """A background job's wall-clock limit: ``LMLAB_JOB_TIMEOUT``, and the shorter ``LMLAB_SESSION_JOB_TIMEOUT`` for
    a run a student started (it has an owner), so one student's run cannot hold the class's training slot for long."""
    from core.training.ownership import owner_of
    from core.training.recipes import RECIPES

    limits = settings.limits()
    student = owner_of(key) and key not in RECIPES  # a built-in model is the class's, whoever asked for it
    return min(limits.job_timeout_s, limits.session_job_timeout_s) if student else limits.job_timeout_s


def main(argv: list[str] | None = None) -> int:
    settings.decide_mode()  # before anything imports transformers (an LMLAB_TASKS module may, for the help text)
    parser = _parser()
    args = parser.parse_args(argv)

    from core.catalog import read_metadata
    from core.training import jobs
    from core.training.recipes import RECIPES

    if args.pin or args.unpin or args.delete or args.delete_session_runs:
        return _manage(args)
    if args.list:
        for key, recipe in RECIPES.items():
            cached = "cached" if read_metadata(key) else "not trained"
            print(f"{key:20s} {cached:12s} {recipe.description}")
        return 0
    if args.all:
        from core.training import trainer

        # one process may train every model in turn: a run that saves memory must not change malloc for the rest
        trainer.OWN_PROCESS = False
        return _train_all(force=args.force, workers=args.jobs or min(2, settings.cores()))
    if not args.model and not args.name:
        parser.error("--model, --name or --all is required (or --list)")
    try:
        overrides = _parse_overrides(args.set)
        recipe = _custom_recipe(args, overrides) if args.name else None
        if recipe is not None:
            args.model, overrides = recipe.key, {}
        if recipe is None and read_metadata(args.model) and not (args.force or args.background or overrides):
            print(f"{args.model} is already in the cache ({settings.models_dir() / args.model}); use --force to retrain.")
            return 0
        bar, echo = (None, None) if args.background else _terminal_bar()
        try:
            from core.training.prepare import prerequisite

            first = None if args.background or recipe is not None else prerequisite(args.model)
            if first:  # the model this one starts from, trained first (the app starts that job itself)
                print(f"{args.model} starts from {first}, which is not trained yet: training it first.", file=sys.stderr)
                jobs.run_here(first, echo=echo)
            limit = _time_limit(args.model) if args.background else None  # the app's jobs only
            path = jobs.run_here(args.model, overrides, echo=echo, recipe=recipe, time_limit_s=limit,
                                 spawned=args.background)
        finally:
            if bar is not None:
                bar.close()
    except JobCancelled as error:
        print(f"cancelled: {error}", file=sys.stderr)
        return 130
    except JobError as error:
        print(f"busy: {error}", file=sys.stderr)
        return 3
    except CoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if path is not None:  # None: a non-zero rank of a multi-process run (rank 0 reports)
        print(json.dumps(_summary(args.model, path), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    from core.training import trainer

    trainer.OWN_PROCESS = True  # a run that saves memory may change how this process's malloc hands memory back
    sys.exit(main())

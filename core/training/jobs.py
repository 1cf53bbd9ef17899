"""Background training jobs: one process per model key, progress in a file any session can read.

* ``start(key)`` spawns ``python -m core.train --model KEY --background`` unless a job for
  that key is already running (then every caller shares it) and refuses when the global cap
  of concurrent jobs is reached.
* The training process holds ``train.lock`` for its key for its whole life, so the app, a
  second app process and the command line can never train the same model at once.
* Progress is ``jobs/<key>/progress.json``, replaced atomically; ``cancel(key)`` drops a stop
  flag that the training loop checks at every step, and the run at every phase it reports (reading data, building
  the model, scoring, saving); a flag from before the run (left by a killed job) is cleared, not obeyed.
* A job whose process vanished (killed, out of memory) is reported as ``died``; its
  half-written model lives only in a hidden temporary folder that nothing loads.
* Ownership (``core.training.ownership``): a job started for a session records that session's
  opaque ``owner`` id; only that session (or the command line) may cancel it.
* Limits: one global lock around "count the running jobs, then spawn" (the cap holds across
  sessions and processes); a wall-clock limit per job (``LMLAB_JOB_TIMEOUT``); a cancel that the
  training loop has not honoured within ``STOP_GRACE_S`` kills the process.

Cheap to import: no torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from filelock import Timeout

from core import settings
from core.errors import JobCancelled, JobError, JobLimitError, out_of_memory
from core.io import spawn_module, write_json_atomic
from core.messages import Message
from core.training.jobstate import (  # noqa: F401 - status, job_dir, … are part of this module's interface
    ACTIVE,
    DEATH_GRACE_S,
    FINISHED,
    STOP_GRACE_S,
    JobStatus,
    active_jobs,
    busy_elsewhere,
    children,
    job_dir,
    kill,
    progress_data,
    read_progress,
    start_lock,
    status,
    train_lock,
)
from core.training.recipe import NEW_RUN_BASES, SCRATCH_LIMITS
from core.training.recipes import NEW_RUN, RECIPES, Recipe, get_recipe

END_TEXT_CHARS = 2000  # a job's last message and error as kept in its progress file, which every Home run reads


def _a_sessions_run(recipe: Recipe, owner: str | None) -> tuple[Recipe, str | None]:
    """A run defined on a page and its owner, as the server allows them: the class's shared run (nobody's, and only
    while it is not trained yet), or a session's own run with one pass's tokens capped on the CPU."""
    from core.training import ownership

    if owner is None:
        return recipe, None
    if recipe.key in ownership.SHARED_RUNS:
        if not ownership.shared_run(recipe):
            raise JobError(Message("{name} is the name of a model the class shares; choose another name for your run.",
                                   name=repr(recipe.key)))
        from core.catalog import read_metadata

        if read_metadata(recipe.key) is not None:  # trained: a page may not replace everyone's copy
            raise JobError(Message("{name} is trained and the class shares it: only the command line trains it again.",
                                   name=repr(recipe.key)))  # fmt: skip
        return recipe, None  # the class's model: nobody's own
    shape = recipe.scratch if recipe.base == "scratch" else {}
    if recipe.base not in NEW_RUN_BASES or set(shape) - set(SCRATCH_LIMITS) or any(
            not isinstance(shape[name], int) or not 0 < shape[name] <= SCRATCH_LIMITS[name] for name in shape):
        raise JobError(Message("A run from a page starts from MiniLM, a Hub model, or a BERT of random weights of at "
                               "most {layers} layers of width {width}.", layers=SCRATCH_LIMITS["num_hidden_layers"],
                               width=SCRATCH_LIMITS["hidden_size"]))  # fmt: skip
    if not 0 < recipe.step_tokens <= NEW_RUN["step_tokens"]:  # whatever the page sent: the memory cap holds
        recipe = dataclasses.replace(recipe, step_tokens=NEW_RUN["step_tokens"])
    return recipe, owner


def _resolve(key: str, overrides: dict | None, recipe: Recipe | None) -> Recipe:
    if recipe is not None:
        from core.training.ownership import custom_recipe

        base = custom_recipe(recipe)
    elif key in RECIPES:
        base = get_recipe(key)
    else:
        stored = job_dir(key) / "recipe.json"
        if not stored.is_file():
            get_recipe(key)  # raises with the list of recipes
        base = Recipe.from_json(json.loads(stored.read_text(encoding="utf-8")))
    return base.with_overrides(overrides) if overrides else base


def _refuse_over_the_limit() -> None:
    """A clear refusal when as many training jobs run as the server allows (the caller holds the start lock)."""
    cap = settings.limits().max_concurrent_jobs
    running = active_jobs()
    if len(running) >= cap:
        names = ", ".join(job.key for job in running)
        raise JobLimitError(
            Message("{count} training job is already running ({names}); the limit is {cap}. Wait for it to finish, "
                    "or cancel it.", count=len(running), names=names, cap=cap) if len(running) == 1
            else Message("{count} training jobs are already running ({names}); the limit is {cap}. Wait for one to "
                         "finish, or cancel it.", count=len(running), names=names, cap=cap)
        )


def start(key: str, overrides: dict | None = None, recipe: Recipe | None = None,
          owner: str | None = None) -> JobStatus:  # fmt: skip
    """Start training ``key`` in a background process, or join the job already running for it.

    ``key`` is a built-in recipe, or — with ``recipe`` — a run defined on the Train page. ``owner``
    is the starting session's id (None from the command line): a session joins a built-in job
    that is already running, but never another session's run. A built-in model is the class's: whoever
    pressed Train first owns nothing, so no page can cancel the job everyone waits for.
    """
    from core.training import ownership

    resolved = _resolve(key, overrides, recipe)  # unknown keys and bad options fail here, in the caller
    with start_lock():
        folder = job_dir(key)  # made under the lock: a deletion of the run cannot take it away before it is used
        resolved, owner = _a_sessions_run(resolved, owner) if recipe is not None else (resolved, None)
        if recipe is not None and ownership.name_taken(key, owner):
            raise JobError(Message("The name {name} is taken by another run; choose another name for yours.",
                                   name=repr(key)))
        current = status(key)
        grace = DEATH_GRACE_S if current.state == "died" else 0.0
        if current.active or busy_elsewhere(key, wait=grace):
            return status(key)
        _refuse_over_the_limit()  # before any run is dropped to make room: a refused start loses nothing
        if recipe is not None and owner is not None:
            ownership.make_room_for_a_run(owner)
        (folder / "stop").unlink(missing_ok=True)
        if owner is not None:
            (folder / "owner").write_text(owner, encoding="utf-8")
        else:
            (folder / "owner").unlink(missing_ok=True)  # the command line's run, or the class's model: nobody's
        if recipe is not None:
            write_json_atomic(folder / "recipe.json", resolved.to_json())
        arguments = ["--model", key, "--background"]
        for name, value in (overrides or {}).items() if recipe is None else ():  # a recipe's are in recipe.json
            arguments += ["--set", f"{name}={value}"]
        # a new session: a Streamlit rerun or Ctrl-C in the app does not kill training
        child = spawn_module("core.train", *arguments, log=folder / "log.txt", append=True, detached=True)
        children[child.pid] = child
        now = time.time()
        write_json_atomic(
            folder / "progress.json",
            {
                "state": "starting",
                "phase": "starting",
                "message": "starting the training process",
                "pid": child.pid,
                "pid_created": psutil.Process(child.pid).create_time(),
                "started_at": now,
                "updated_at": now,
            },
        )
        return status(key)


def reading(data_id: str) -> bool:
    """Whether a queued or running training job was started on this upload (it reads the file when it starts)."""
    for job in active_jobs():
        try:
            recipe = json.loads((job_dir(job.key) / "recipe.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(recipe, dict) and recipe.get("data_file") == data_id:
            return True
    return False


def cancel(key: str, owner: str | None = None) -> JobStatus:
    """Ask the job for ``key`` to stop at its next step or phase (killed after ``STOP_GRACE_S``); nothing is kept.

    A session may cancel only a job it started; the command line (``owner=None``) may cancel any.
    """
    from core.training.ownership import may_change, owner_of

    if not may_change(key, owner):
        if owner_of(key) is None:
            raise JobError(Message("The job for {name} trains a model the whole class uses, or was started on the "
                                   "server's command line; no page can cancel it.", name=repr(key)))  # fmt: skip
        raise JobError(Message("The job for {name} was started by another session; only that session can cancel it.",
                               name=repr(key)))
    stop = job_dir(key) / "stop"
    if not stop.exists():  # a second click does not restart the grace period
        stop.touch()
    return status(key)


def wait(key: str, timeout: float = 600.0, poll: float = 0.2) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        current = status(key)
        if not current.active or time.monotonic() > deadline:
            return current
        time.sleep(poll)


class ProgressWriter:
    """Writes ``progress.json`` for the running process: throttled, atomic, phase changes always."""

    def __init__(self, key: str, echo: Callable[[dict], None] | None = None, interval: float = 0.25,
                 time_limit_s: int | None = None):  # fmt: skip
        self.path = job_dir(key) / "progress.json"
        self.echo = echo
        self.interval = interval
        me = psutil.Process(os.getpid())
        previous = read_progress(key)
        started = previous.get("started_at") if previous.get("pid") == me.pid else None
        self.data: dict = {
            "state": "running",
            "phase": "starting",
            "message": "",
            "pid": me.pid,
            "pid_created": me.create_time(),
            "started_at": started or time.time(),
        }
        if time_limit_s:
            self.data["time_limit_s"] = int(time_limit_s)
        self.last_write = 0.0
        self._write_lock = threading.Lock()  # the watchdog thread may finish the record too
        self.write(force=True)

    def write(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self.last_write >= self.interval:
            with self._write_lock:
                self.data["updated_at"] = now
                write_json_atomic(self.path, self.data)
                self.last_write = now

    def update(self, changes: dict) -> None:
        phase_changed = changes.get("phase") not in (None, self.data.get("phase"))
        self.data.update(changes)
        if self.echo is not None:
            self.echo(dict(self.data))
        self.write(force=phase_changed)

    def finish(self, state: str, message: str, error: str = "", said: dict | None = None) -> None:
        """The job's end, written at once; ``said``: the failure's Message (``said()``), kept with its words so that
        whichever end is written last (a failure, or the watchdog's time limit) is the one shown."""
        message, error = message[:END_TEXT_CHARS], error[:END_TEXT_CHARS]  # what failed may quote a huge input
        self.data.update({"state": state, "message": message, "error": error, "error_message": said, "eta_s": 0})
        self.write(force=True)


def said(error: BaseException) -> dict | None:
    """A failure's ``Message`` (template and arguments) where core said it in words, so that the page shows it in the
    reader's language; None where it did not, or where an argument would not survive JSON."""
    found = error.args[0] if len(error.args) == 1 else None
    plain = (str, int, float, bool, type(None))
    if not isinstance(found, Message) or not all(isinstance(value, plain) for value in found.args.values()):
        return None
    return {"template": found.template, "args": {name: value[:END_TEXT_CHARS] if isinstance(value, str) else value
                                                 for name, value in found.args.items()}}  # fmt: skip


def _watchdog(writer: ProgressWriter, stop_flag: Path, time_limit_s: int, done: threading.Event) -> None:
    """In a background job: end the process when it runs past its time limit or ignores a cancel.

    A training step stuck in native code never reaches the loop's stop check; this thread does not
    depend on it. The model is never half-published: publishing renames a finished folder in one step.
    """
    started = time.monotonic()
    while not done.wait(1.0):
        if time.monotonic() - started > time_limit_s:
            message = (f"Stopped after {time_limit_s // 60} min {time_limit_s % 60:02d} s, the time limit of one "
                       "training job (LMLAB_JOB_TIMEOUT; a student's run: LMLAB_SESSION_JOB_TIMEOUT); nothing was saved.")  # fmt: skip
            writer.finish("timed out", message, error=message)
            os._exit(124)
        try:
            asked = stop_flag.stat().st_mtime
        except OSError:
            continue
        if time.time() - asked > STOP_GRACE_S:
            writer.finish("cancelled", f"Cancelled: the job did not stop within {STOP_GRACE_S:.0f} s and was killed; "
                          "nothing was saved.")
            os._exit(130)


def _stop_check(stop_flag: Path, spawned: bool) -> Callable[[], bool]:
    """Whether this run has been asked to stop, once a stale flag is cleared.

    A flag left by a job killed before it could clear it is not a cancel of this run (obeyed, a command-line run
    would stop at once, or be killed as deaf to it). The app clears the flag just before it spawns a job, so in a
    spawned job a flag newer than the process is a real cancel; an in-process run (the command line, one model after
    another) cannot have been cancelled before it holds the model's lock, so any flag found then is stale."""
    since = psutil.Process(os.getpid()).create_time() - 1.0 if spawned else None

    def asked_to_stop() -> bool:
        try:
            asked = stop_flag.stat().st_mtime
        except OSError:
            return False
        return since is None or asked >= since

    if since is None or not asked_to_stop():
        stop_flag.unlink(missing_ok=True)
    return asked_to_stop


def run_here(
    key: str,
    overrides: dict | None = None,
    echo: Callable[[dict], None] | None = None,
    recipe: Recipe | None = None,
    time_limit_s: int | None = None,
    spawned: bool = False,
) -> Path | None:
    """Train ``key`` in this process (the command line, or the background child: ``spawned``), holding its lock.

    Under ``torchrun`` / ``accelerate launch`` only rank 0 takes the lock, reports progress and
    publishes the model; the other ranks train alongside it and return None. ``time_limit_s`` (the
    app's background jobs) ends the whole process past that wall-clock limit.
    """
    recipe = _resolve(key, overrides, recipe)
    if recipe is not None and recipe.key != key:
        raise JobError(f"The recipe is named {recipe.key!r}, not {key!r}.")
    if int(os.environ.get("RANK", "0")) > 0:
        from core.training.runner import train_without_publishing

        train_without_publishing(recipe)
        return None
    folder = job_dir(key)
    lock = train_lock(key)
    try:
        lock.acquire(timeout=DEATH_GRACE_S if status(key).state == "died" else 0)
    except Timeout:
        other = status(key)
        raise JobError(
            f"Model {key!r} is already being trained (process {other.pid}, {other.message or other.phase}). "
            "Wait for it to finish or cancel it."
        ) from None
    stop_flag = folder / "stop"
    asked_to_stop = _stop_check(stop_flag, spawned)
    done = threading.Event()
    try:
        writer = ProgressWriter(key, echo=echo, time_limit_s=time_limit_s)
        if time_limit_s:
            threading.Thread(target=_watchdog, args=(writer, stop_flag, time_limit_s, done), daemon=True).start()
        try:
            from core.training.runner import train_recipe

            path = train_recipe(recipe, report=writer.update, should_stop=asked_to_stop)
        except JobCancelled:
            writer.finish("cancelled", "Cancelled; nothing was saved.")
            raise
        except BaseException as error:  # noqa: BLE001 — record every failure, then re-raise it
            oom = out_of_memory(error)  # a GPU that ran out of memory is said in words, not as a traceback
            writer.finish("failed", "Training failed.", error=str(oom) if oom else f"{type(error).__name__}: {error}",
                          said=said(oom if oom is not None else error))  # fmt: skip
            if oom is not None:
                raise oom from None
            raise
        writer.finish("done", f"Saved to the model cache as {key!r}.")
        return path
    finally:
        done.set()
        stop_flag.unlink(missing_ok=True)
        lock.release()

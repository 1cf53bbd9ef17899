"""Background training jobs: one process per model key, progress in a file any session can read.

* ``start(key)`` spawns ``python -m core.train --model KEY --background`` unless a job for
  that key is already running (then every caller shares it) and refuses when the global cap
  of concurrent jobs is reached.
* The training process holds ``train.lock`` for its key for its whole life, so the app, a
  second app process and the command line can never train the same model at once.
* Progress is ``jobs/<key>/progress.json``, replaced atomically; ``cancel(key)`` drops a stop
  flag that the training loop checks at every step.
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

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

from core import settings
from core.catalog import validate_key
from core.errors import JobCancelled, JobError, JobLimitError
from core.training.recipes import RECIPES, Recipe, get_recipe
from core.training.store import write_json_atomic

ACTIVE = ("starting", "running")
FINISHED = ("done", "failed", "cancelled", "died", "timed out")
STOP_GRACE_S = 10.0  # a cancelled job still running this long after the request is killed

_children: dict[int, subprocess.Popen] = {}


def _job_path(key: str) -> Path:
    """The job folder of ``key`` for reading: not created (a page asking about a name leaves nothing behind)."""
    return settings.jobs_dir() / validate_key(key)


def job_dir(key: str) -> Path:
    path = _job_path(key)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class JobStatus:
    key: str
    state: str  # "none", one of ACTIVE or one of FINISHED
    phase: str = ""
    message: str = ""
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0
    pid: int | None = None
    error: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float:
        """Share of the job done, for a progress bar: setup counts as the first 5 %, training the rest."""
        if self.state == "done":
            return 1.0
        if self.total_steps > 0:
            return min(1.0, 0.05 + 0.95 * self.step / self.total_steps)
        return 0.0


def _process_matches(pid: int | None, created: float | None) -> bool:
    """Is ``pid`` alive, not a zombie, and the same process that started the job (not a reused pid)?"""
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)  # reaped: no zombie left behind
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return created is None or abs(process.create_time() - created) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _read(key: str) -> dict:
    try:
        data = json.loads((_job_path(key) / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _kill(pid: int) -> None:
    """Kill a training process and its process group (it was started in a session of its own)."""
    with contextlib.suppress(OSError, psutil.Error):
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            psutil.Process(pid).kill()
    with contextlib.suppress(OSError, psutil.Error, subprocess.TimeoutExpired):
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(timeout=10)
        else:
            psutil.Process(pid).wait(timeout=10)


def _overdue(key: str, data: dict) -> tuple[str, str] | None:
    """(state, message) when a live job must be stopped now: past the time limit, or ignoring a cancel."""
    limit = data.get("time_limit_s")  # background jobs only: a command-line run may take as long as it needs
    started = float(data.get("started_at") or time.time())
    if isinstance(limit, int) and time.time() - started > limit:
        return "timed out", (f"Stopped after {limit // 60} min {limit % 60:02d} s, the time limit of one training "
                             "job (LMLAB_JOB_TIMEOUT); nothing was saved.")  # fmt: skip
    try:
        asked = (_job_path(key) / "stop").stat().st_mtime
    except OSError:
        return None
    if time.time() - asked > STOP_GRACE_S:
        return "cancelled", f"Cancelled: the job did not stop within {STOP_GRACE_S:.0f} s and was killed; nothing was saved."
    return None


def status(key: str) -> JobStatus:
    data = _read(key)
    if not data:
        return JobStatus(key=key, state="none")
    state = data.get("state", "none")
    message = data.get("message", "")
    if state in ACTIVE and not _process_matches(data.get("pid"), data.get("pid_created")):
        state = "died"
        message = "The training process stopped unexpectedly (killed or out of memory). Start it again."
    elif state in ACTIVE and data.get("pid") != os.getpid() and (verdict := _overdue(key, data)) is not None:
        _kill(int(data["pid"]))
        state, message = verdict
        data.update({"state": state, "message": message, "error": message if state == "timed out" else "",
                     "updated_at": time.time(), "eta_s": 0})  # fmt: skip
        write_json_atomic(job_dir(key) / "progress.json", data)
    started = data.get("started_at") or time.time()
    ended = data.get("updated_at") if state in FINISHED else time.time()
    return JobStatus(
        key=key,
        state=state,
        phase=data.get("phase", ""),
        message=message,
        step=int(data.get("step") or 0),
        total_steps=int(data.get("total_steps") or 0),
        loss=data.get("loss"),
        eta_s=data.get("eta_s"),
        elapsed_s=max(0.0, float(ended or started) - float(started)),
        pid=data.get("pid"),
        error=data.get("error", ""),
    )


def progress_data(key: str) -> dict:
    """The raw progress record (with the loss curve so far), for live plots."""
    return _read(key)


def active_jobs() -> list[JobStatus]:
    found = []
    for folder in sorted(settings.jobs_dir().iterdir()):
        if folder.is_dir() and not folder.name.startswith("."):
            try:
                current = status(folder.name)
            except Exception:  # a stray folder with an odd name is not a job
                continue
            if current.active:
                found.append(current)
    return found


def _train_lock(key: str) -> FileLock:
    return FileLock(str(job_dir(key) / "train.lock"))


# A killed multi-threaded process shows as a zombie while its other threads are still being torn
# down, and its file lock is released only when the last one exits: allow it that moment.
_DEATH_GRACE_S = 15.0


def _busy_elsewhere(key: str, wait: float = 0.0) -> bool:
    lock = _train_lock(key)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        return True
    lock.release()
    return False


def _start_lock() -> FileLock:
    """One lock for every "count, then spawn" or "check, then delete": the job cap holds across processes."""
    return FileLock(str(settings.jobs_dir() / ".start.lock"), timeout=30)


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


def start(key: str, overrides: dict | None = None, recipe: Recipe | None = None,
          owner: str | None = None) -> JobStatus:  # fmt: skip
    """Start training ``key`` in a background process, or join the job already running for it.

    ``key`` is a built-in recipe, or — with ``recipe`` — a run defined on the Train page. ``owner``
    is the starting session's id (None from the command line): a session joins a built-in job
    that is already running, but never another session's run.
    """
    from core.training import ownership

    resolved = _resolve(key, overrides, recipe)  # unknown keys and bad options fail here, in the caller
    if recipe is not None and recipe.key in ownership.SHARED_RUNS and owner is not None:
        if not ownership.shared_run(recipe):
            raise JobError(f"{recipe.key!r} is the name of a model the class shares; choose another name for your run.")
        owner = None  # the class's model: nobody's own
    folder = job_dir(key)
    with _start_lock():
        if recipe is not None and ownership.name_taken(key, owner):
            raise JobError(f"The name {key!r} is taken by another run; choose another name for yours.")
        current = status(key)
        grace = _DEATH_GRACE_S if current.state == "died" else 0.0
        if current.active or _busy_elsewhere(key, wait=grace):
            return status(key)
        if recipe is not None and owner is not None:
            ownership.make_room_for_a_run(owner)
        cap = settings.limits().max_concurrent_jobs
        running = active_jobs()
        if len(running) >= cap:
            names = ", ".join(job.key for job in running)
            raise JobLimitError(
                f"{len(running)} training job(s) already running ({names}); the limit is {cap}. "
                "Wait for one to finish, or cancel it."
            )
        (folder / "stop").unlink(missing_ok=True)
        if owner is not None:
            (folder / "owner").write_text(owner, encoding="utf-8")
        elif recipe is not None:
            (folder / "owner").unlink(missing_ok=True)  # the command line's run: no session owns it
        if recipe is not None:
            write_json_atomic(folder / "recipe.json", resolved.to_json())
        command = [sys.executable, "-m", "core.train", "--model", key, "--background"]
        for name, value in (overrides or {}).items():
            command += ["--set", f"{name}={value}"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(settings.PROJECT_ROOT), env.get("PYTHONPATH", "")])
        )
        with (folder / "log.txt").open("ab") as log:
            child = subprocess.Popen(
                command,
                cwd=settings.PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Streamlit rerun or Ctrl-C in the app does not kill training
            )
        _children[child.pid] = child
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


def cancel(key: str, owner: str | None = None) -> JobStatus:
    """Ask the job for ``key`` to stop at its next step (killed after ``STOP_GRACE_S``); nothing is kept.

    A session may cancel only a job it started; the command line (``owner=None``) may cancel any.
    """
    from core.training.ownership import may_change

    if not may_change(key, owner):
        raise JobError(f"The job for {key!r} was started by another session; only that session can cancel it.")
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
        previous = _read(key)
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

    def finish(self, state: str, message: str, error: str = "") -> None:
        self.data.update({"state": state, "message": message, "error": error, "eta_s": 0})
        self.write(force=True)


def _watchdog(writer: ProgressWriter, stop_flag: Path, time_limit_s: int, done: threading.Event) -> None:
    """In a background job: end the process when it runs past its time limit or ignores a cancel.

    A training step stuck in native code never reaches the loop's stop check; this thread does not
    depend on it. The model is never half-published: publishing renames a finished folder in one step.
    """
    started = time.monotonic()
    while not done.wait(1.0):
        if time.monotonic() - started > time_limit_s:
            message = (f"Stopped after {time_limit_s // 60} min {time_limit_s % 60:02d} s, the time limit of one "
                       "training job (LMLAB_JOB_TIMEOUT); nothing was saved.")  # fmt: skip
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


def run_here(
    key: str,
    overrides: dict | None = None,
    echo: Callable[[dict], None] | None = None,
    recipe: Recipe | None = None,
    time_limit_s: int | None = None,
) -> Path | None:
    """Train ``key`` in this process (the command line, or the background child), holding its lock.

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
    lock = _train_lock(key)
    try:
        lock.acquire(timeout=_DEATH_GRACE_S if status(key).state == "died" else 0)
    except Timeout:
        other = status(key)
        raise JobError(
            f"Model {key!r} is already being trained (process {other.pid}, {other.message or other.phase}). "
            "Wait for it to finish or cancel it."
        ) from None
    stop_flag = folder / "stop"
    done = threading.Event()
    try:
        writer = ProgressWriter(key, echo=echo, time_limit_s=time_limit_s)
        if time_limit_s:
            threading.Thread(target=_watchdog, args=(writer, stop_flag, time_limit_s, done), daemon=True).start()
        try:
            from core.training.runner import train_recipe

            path = train_recipe(recipe, report=writer.update, should_stop=stop_flag.exists)
        except JobCancelled:
            writer.finish("cancelled", "Cancelled; nothing was saved.")
            raise
        except BaseException as error:  # noqa: BLE001 — record every failure, then re-raise it
            writer.finish("failed", "Training failed.", error=f"{type(error).__name__}: {error}")
            raise
        writer.finish("done", f"Saved to the model cache as {key!r}.")
        return path
    finally:
        done.set()
        stop_flag.unlink(missing_ok=True)
        lock.release()

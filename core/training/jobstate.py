"""What a training job is doing, read from its folder: the state the job runner and the run policy share.

``status(key)`` reads ``jobs/<key>/progress.json`` and checks the process behind it (a vanished process
is ``died``; one past its time limit or a cancel's grace period is killed and reported). The locks live
here too: ``train_lock(key)`` (held by the process training that key) and ``start_lock()`` (one
"count, then spawn" or "check, then delete" at a time, across processes). Cheap to import: no torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

from core import settings
from core.catalog import validate_key
from core.io import write_json_atomic
from core.messages import Message

ACTIVE = ("starting", "running")
FINISHED = ("done", "failed", "cancelled", "died", "timed out")
STOP_GRACE_S = 10.0  # a cancelled job still running this long after the request is killed

children: dict[int, subprocess.Popen] = {}


def job_path(key: str) -> Path:
    """The job folder of ``key`` for reading: not created (a page asking about a name leaves nothing behind)."""
    return settings.jobs_dir() / validate_key(key)


def job_dir(key: str) -> Path:
    path = job_path(key)
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


def process_matches(pid: int | None, created: float | None) -> bool:
    """Is ``pid`` alive, not a zombie, and the same process that started the job (not a reused pid)?"""
    if not pid:
        return False
    child = children.get(pid)
    if child is not None and child.poll() is not None:
        children.pop(pid, None)  # reaped: no zombie left behind
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return created is None or abs(process.create_time() - created) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def read_progress(key: str) -> dict:
    try:
        data = json.loads((job_path(key) / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def kill(pid: int) -> None:
    """Kill a training process and its process group (it was started in a session of its own)."""
    with contextlib.suppress(OSError, psutil.Error):
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            psutil.Process(pid).kill()
    with contextlib.suppress(OSError, psutil.Error, subprocess.TimeoutExpired):
        child = children.pop(pid, None)
        if child is not None:
            child.wait(timeout=10)
        else:
            psutil.Process(pid).wait(timeout=10)


def overdue(key: str, data: dict) -> tuple[str, str] | None:
    """(state, message) when a live job must be stopped now: past the time limit, or ignoring a cancel."""
    limit = data.get("time_limit_s")  # background jobs only: a command-line run may take as long as it needs
    started = float(data.get("started_at") or time.time())
    if isinstance(limit, int) and time.time() - started > limit:
        return "timed out", (f"Stopped after {limit // 60} min {limit % 60:02d} s, the time limit of one training "
                             "job (LMLAB_JOB_TIMEOUT; a student's run: LMLAB_SESSION_JOB_TIMEOUT); nothing was saved.")  # fmt: skip
    try:
        asked = (job_path(key) / "stop").stat().st_mtime
    except OSError:
        return None
    if time.time() - asked > STOP_GRACE_S:
        return "cancelled", f"Cancelled: the job did not stop within {STOP_GRACE_S:.0f} s and was killed; nothing was saved."
    return None


def status(key: str) -> JobStatus:
    data = read_progress(key)
    if not data:
        return JobStatus(key=key, state="none")
    state = data.get("state", "none")
    message = data.get("message", "")
    if state in ACTIVE and not process_matches(data.get("pid"), data.get("pid_created")):
        state = "died"
        message = "The training process stopped unexpectedly (killed or out of memory). Start it again."
    elif state in ACTIVE and data.get("pid") != os.getpid() and (verdict := overdue(key, data)) is not None:
        kill(int(data["pid"]))
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
        error=_error(data),
    )


def _error(data: dict) -> str:
    """The failure as recorded: its ``Message`` again where the job kept one (the page translates it), else the text
    (an exception's name and words)."""
    kept = data.get("error_message")
    if isinstance(kept, dict) and isinstance(kept.get("template"), str) and isinstance(kept.get("args"), dict):
        try:
            return Message(kept["template"], **kept["args"])
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):  # a progress file from elsewhere
            pass
    return str(data.get("error") or "")


def progress_data(key: str) -> dict:
    """The raw progress record (with the loss curve so far), for live plots."""
    return read_progress(key)


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


def train_lock(key: str) -> FileLock:
    return FileLock(str(job_dir(key) / "train.lock"))


# A killed multi-threaded process shows as a zombie while its other threads are still being torn
# down, and its file lock is released only when the last one exits: allow it that moment.
DEATH_GRACE_S = 15.0


def busy_elsewhere(key: str, wait: float = 0.0) -> bool:
    lock = train_lock(key)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        return True
    lock.release()
    return False


def start_lock() -> FileLock:
    """One lock for every "count, then spawn" or "check, then delete": the job cap holds across processes."""
    return FileLock(str(settings.jobs_dir() / ".start.lock"), timeout=30)

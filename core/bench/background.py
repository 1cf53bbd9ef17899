"""Benchmarks started from the app run in their own process (``python -m core.bench``) and report
through a progress file, like training jobs; the page only polls that file."""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
from filelock import FileLock

from core import settings
from core.errors import CoreError, JobLimitError
from core.io import spawn_module, write_json_atomic
from core.messages import Message

_children: dict[str, subprocess.Popen] = {}
_exit_codes: dict[str, int] = {}  # this process's children that have exited and been reaped
MAX_MODELS = 6  # rows of one benchmark started from the app (each scores the whole held-out set)


def _folder():
    folder = settings.cache_home() / "bench" / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _alive(record: dict) -> bool:
    try:
        process = psutil.Process(int(record["pid"]))
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - record["created"]) < 1.0
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def running() -> list[str]:
    """Benchmark jobs alive on this machine, started by any app process (each leaves ``<job>.pid``). This process's
    children that have exited are reaped first: none is left a zombie, whoever stopped watching it."""
    for job, child in list(_children.items()):
        if child.poll() is not None:
            _exit_codes[job] = _children.pop(job).returncode
            while len(_exit_codes) > 256:  # the oldest first: a status asked that late reads the job's file alone
                del _exit_codes[next(iter(_exit_codes))]
    found = []
    for path in _folder().glob("*.pid"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and _alive(record):
            if time.time() - float(record["created"]) > settings.limits().session_job_timeout_s and _ours(record):
                _stop_overdue(path.stem, record)
                continue
            found.append(path.stem)
        else:
            path.unlink(missing_ok=True)  # finished or died: no longer counted
    return found


def _ours(record: dict) -> bool:
    """The recorded process is a benchmark LM Lab started (never kill a process that merely reused the number)."""
    try:
        return any(part.startswith("core.bench") for part in psutil.Process(int(record["pid"])).cmdline())
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _stop_overdue(job: str, record: dict) -> None:
    """A benchmark past the time limit of a job started from the app: killed (with its children) and reported."""
    limit = settings.limits().session_job_timeout_s
    _kill(job, record, f"stopped after {limit // 60} min {limit % 60:02d} s, the time limit of a benchmark started from "
                       "the app (LMLAB_SESSION_JOB_TIMEOUT)")  # fmt: skip


CANCELLED = "cancelled"


def cancel(job: str) -> bool:
    """Stop a benchmark the asking session started (the job's id is known only to it): killed with its children, its
    status then says so and nothing is saved. False when it was no longer running."""
    if not job.isalnum():
        raise CoreError(f"Unknown benchmark job {job!r}.")
    try:
        record = json.loads((_folder() / f"{job}.pid").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and _alive(record) and _ours(record) and _kill(job, record, CANCELLED)


def _kill(job: str, record: dict, message: str) -> bool:
    """Kill the job's process and its children, then record why; False if it could not be stopped (still counted,
    tried again at the next look) or had already finished (its "done" is kept)."""
    try:
        process = psutil.Process(int(record["pid"]))
        family = [*process.children(recursive=True), process]
    except psutil.Error:
        family = []
    for one in family:  # each on its own: one that exited meanwhile does not spare the others
        with contextlib.suppress(psutil.Error):
            one.kill()
    psutil.wait_procs(family, timeout=5)
    if _alive(record):
        return False
    try:  # a job that saved its run and wrote "done" just before it was killed (exiting takes a moment) stays done
        finished = json.loads((_folder() / f"{job}.json").read_text(encoding="utf-8")).get("state") == "done"
    except (OSError, ValueError, AttributeError):
        finished = False
    if not finished:
        write_json_atomic(_folder() / f"{job}.json", {"state": "failed", "fraction": 1.0, "message": message})
    (_folder() / f"{job}.pid").unlink(missing_ok=True)
    return not finished


def start(task: str, models: list[str], baseline: str | None, repeats: int) -> str:
    if len(models) > MAX_MODELS:
        raise CoreError(Message("A benchmark started here compares at most {most} models; choose fewer (the command "
                                "line has no such limit).", most=MAX_MODELS))  # fmt: skip
    arguments = ["--task", task, "--models", ",".join(models), "--repeats", str(repeats)]
    return _start("core.bench", arguments + (["--baseline", baseline] if baseline else []))


def start_attack(key: str, dataset: str, sha256: str) -> str:
    """The Robustness page's comparison (``python -m core.bench.attack``) as a benchmark job: the same limit, the
    same progress file; its result is ``result_path(job)``."""
    return _start("core.bench.attack", ["--model", key, "--dataset", dataset, "--sha256", sha256], with_out=True)


def start_bias(key: str, dataset: str, sha256: str, probes: str) -> str:
    """The Bias page's comparison (``python -m core.bench.bias_compare``) as a benchmark job, like ``start_attack``;
    ``probes`` is the page's request as JSON (passed as one argument, never through a shell)."""
    arguments = ["--model", key, "--dataset", dataset, "--sha256", sha256, "--probes", probes]
    return _start("core.bench.bias_compare", arguments, with_out=True)


def follow(job: str, progress) -> dict:
    """Polls a job started with an output file until it is done (its parsed result) or failed (a CoreError), passing
    its progress share to ``progress`` meanwhile."""
    while True:
        found = status(job)
        if found["state"] == "done":
            return json.loads(result_path(job).read_text(encoding="utf-8"))
        if found["state"] == "failed":
            raise CoreError(Message("The comparison failed: {reason}", reason=str(found.get("message", ""))[:300]))
        progress(float(found.get("fraction", 0.0)))
        time.sleep(0.5)


def result_path(job: str):
    if not job.isalnum():
        raise CoreError(f"Unknown benchmark job {job!r}.")
    return _folder() / f"{job}.out.json"


def _start(module: str, arguments: list[str], *, with_out: bool = False) -> str:
    with FileLock(str(_folder() / ".start.lock"), timeout=30):  # count, then spawn, as one step
        busy = running()
        if len(busy) >= settings.limits().max_concurrent_jobs:
            done = max(float(_progress(job).get("fraction", 0.0)) for job in busy)
            raise JobLimitError(Message("A benchmark is already running on this server ({done} % done); wait for it to "
                                        "finish. Its result joins the list of runs below, for everyone to open.",
                                        done=f"{100 * min(max(done, 0.0), 1.0):.0f}"))  # fmt: skip
        return _spawn(module, arguments, with_out)


def _spawn(module: str, arguments: list[str], with_out: bool) -> str:
    job = uuid.uuid4().hex[:12]
    arguments = [*arguments, "--progress-file", str(_folder() / f"{job}.json")]
    if with_out:
        arguments += ["--out", str(result_path(job))]
    _children[job] = spawn_module(module, *arguments, log=_folder() / f"{job}.log", detached=True)
    child = _children[job]
    record = {"pid": child.pid, "created": psutil.Process(child.pid).create_time()}
    write_json_atomic(_folder() / f"{job}.pid", record)
    return job


def _progress(job: str) -> dict:
    """A running job's progress file as it stands (empty while it starts or where the file is unreadable)."""
    try:
        found = json.loads((_folder() / f"{job}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) and isinstance(found.get("fraction", 0.0), int | float) else {}


def status(job: str) -> dict:
    if not job.isalnum():
        raise CoreError(f"Unknown benchmark job {job!r}.")
    live = running()  # stops a job past its time limit first, so its status says why
    data = _progress(job)
    if "state" not in data:
        data = {"state": "starting", "fraction": 0.0, "message": "starting"}
    if data["state"] in ("starting", "running") and job not in live:
        if job in _exit_codes:
            data = {"state": "failed", "fraction": 1.0,
                    "message": f"the benchmark process exited with code {_exit_codes[job]}"}  # fmt: skip
        elif job not in _children:  # started by another app process, now gone
            data = {"state": "failed", "fraction": 1.0, "message": "the benchmark process is no longer running"}
    return data


def child_main(argv: list[str] | None, module: str, doc: str, names: tuple[str, ...], message: str,
               work: Callable[[argparse.Namespace, Callable[[float], None]], dict]) -> int:  # fmt: skip
    """The child side of a comparison started with ``_start(..., with_out=True)``: ``python -m <module>`` with the
    required ``names`` (and ``--sha256``, ``--out``, ``--progress-file``); ``work(args, report)`` runs with its
    progress written for the page, its JSON result goes to ``--out``, and a failure is written as the job's message.
    Returns the exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.split("\n\n")[0])
    for name in (*names, "--out", "--progress-file"):
        parser.add_argument(name, required=True)
    parser.add_argument("--sha256")
    args = parser.parse_args(argv)
    progress = Path(args.progress_file)

    def report(fraction: float) -> None:
        write_json_atomic(progress, {"state": "running", "fraction": fraction, "message": message})

    try:
        found = work(args, report)
    except (CoreError, ValueError, KeyError, TypeError) as error:  # a bad request too: said, not a traceback
        write_json_atomic(progress, {"state": "failed", "fraction": 1.0, "message": str(error)[:300]})
        return 2
    write_json_atomic(Path(args.out), found)
    write_json_atomic(progress, {"state": "done", "fraction": 1.0, "message": "done"})
    return 0


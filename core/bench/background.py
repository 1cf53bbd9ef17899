"""Benchmarks started from the app run in their own process (``python -m core.bench``) and report
through a progress file, like training jobs; the page only polls that file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from core import settings
from core.errors import CoreError, JobLimitError

_children: dict[str, subprocess.Popen] = {}


def _folder():
    folder = settings.cache_home() / "bench" / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start(task: str, models: list[str], baseline: str | None, repeats: int) -> str:
    running = [job for job, child in _children.items() if child.poll() is None]
    if len(running) >= settings.limits().max_concurrent_jobs:
        raise JobLimitError("A benchmark is already running on this server; wait for it to finish.")
    job = uuid.uuid4().hex[:12]
    progress = _folder() / f"{job}.json"
    command = [sys.executable, "-m", "core.bench", "--task", task, "--models", ",".join(models),
               "--repeats", str(repeats), "--progress-file", str(progress)]  # fmt: skip
    if baseline:
        command += ["--baseline", baseline]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(settings.PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    with (_folder() / f"{job}.log").open("wb") as log:
        _children[job] = subprocess.Popen(command, cwd=settings.PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    return job


def status(job: str) -> dict:
    if not job.isalnum():
        raise CoreError(f"Unknown benchmark job {job!r}.")
    try:
        data = json.loads((_folder() / f"{job}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {"state": "starting", "fraction": 0.0, "message": "starting"}
    child = _children.get(job)
    if data["state"] in ("starting", "running") and child is not None and child.poll() is not None:
        data = {
            "state": "failed",
            "fraction": 1.0,
            "message": f"the benchmark process exited with code {child.returncode}",
        }
    return data

"""What a semester of classes leaves in the cache, cleaned: run once when a server process starts.

Training publishes through hidden ``.tmp-*`` folders and replaces models through ``.trash-*`` ones;
JSON files are written through hidden ``.*.tmp`` files; benchmark jobs leave progress, log and pid
files. A process killed at the wrong moment leaves these behind. ``sweep`` removes them: a model
build whose process is dead and that is over an hour old, every ``.trash-*`` folder (each is already
out of use when it gets its name), temporary files over an hour old, records of finished jobs
and benchmarks a week old, and job folders of runs that never started. The caps on what is kept (runs, uploads, results) are enforced where each is
written (``core.training.jobs``, ``core.data.uploads``, ``core.bench.run``).
"""

from __future__ import annotations

import shutil

import psutil

from core import settings
from core.io import age as _age

STALE_S = 3600.0  # a temporary file untouched for an hour belongs to no running writer
OLD_JOB_S = 7 * 24 * 3600.0  # the record of a finished job with no model is kept for a week


def _pid_of_temporary(name: str) -> int | None:
    """``.tmp-<key>-<pid>-<random>``: the pid of the process that is building it."""
    parts = name.rsplit("-", 2)
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return None


def sweep(now_stale_s: float = STALE_S, old_job_s: float = OLD_JOB_S) -> dict[str, int]:
    """Remove leftovers by age (and, for model builds, by a dead building process); returns counts by kind."""
    from core.catalog import read_metadata
    from core.training import jobs, ownership

    removed = {"temporary models": 0, "temporary files": 0, "job records": 0, "benchmark files": 0,
               "model exports": 0}  # fmt: skip
    models = settings.models_dir()
    for leftover in models.iterdir():
        if leftover.name.startswith(".trash-") or (
            leftover.name.startswith(".tmp-")
            and not psutil.pid_exists(_pid_of_temporary(leftover.name) or -1)
            and _age(leftover) > now_stale_s
        ):
            shutil.rmtree(leftover, ignore_errors=True)
            removed["temporary models"] += 1
    exports = settings.cache_home() / "onnx"
    for root in (models, settings.jobs_dir(), settings.cache_home() / "datasets", settings.cache_home() / "bench", exports):
        if not root.is_dir():
            continue
        for temporary in root.rglob(".*.tmp"):
            if _age(temporary) > now_stale_s:
                temporary.unlink(missing_ok=True)
                removed["temporary files"] += 1
    removed["model exports"] = _sweep_exports(exports)
    for folder in settings.jobs_dir().iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            state = jobs.status(folder.name).state
        except Exception:  # a stray folder with a name that is no key
            continue
        if state in ("starting", "running") or read_metadata(folder.name) is not None or ownership.pinned(folder.name):
            continue
        progress = folder / "progress.json"
        finished_long_ago = progress.exists() and _age(progress) > old_job_s and _age(folder) > old_job_s
        never_started = not progress.exists() and _age(folder) > now_stale_s  # e.g. a name only asked about
        if finished_long_ago or never_started:
            shutil.rmtree(folder, ignore_errors=True)
            removed["job records"] += 1
    bench_jobs = settings.cache_home() / "bench" / "jobs"
    if bench_jobs.is_dir():
        from core.bench import background

        alive = set(background.running())
        for path in bench_jobs.iterdir():
            if path.is_file() and not path.name.startswith(".") and path.stem not in alive and _age(path) > old_job_s:
                path.unlink(missing_ok=True)
                removed["benchmark files"] += 1
    return removed


def _sweep_exports(exports) -> int:
    """ONNX exports of models that are gone (deleted while an export was being written, or by hand)."""
    from core.catalog import STATIC_SPECS, read_metadata, validate_key
    from core.errors import CoreError
    from core.tasks.onnx_runtime import forget

    if not exports.is_dir():
        return 0
    packaged = {spec.key for spec in STATIC_SPECS if not spec.trained_here}
    removed = 0
    for folder in exports.iterdir():
        try:
            key = validate_key(folder.name)
        except CoreError:
            continue
        if folder.is_dir() and key not in packaged and read_metadata(key) is None and forget(key):
            removed += 1
    return removed

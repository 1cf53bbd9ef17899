"""Who may do what with a run on a shared server, and how many runs the cache keeps.

A run started for a session records that session's opaque owner id (``jobs/<key>/owner``); only that
session, or the command line (``owner=None``), may cancel it, overwrite its model or delete it. Built-in
names are reserved for their recipes. The cache keeps at most ``LMLAB_MAX_RUNS`` runs trained for
sessions and ``RUNS_PER_SESSION`` per session, the oldest idle ones dropped first; built-in runs, runs
from the command line and pinned runs never are.
"""

from __future__ import annotations

from core import settings
from core.catalog import validate_key
from core.errors import JobError, JobLimitError
from core.messages import Message
from core.training.jobstate import busy_elsewhere, job_dir, job_path, start_lock, status
from core.training.recipes import RECIPES, Recipe

# Runs the whole class shares that are not in RECIPES (the CoNLL-2012 SRL model, started from the
# Train page when online): sessions may start only the real recipe under this name, and nobody owns it.
SHARED_RUNS = ("srl-conll",)


def builtin(key: str) -> bool:
    """A name reserved for LM Lab's own models (a recipe, a catalog entry or a shared run)."""
    from core.catalog import STATIC_SPECS

    return key in RECIPES or key in SHARED_RUNS or key in {spec.key for spec in STATIC_SPECS}


def shared_run(recipe: Recipe) -> bool:
    from core.training.recipes import conll_srl_recipe

    return recipe.key in SHARED_RUNS and recipe == conll_srl_recipe(examples=recipe.examples, key=recipe.key)


def custom_recipe(recipe: Recipe) -> Recipe:
    """Check a run defined on the Train page or the command line: a fresh name, valid options."""
    validate_key(recipe.key)
    from core.training.curve import own_run, reserved

    if (builtin(recipe.key) and recipe.key not in SHARED_RUNS) or (reserved(recipe.key) and not own_run(recipe)):
        raise JobError(Message("{name} is the name of a built-in model; choose another name for your run.",
                               name=repr(recipe.key)))
    return recipe.validated()


# -- ownership ---------------------------------------------------------------------------------------------


def owner_of(key: str) -> str | None:
    """The owner id recorded for ``key``'s run, or None (built-in, started from the command line, or none)."""
    try:
        return (job_path(key) / "owner").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def runs_of(owner: str) -> list[str]:
    """The runs (queued, running or finished) whose recorded owner is ``owner``."""
    folder = settings.jobs_dir()
    if not owner or not folder.is_dir():
        return []
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith(".") and owner_of(path.name) == owner)


def may_change(key: str, owner: str | None) -> bool:
    """May ``owner`` cancel, overwrite or delete ``key``'s run? The command line (None) always may."""
    return owner is None or owner_of(key) == owner


def name_taken(key: str, owner: str | None) -> bool:
    """A session's new run may not reuse a name another session (or the command line) already holds."""
    from core.catalog import read_metadata

    if owner is None or owner_of(key) == owner:
        return False
    return read_metadata(key) is not None or (job_path(key) / "recipe.json").is_file()


def pinned(key: str) -> bool:
    """Pinned runs (``python -m core.train --pin KEY``) are never dropped by the cache quota."""
    return (job_path(key) / "pinned").is_file()


def set_pinned(key: str, value: bool) -> None:
    marker = job_dir(key) / "pinned"
    if value:
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def delete_run(key: str, owner: str | None) -> None:
    """Delete a run trained here (its model and its job folder); built-in models are never deleted."""
    import shutil

    from core.training import store

    validate_key(key)
    if builtin(key):
        raise JobError(Message("{name} is a built-in model; it cannot be deleted from here.", name=repr(key)))
    if not may_change(key, owner):
        raise JobError(Message("The run {key} belongs to another session; only that session can delete it.", key=repr(key)))
    with start_lock():
        if status(key).active or busy_elsewhere(key):
            raise JobError(Message("The run {key} is still training; cancel it first.", key=repr(key)))
        store.delete(key)
        shutil.rmtree(job_dir(key), ignore_errors=True)


def session_runs() -> list[tuple[float, str]]:
    """(created, key) of every droppable run: trained for a session, not built-in, not pinned, oldest first."""
    from core.catalog import read_metadata

    found = []
    for folder in settings.models_dir().iterdir():
        key = folder.name
        if key.startswith(".") or builtin(key) or owner_of(key) is None or pinned(key):
            continue
        meta = read_metadata(key)
        if meta is None:
            continue
        created = (folder / "metadata.json").stat().st_mtime
        found.append((created, key))
    return sorted(found)


def delete_session_runs() -> tuple[list[str], list[str]]:
    """The teacher's clean-up after a lesson (``python -m core.train --delete-session-runs``): every run trained for a
    session that is not training now and not pinned, deleted. Built-in models and runs from the command line stay.
    (deleted, kept because they are training) keys."""
    deleted, training = [], []
    for _created, key in session_runs():
        try:
            delete_run(key, owner=None)
        except JobError:  # training now
            training.append(key)
            continue
        deleted.append(key)
    return deleted, training


RUNS_PER_SESSION = 3  # a session's fourth run replaces its own oldest: one tab cannot push out the class's runs
STALE_RUN_S = 4 * 3600  # another session's run older than this (an earlier lesson's) may make room for a new one


def make_room_for_a_run(owner: str) -> None:
    """Keep the stored session runs under ``LMLAB_MAX_RUNS`` and each session's under ``RUNS_PER_SESSION``: the
    session's own oldest idle runs go first, then idle runs of other sessions older than ``STALE_RUN_S``. A run
    another student made in this lesson is never dropped to make room: the new run is refused instead."""
    import time

    from core.training import store

    runs = session_runs()
    own = [key for _, key in runs if owner_of(key) == owner and not status(key).active]
    over_own = own[: max(0, len(own) - RUNS_PER_SESSION + 1)]
    cap = settings.limits().max_runs
    stale = time.time() - STALE_RUN_S
    droppable = [key for created, key in runs if key not in over_own and not status(key).active
                 and (owner_of(key) == owner or created < stale)]  # fmt: skip
    droppable.sort(key=lambda key: owner_of(key) != owner)  # the session's own first, each group oldest first
    needed = max(0, len(runs) - len(over_own) - cap + 1)
    if needed > len(droppable):  # decided before anything is deleted: a refused start drops nothing
        raise JobLimitError(Message("The cache holds {total} runs of the class, its limit (LMLAB_MAX_RUNS={cap}), and "
                                    "too few of them are yours or from an earlier lesson to make room; the teacher "
                                    "can delete runs (python -m core.train --delete KEY; after the lesson, all of "
                                    "them: --delete-session-runs) or raise the limit.", total=len(runs), cap=cap))
    for key in [*over_own, *droppable[:needed]]:
        store.delete(key)

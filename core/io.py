"""Files and processes, the same way everywhere: atomic JSON, capped folders, child Python modules."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Collection
from pathlib import Path

from core import settings


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON so a reader sees either the old file or the complete new one, never half."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def write_text_atomic(path: Path, text: str) -> None:
    """Write text so a reader sees either the old file or the complete new one, never half."""
    temporary = temporary_name(path)
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def temporary_name(path: Path) -> Path:
    """A hidden name next to ``path`` to build it under (the start-up sweep removes old ones: ``.*.tmp``)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def age(path: Path) -> float:
    """Seconds since ``path`` was last modified (0 when it is gone)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def keep_newest(folder: Path, pattern: str, cap: int, keep: str, protected: Collection[str] = (),
                hard_cap: int | None = None) -> None:  # fmt: skip
    """At most ``cap`` files matching ``pattern`` in ``folder``: the least recently touched go first, never ``keep``.
    Files named in ``protected`` (by stem) go only when more than ``hard_cap`` files are left (never, without one)."""
    files = sorted(folder.glob(pattern), key=age, reverse=True)  # oldest first
    for limit, removable in ((cap, lambda stem: stem not in protected),
                             (hard_cap, lambda stem: True)):  # fmt: skip
        if limit is None:
            continue
        excess = len(files) - limit
        for path in list(files):
            if excess <= 0:
                break
            if path.stem != keep and removable(path.stem):
                path.unlink(missing_ok=True)
                files.remove(path)
                excess -= 1


def spawn_module(module: str, *args: str, log: Path | None = None, detached: bool = False,
                 append: bool = False, extra_env: dict[str, str] | None = None) -> subprocess.Popen:  # fmt: skip
    """``python -m module args…`` from the project root, with the project importable.

    With ``log`` the child's output goes there (appended with ``append``), else to pipes the caller reads.
    ``detached`` starts a new session: a Streamlit rerun or Ctrl-C in the app does not stop the child.
    ``extra_env`` is set in the child's environment only (this process keeps its own).
    """
    env = dict(os.environ)
    if env.pop(settings.SERVER_SET_OMP, None):  # the server's one-thread setting, not the child's: training uses every core
        env.pop("OMP_NUM_THREADS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(settings.PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra_env or {})
    command = [sys.executable, "-m", module, *args]
    with log.open("ab" if append else "wb") if log is not None else contextlib.nullcontext() as handle:
        output = ({"stdout": handle, "stderr": subprocess.STDOUT} if log is not None
                  else {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True})  # fmt: skip
        return subprocess.Popen(command, cwd=settings.PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL,
                                start_new_session=detached, **output)  # fmt: skip

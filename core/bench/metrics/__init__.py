"""LM Lab's evaluate metric modules, each a folder holding ``<name>.py``, loaded by path.

``evaluate.load`` executes the module it loads, so only folders inside this package are
ever passed to it; a metric name is checked against the folders that exist here.
"""

from __future__ import annotations

import functools
from pathlib import Path

from core.errors import CoreError

METRICS_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())


@functools.cache
def load(name: str):
    """An ``evaluate.EvaluationModule`` for one of LM Lab's metrics, offline."""
    if name not in available():
        raise CoreError(f"Unknown metric {name!r}; choose one of {available()}.")
    import evaluate

    return evaluate.load(str(METRICS_DIR / name))

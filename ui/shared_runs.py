"""Long measurements shared by the class: one background thread per (kind, model version), whoever clicked first.

A student who clicks away cannot lose the run, a second student who asks for the same one waits on it instead of
starting it again, and no page's rerun waits on another's. Each run's state is a dict: its progress share, then its
result or the error to show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

import streamlit as st

from core.errors import CoreError
from core.messages import Message

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def _runs() -> tuple[dict, threading.Lock]:
    return {}, threading.Lock()


def _work(job: Callable[[Callable[[float], None]], object], state: dict) -> None:
    try:
        state["result"] = job(lambda share: state.__setitem__("share", share))
    except CoreError as error:
        state["error"] = error
    except Exception:  # never leave a page waiting on a thread that died
        log.exception("A shared run failed")
        state["error"] = CoreError(Message("The measurement failed; the server log says why. Try again."))


def state(key: Hashable) -> dict | None:
    """The run for ``key`` (a finished one, one under way, or None)."""
    return _runs()[0].get(key)


def start(key: Hashable, job: Callable[[Callable[[float], None]], object]) -> dict:
    """Start ``job(progress)`` for ``key`` unless it runs or ran already (a failed run is started again)."""
    runs, lock = _runs()
    with lock:
        if key not in runs or "error" in runs[key]:
            runs[key] = {"share": 0.0}
            threading.Thread(target=_work, args=(job, runs[key]), daemon=True).start()
        return runs[key]


def wait(run: dict, text: str) -> None:
    """A progress bar until ``run`` has its result or error."""
    if "result" in run or "error" in run:
        return
    bar = st.progress(0.0, text=text)
    while "result" not in run and "error" not in run:  # the thread works on if this page goes away
        bar.progress(min(1.0, float(run["share"])), text=text)
        time.sleep(0.3)
    bar.empty()

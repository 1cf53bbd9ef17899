"""Long measurements shared by the class: one background thread per (kind, model version), whoever clicked first.

A student who clicks away cannot lose the run, a second student who asks for the same one waits on it instead of
starting it again, and no page's rerun waits on another's. At most ``AT_ONCE`` runs work at the same time (the
others queue, and say so); a run that stops reporting progress for ``STALLED_S`` seconds is shown as failed, and a
failed one can be started again once its thread has stopped (a stalled thread that still works is never doubled or
forgotten, still counts against its session's share, and its result, if it comes, replaces the failure). Each run's state is a dict: its progress share, then its result or the error to
show (without its traceback, which would keep the run's model alive).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

import streamlit as st

from core.errors import CoreError
from core.messages import Message
from ui import safe
from ui.i18n import _

log = logging.getLogger(__name__)
AT_ONCE = 2  # runs working at the same time; each holds a model and many forward passes
QUEUED = 6  # runs waiting for a slot; more are refused (many tabs must not line up hours of work for the class)
PER_SESSION = 2  # long runs one session may have queued or working at once (two tabs, say), and quick ones beside them
KEPT = 32  # finished runs kept for the class (the oldest go first)
LIGHT = "light"  # in a run's key: a quick measurement (a hand-picked ablation), forgotten before long ones
STALLED_S = 600.0


@st.cache_resource(show_spinner=False)
def _runs() -> tuple[dict, threading.Lock, threading.Semaphore]:
    return {}, threading.Lock(), threading.Semaphore(AT_ONCE)


def _fail(state: dict, error: CoreError) -> None:
    error.__traceback__ = error.__cause__ = error.__context__ = None  # frames would keep the model in memory
    state["error"] = error


def _work(job: Callable[[Callable[[float], None]], object], state: dict, slots: threading.Semaphore) -> None:
    try:
        with slots:  # queued until one of the AT_ONCE slots is free
            state["started"] = state["updated"] = time.monotonic()
            state["result"] = job(lambda share: state.update(share=share, updated=time.monotonic()))
            state.pop("error", None)  # a run shown as stalled that finished after all: its result stands
    except CoreError as error:
        _fail(state, error)
    except BaseException:  # never leave a page waiting on a thread that died
        log.exception("A shared run failed")
        _fail(state, CoreError(Message("The measurement failed; the server log says why. Try again.")))


def state(key: Hashable) -> dict | None:
    """The run for ``key`` (a finished one, one under way, or None)."""
    return _runs()[0].get(key)


def _forget_old(runs: dict) -> None:
    """Past ``KEPT``, the oldest finished runs go — quick ones (keys marked ``LIGHT``) before long sweeps."""
    finished = [key for key, run in runs.items() if not _busy(run)]  # a stalled run whose thread works is kept
    finished.sort(key=lambda key: not (isinstance(key, tuple) and LIGHT in key))  # stable: oldest first in each
    for key in finished[: max(0, len(runs) - KEPT)]:  # insertion order: the oldest first
        del runs[key]


def _alive(run: dict) -> bool:
    """The run's thread still works (given half a second to finish: a failed job's thread ends right after)."""
    thread = run.get("thread")
    if thread is not None and thread.is_alive():
        thread.join(0.5)
    return thread is not None and thread.is_alive()


def _busy(run: dict) -> bool:
    """Queued or working: no result or error yet, or shown as stalled while its thread still works (it still holds
    its slot, so it still counts against its session's share and is not forgotten)."""
    if "result" not in run and "error" not in run:
        return True
    thread = run.get("thread")
    return "error" in run and "result" not in run and thread is not None and thread.is_alive()


def _refused(error: CoreError) -> dict:
    """A run refused now and not kept: the same button works again once the line is shorter."""
    refused: dict = {"share": 0.0}
    _fail(refused, error)
    return refused


def start(key: Hashable, job: Callable[[Callable[[float], None]], object], owner: str | None = None) -> dict:
    """Start ``job(progress)`` for ``key`` unless it runs or ran already (a failed run is started again, once its
    thread has stopped). A new run is ``owner``'s (this session's by default): a session with ``PER_SESSION`` runs
    queued or working is refused another, whoever's run it would join is not."""
    from ui.runtime import session_owner

    owner = owner or session_owner()
    runs, lock, slots = _runs()
    with lock:
        if key not in runs or ("error" in runs[key] and not _alive(runs[key])):
            _forget_old(runs)
            unfinished = [run for run in runs.values() if _busy(run)]
            waiting = sum(1 for run in unfinished if "started" not in run)
            if waiting >= QUEUED:
                return _refused(CoreError(Message("{count} measurements are waiting for the server already; try "
                                                  "again in a minute.", count=waiting)))  # fmt: skip
            light = isinstance(key, tuple) and LIGHT in key  # quick checks have a cap of their own beside sweeps
            mine = sum(1 for run in unfinished if run.get("owner") == owner and run.get("light") == light)
            if mine >= PER_SESSION:
                return _refused(CoreError(Message("You have {count} measurements under way already; start another "
                                                  "once one of them has finished.", count=mine)))  # fmt: skip
            runs[key] = {"share": 0.0, "queued": time.monotonic(), "owner": owner, "light": light}
            try:
                runs[key]["thread"] = threading.Thread(target=_work, args=(job, runs[key], slots), daemon=True)
                runs[key]["thread"].start()
            except RuntimeError:  # no thread could be started: say so instead of waiting for ever
                _fail(runs[key], CoreError(Message("The server is too busy to start this now. Try again.")))
        return runs[key]


def wait(run: dict, text: str) -> None:
    """A progress bar until ``run`` has its result or error; a run that stopped reporting progress is failed."""
    if "result" in run or "error" in run:
        return
    bar = st.progress(0.0, text=text)
    while "result" not in run and "error" not in run:  # the thread works on if this page goes away
        if "started" not in run:
            bar.progress(0.0, text=text + " " + _waiting())
        else:
            bar.progress(min(1.0, float(run["share"])), text=text)
            if time.monotonic() - run["updated"] > STALLED_S:
                _fail(run, CoreError(Message("The measurement has reported no progress for {minutes} minutes. It goes "
                                             "on in the background (its result shows here if it finishes) and can "
                                             "be started again once it has stopped.",
                                             minutes=int(STALLED_S // 60))))  # fmt: skip
        time.sleep(0.3)
    bar.empty()


def on_request(key: Hashable, label: str, button: str, job: Callable[[Callable[[float], None]], object], waiting: str,
               allowed: Callable[[], bool] = lambda: True):  # fmt: skip
    """The run for ``key`` behind a button: while none has run (or the last one failed, its error shown meanwhile),
    pressing ``label`` starts ``job`` unless ``allowed()`` says no (it says why itself); then its result, waited on
    with a bar reading ``waiting``, or None."""
    run = state(key)
    if run is None or "error" in run:
        if not st.button(label, key=button):
            if run is not None:
                safe.error(run["error"])
            return None
        if not allowed():
            return None
        run = start(key, job)
    return result(run, waiting)


def one_at_a_time(slot: str, key: Hashable, busy: str) -> Callable[[], bool]:
    """An ``allowed`` for ``on_request``: a session starts a new run in ``slot`` only once its previous one there has
    finished (it says ``busy`` otherwise), so one student cannot fill the class's queue of long measurements."""

    def allowed() -> bool:
        earlier = state(st.session_state.get(slot))
        if earlier is not None and "result" not in earlier and "error" not in earlier:
            st.info(busy)
            return False
        st.session_state[slot] = key
        return True

    return allowed


def result(run: dict, text: str):
    """``run``'s result once it has one (a progress bar meanwhile), or None when it failed, the error shown."""
    wait(run, text)
    if "error" in run:
        safe.error(run["error"])
        return None
    return run["result"]


def _waiting() -> str:
    return _("(waiting for another measurement to finish; at most {count} run at once)", count=AT_ONCE)

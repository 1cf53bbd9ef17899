"""Shared background runs: one per key, a dead or failing job never leaves a page waiting, errors free the model."""

from __future__ import annotations

import threading
import time
import weakref

import pytest

from core.errors import CoreError

pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")


def _finished(run: dict, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while "result" not in run and "error" not in run:
        assert time.monotonic() < deadline, run
        time.sleep(0.01)
    return run


def test_one_run_per_key_with_its_progress_and_result():
    from ui import shared_runs

    gate = threading.Event()

    def job(progress):
        progress(0.5)
        gate.wait(5)
        return 42

    first = shared_runs.start("k", job)
    assert shared_runs.start("k", lambda progress: 0) is first  # a second click joins the run under way
    gate.set()
    assert _finished(first)["result"] == 42 and first["share"] == 0.5
    assert shared_runs.state("k") is first and shared_runs.start("k", lambda progress: 0) is first  # not rerun


def test_a_dying_job_ends_in_an_error_and_a_failed_run_can_start_again():
    from ui import shared_runs

    def dies(progress):
        raise SystemExit(3)

    assert isinstance(_finished(shared_runs.start("dead", dies))["error"], CoreError)
    assert _finished(shared_runs.start("dead", lambda progress: "again"))["result"] == "again"


def test_a_failed_run_does_not_keep_its_model_alive():
    from ui import shared_runs

    class Model:
        pass

    model = Model()
    alive = weakref.ref(model)

    def fails(progress, held=model):
        raise CoreError("no")

    run = _finished(shared_runs.start("fails", fails))
    del model, fails
    assert isinstance(run["error"], CoreError) and run["error"].__traceback__ is None
    import gc

    gc.collect()
    assert alive() is None


def test_a_thread_that_cannot_start_is_an_error_not_a_wait(monkeypatch):
    from ui import shared_runs

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert isinstance(shared_runs.start("no-thread", lambda progress: 1)["error"], CoreError)


def test_a_stalled_run_is_never_doubled_and_its_late_result_replaces_the_failure():
    from ui import shared_runs

    gate, calls = threading.Event(), []

    def slow(progress):
        calls.append(1)
        gate.wait(10)
        return "late"

    run = shared_runs.start("slow", slow)
    shared_runs._fail(run, CoreError("stalled"))  # what wait() does after STALLED_S without progress
    assert shared_runs.start("slow", slow) is run and len(calls) == 1  # a second click starts no second copy
    gate.set()
    deadline = time.monotonic() + 10
    while "error" in run:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert run["result"] == "late" and shared_runs.start("slow", slow) is run and len(calls) == 1


def test_a_run_shown_as_stalled_still_counts_against_its_session_while_it_works():
    """A stalled run's thread still holds its slot: its session cannot start more runs past ``PER_SESSION`` by letting
    one stall, and once the thread ends the share is free again."""
    from ui import shared_runs

    gate = threading.Event()
    mine = [shared_runs.start(("stuck", n), lambda progress: gate.wait(10), owner="a") for n in range(shared_runs.PER_SESSION)]
    shared_runs._fail(mine[0], CoreError("stalled"))  # what wait() does after STALLED_S without progress
    refused = shared_runs.start(("stuck", "more"), lambda progress: "more", owner="a")
    assert "thread" not in refused and "under way already" in str(refused["error"])
    gate.set()
    for run in mine:
        run["thread"].join(10)
    assert _finished(shared_runs.start(("stuck", "more"), lambda progress: "more", owner="a"))["result"] == "more"


def test_a_long_line_of_waiting_runs_refuses_more_and_takes_them_again_once_it_moves(monkeypatch):
    """Many tabs cannot line up hours of work: past ``QUEUED`` waiting runs, a new one is refused at once (no thread),
    and the same key can be asked again once the line is shorter."""
    from ui import shared_runs

    monkeypatch.setattr(shared_runs, "AT_ONCE", 1)
    shared_runs._runs.clear()  # a fresh registry with one slot
    gate = threading.Event()
    busy = shared_runs.start("busy", lambda progress: gate.wait(10))
    deadline = time.monotonic() + 5
    while "started" not in busy:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    waiting = [shared_runs.start(("w", n), lambda progress, n=n: n, owner=f"student {n}")
               for n in range(shared_runs.QUEUED)]  # fmt: skip
    refused = shared_runs.start("one more", lambda progress: "late", owner="another student")
    assert "thread" not in refused and "measurements are waiting" in str(refused["error"])
    gate.set()
    assert [_finished(run)["result"] for run in waiting] == list(range(shared_runs.QUEUED))
    assert _finished(shared_runs.start("one more", lambda progress: "late"))["result"] == "late"


def test_one_session_cannot_fill_the_class_line_with_runs_of_its_own():
    """However many buttons (models, modes, head sets) one session presses, it has at most ``PER_SESSION`` runs
    queued or working; it may still join a run someone else started, and start again once one has finished."""
    from ui import shared_runs

    gate = threading.Event()
    mine = [shared_runs.start(("mine", n), lambda progress: gate.wait(10), owner="a") for n in range(shared_runs.PER_SESSION)]
    refused = shared_runs.start(("mine", "more"), lambda progress: "more", owner="a")
    assert "thread" not in refused and "under way already" in str(refused["error"])
    quick = shared_runs.start(("mine", "check", shared_runs.LIGHT), lambda progress: "quick", owner="a")
    assert "error" not in quick  # a quick check has its own cap beside the long runs
    theirs = shared_runs.start("theirs", lambda progress: gate.wait(10), owner="b")  # another student is not held up
    assert "error" not in theirs and shared_runs.start("theirs", lambda progress: 0, owner="a") is theirs  # joined
    gate.set()
    for run in (*mine, quick, theirs):
        _finished(run)
    assert _finished(shared_runs.start(("mine", "more"), lambda progress: "more", owner="a"))["result"] == "more"


def test_quick_hand_picked_runs_are_forgotten_before_long_sweeps():
    from ui import shared_runs

    sweep = _finished(shared_runs.start(("sweep", "model"), lambda progress: "ranked heads"))
    quick = [_finished(shared_runs.start(("parts", n, shared_runs.LIGHT), lambda progress, n=n: n))
             for n in range(shared_runs.KEPT + 3)]  # fmt: skip
    assert shared_runs.state(("sweep", "model")) is sweep  # the sweep stays; the oldest quick ones went
    assert shared_runs.state(("parts", 0, shared_runs.LIGHT)) is None and quick[-1]["result"] == shared_runs.KEPT + 2


def test_a_session_starts_its_next_long_run_only_once_its_last_has_finished():
    """One student clicking through models and modes cannot fill the class's queue of long measurements."""
    import streamlit as st

    from ui import shared_runs

    gate = threading.Event()
    st.session_state.pop("guard-slot", None)
    assert shared_runs.one_at_a_time("guard-slot", "first", "busy")()  # nothing of this session's runs yet
    first = shared_runs.start("first", lambda progress: gate.wait(5))
    assert not shared_runs.one_at_a_time("guard-slot", "second", "busy")(), "the first still runs"
    assert st.session_state["guard-slot"] == "first"
    gate.set()
    _finished(first)
    assert shared_runs.one_at_a_time("guard-slot", "second", "busy")() and st.session_state["guard-slot"] == "second"

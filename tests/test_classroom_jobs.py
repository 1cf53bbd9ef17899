"""Training and benchmark jobs on a shared server: one cap for everyone, runs that belong to a session,
time limits, cancel that always works, quotas — with real background processes."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time

import psutil
import pytest

from core import catalog, settings
from core.bench import background as bench_jobs
from core.errors import CoreError, JobError, JobLimitError
from core.training import jobs, ownership
from core.training.recipes import get_recipe

from conftest import TINY_KEY, wait_for

LONG = {"epochs": 150}


def _custom(name: str, epochs: int = 150):
    """A session's run: the tiny recipe under a new name (long enough to catch it running by default)."""
    return dataclasses.replace(get_recipe(TINY_KEY), key=name, title=name, epochs=epochs)


def _stop(key: str) -> None:
    jobs.cancel(key)
    assert jobs.wait(key, timeout=120).state in ("cancelled", "done")


def test_the_job_cap_holds_when_two_students_click_at_once(fresh_cache, monkeypatch):
    monkeypatch.setenv("LMLAB_MAX_JOBS", "1")
    for _ in range(2):
        outcomes: dict[str, object] = {}
        barrier = threading.Barrier(2)

        def click(key, outcomes=outcomes, barrier=barrier):
            barrier.wait()
            try:
                outcomes[key] = jobs.start(key, LONG)
            except JobLimitError as error:
                outcomes[key] = error

        threads = [threading.Thread(target=click, args=(key,)) for key in (TINY_KEY, "keyword-tiny")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        started = [key for key, value in outcomes.items() if not isinstance(value, Exception)]
        assert len(started) == 1, outcomes
        assert len(jobs.active_jobs()) == 1
        _stop(started[0])


def test_built_in_names_are_reserved():
    for name in ("sentiment-minilm", TINY_KEY, "minilm-l6"):
        with pytest.raises(JobError, match="built-in"):
            ownership.custom_recipe(_custom(name))


def test_a_built_in_model_belongs_to_nobody_so_no_student_cancels_the_class_job(fresh_cache):
    """Whoever pressed Train first on a built-in model owns nothing: the job everyone waits for is not theirs to stop,
    and a leftover owner file (from a session's earlier start) is cleared by the next start."""
    (jobs.job_dir(TINY_KEY) / "owner").parent.mkdir(parents=True, exist_ok=True)
    (jobs.job_dir(TINY_KEY) / "owner").write_text("mallory", encoding="utf-8")
    assert jobs.start(TINY_KEY, owner="mallory").active
    assert ownership.owner_of(TINY_KEY) is None
    with pytest.raises(JobError, match="no page can cancel it"):
        jobs.cancel(TINY_KEY, owner="mallory")
    _stop(TINY_KEY)  # the command line still may


def test_a_run_belongs_to_the_session_that_started_it(fresh_cache):
    recipe = _custom("csv-shared-name")
    first = jobs.start(recipe.key, recipe=recipe, owner="alice")
    assert first.active and ownership.owner_of(recipe.key) == "alice"
    with pytest.raises(JobError, match="taken"):  # bob does not silently join alice's run
        jobs.start(recipe.key, recipe=recipe, owner="bob")
    with pytest.raises(JobError, match="another session"):
        jobs.cancel(recipe.key, owner="bob")
    with pytest.raises(JobError, match="another session"):
        ownership.delete_run(recipe.key, owner="bob")
    with pytest.raises(JobError, match="still training"):
        ownership.delete_run(recipe.key, owner="alice")
    jobs.cancel(recipe.key, owner="alice")
    assert jobs.wait(recipe.key, timeout=120).state == "cancelled"


def test_the_owner_deletes_a_finished_run_and_nobody_else_overwrites_it(fresh_cache):
    recipe = _custom("csv-finished", epochs=1)
    jobs.start(recipe.key, recipe=recipe, owner="alice")
    assert jobs.wait(recipe.key, timeout=180).state == "done"
    assert catalog.read_metadata(recipe.key) is not None
    with pytest.raises(JobError, match="taken"):
        jobs.start(recipe.key, recipe=recipe, owner="bob")
    with pytest.raises(JobError, match="built-in"):
        ownership.delete_run("sentiment-minilm", owner=None)
    ownership.delete_run(recipe.key, owner="alice")
    assert catalog.read_metadata(recipe.key) is None
    assert recipe.key not in {spec.key for spec in catalog.all_specs()}


def test_a_cancel_the_loop_ignores_is_enforced_by_killing(fresh_cache):
    started = jobs.start(TINY_KEY, LONG)
    running = wait_for(lambda: (s := jobs.status(TINY_KEY)).step >= 1 and s)
    stop = jobs.job_dir(TINY_KEY) / "stop"
    stop.touch()  # as if the loop never looked: the request is older than the grace period
    old = time.time() - jobs.STOP_GRACE_S - 5
    os.utime(stop, (old, old))
    final = jobs.status(TINY_KEY)
    assert final.state == "cancelled" and "did not stop within" in final.message
    assert not psutil.pid_exists(started.pid) or psutil.Process(started.pid).status() == psutil.STATUS_ZOMBIE
    assert running.pid == started.pid and catalog.read_metadata(TINY_KEY) is None


def test_a_job_past_its_time_limit_is_stopped_and_reported(fresh_cache, monkeypatch):
    monkeypatch.setenv("LMLAB_JOB_TIMEOUT", "4")
    started = jobs.start(TINY_KEY, LONG)
    final = jobs.wait(TINY_KEY, timeout=120, poll=0.5)
    assert final.state == "timed out", final
    assert "time limit" in final.message and "LMLAB_JOB_TIMEOUT" in final.message
    assert 3 < final.elapsed_s < 60
    wait_for(lambda: not psutil.pid_exists(started.pid) or psutil.Process(started.pid).status() == psutil.STATUS_ZOMBIE)
    assert catalog.read_metadata(TINY_KEY) is None


def test_the_quota_drops_the_oldest_session_run(fresh_cache, monkeypatch):
    from core import io

    monkeypatch.setenv("LMLAB_MAX_RUNS", "2")

    def fake_run(key, owner, age):  # a finished run as the cache stores it
        folder = settings.models_dir() / key
        folder.mkdir(parents=True)
        io.write_json_atomic(folder / "metadata.json", {"task": "sentiment", "labels": ["neg", "pos"]})
        os.utime(folder / "metadata.json", (time.time() - age, time.time() - age))
        if owner:
            (jobs.job_dir(key) / "owner").write_text(owner)

    last_lesson = ownership.STALE_RUN_S + 300
    fake_run("oldest", "alice", last_lesson)  # an earlier lesson's run: it may make room
    fake_run("pinned-run", "bob", last_lesson + 100)
    ownership.set_pinned("pinned-run", True)
    fake_run("teachers", None, last_lesson + 200)  # from the command line: not a session's, never dropped
    fake_run("newer", "carol", 100)
    recipe = _custom("csv-new")
    jobs.start(recipe.key, recipe=recipe, owner="dave")
    try:
        keys = {spec.key for spec in catalog.trained_specs()}
        assert "oldest" not in keys and {"pinned-run", "teachers", "newer"} <= keys
    finally:
        jobs.cancel(recipe.key, owner="dave")
        jobs.wait(recipe.key, timeout=120)
    fake_run("franks", "frank", 50)  # the cache is now full of this lesson's runs (carol's and frank's)
    another = _custom("csv-erin")
    with pytest.raises(JobLimitError, match="too few of them are yours"):  # refused: nobody's recent work is dropped
        jobs.start(another.key, recipe=another, owner="erin")
    assert {"newer", "franks"} <= {spec.key for spec in catalog.trained_specs()}
    # a session's own run makes room for its next one
    jobs.start(another.key, recipe=another, owner="carol")
    try:
        assert "newer" not in {spec.key for spec in catalog.trained_specs()}
    finally:
        jobs.cancel(another.key, owner="carol")
        jobs.wait(another.key, timeout=120)


def test_a_start_refused_by_the_job_limit_drops_none_of_the_session_s_runs(fresh_cache, monkeypatch):
    from core import io

    monkeypatch.setenv("LMLAB_MAX_JOBS", "1")
    for n in range(ownership.RUNS_PER_SESSION):  # alice has as many runs as a session keeps
        folder = settings.models_dir() / f"alices-{n}"
        folder.mkdir(parents=True)
        io.write_json_atomic(folder / "metadata.json", {"task": "sentiment", "labels": ["neg", "pos"]})
        (jobs.job_dir(f"alices-{n}") / "owner").write_text("alice")
    jobs.start(TINY_KEY, LONG)  # someone else's training holds the only slot
    try:
        mine = _custom("alices-next")
        with pytest.raises(JobLimitError):
            jobs.start(mine.key, recipe=mine, owner="alice")
        assert len([key for _, key in ownership.session_runs() if key.startswith("alices-")]) == ownership.RUNS_PER_SESSION
    finally:
        _stop(TINY_KEY)


def test_benchmark_jobs_are_counted_across_processes(fresh_cache, monkeypatch):
    monkeypatch.setenv("LMLAB_MAX_JOBS", "1")
    folder = settings.cache_home() / "bench" / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    other = psutil.Process(os.getppid())  # a live process that is not this one: "another app process"
    (folder / "elsewhere.pid").write_text(json.dumps({"pid": other.pid, "created": other.create_time()}))
    assert bench_jobs.running() == ["elsewhere"]
    (folder / "elsewhere.json").write_text(json.dumps({"state": "running", "fraction": 0.4, "message": "scoring x"}))
    with pytest.raises(JobLimitError, match=r"already running on this server \(40 % done\)"):  # how far it is
        bench_jobs.start("sentiment", ["vader"], None, 1)
    (folder / "elsewhere.pid").write_text(json.dumps({"pid": 999_999_999, "created": 0}))
    assert bench_jobs.running() == []




def test_the_command_line_pins_and_deletes_any_run(fresh_cache, capsys):
    from core import io
    from core.train import main

    folder = settings.models_dir() / "students-run"
    folder.mkdir(parents=True)
    io.write_json_atomic(folder / "metadata.json", {"task": "sentiment", "labels": ["neg", "pos"]})
    (jobs.job_dir("students-run") / "owner").write_text("alice")
    assert main(["--pin", "students-run"]) == 0 and ownership.pinned("students-run")
    assert ownership.session_runs() == []  # pinned: never dropped by the quota
    assert main(["--unpin", "students-run"]) == 0 and not ownership.pinned("students-run")
    assert main(["--delete", "sentiment-minilm"]) == 2 and "built-in" in capsys.readouterr().err
    assert main(["--pin", "no-such-run"]) == 2
    assert main(["--delete", "students-run"]) == 0 and catalog.read_metadata("students-run") is None


def test_the_shared_conll_name_cannot_be_taken_by_a_session(fresh_cache):
    recipe = _custom("srl-conll")
    with pytest.raises(JobError, match="shares"):
        jobs.start(recipe.key, recipe=recipe, owner="mallory")
    with pytest.raises(JobError, match="built-in"):
        ownership.delete_run("srl-conll", owner="mallory")
    assert not (settings.jobs_dir() / "asked-about").exists()
    assert jobs.status("asked-about").state == "none" and not (settings.jobs_dir() / "asked-about").exists()
    from core import io
    from core.training.recipes import conll_srl_recipe

    (settings.models_dir() / "srl-conll").mkdir(parents=True)  # the class's model, once trained, as the cache holds it
    io.write_json_atomic(settings.models_dir() / "srl-conll" / "metadata.json", {"task": "srl", "labels": ["O"]})
    with pytest.raises(JobError, match="only the command line trains it again"):  # whatever a page's button sends
        jobs.start("srl-conll", recipe=conll_srl_recipe(), owner="mallory")


def test_a_student_s_run_is_held_to_the_memory_cap_on_one_pass_whatever_the_page_sent(fresh_cache):
    from core.training.recipes import NEW_RUN

    for sent in (0, 10**6):  # no cap, or one far above the server's
        recipe = dataclasses.replace(_custom(f"big-{sent}", epochs=1), step_tokens=sent)
        jobs.start(recipe.key, recipe=recipe, owner="mallory")
        try:
            stored = json.loads((jobs.job_dir(recipe.key) / "recipe.json").read_text(encoding="utf-8"))
            assert stored["step_tokens"] == NEW_RUN["step_tokens"] == 2048
        finally:
            _stop(recipe.key)


def test_a_session_keeps_at_most_three_runs(fresh_cache):
    from core import io

    for index, age in enumerate((400, 300, 200)):
        folder = settings.models_dir() / f"mine-{index}"
        folder.mkdir(parents=True)
        io.write_json_atomic(folder / "metadata.json", {"task": "sentiment", "labels": ["neg", "pos"]})
        os.utime(folder / "metadata.json", (time.time() - age, time.time() - age))
        (jobs.job_dir(f"mine-{index}") / "owner").write_text("mallory")
    recipe = _custom("mine-3")
    jobs.start(recipe.key, recipe=recipe, owner="mallory")
    try:
        left = {key for _, key in ownership.session_runs()}
        assert left == {"mine-1", "mine-2"}  # the oldest of hers went; the new one is still training
    finally:
        jobs.cancel(recipe.key, owner="mallory")
        jobs.wait(recipe.key, timeout=120)


def test_a_student_s_run_stops_sooner_than_the_class_s_models(fresh_cache, monkeypatch):
    from core.train import _time_limit

    (jobs.job_dir("students-run") / "owner").write_text("alice")
    assert _time_limit("students-run") == 900 and _time_limit(TINY_KEY) == 3600
    monkeypatch.setenv("LMLAB_SESSION_JOB_TIMEOUT", "60")
    assert _time_limit("students-run") == 60


def test_a_benchmark_started_from_the_app_stops_at_its_time_limit_and_says_so(fresh_cache, monkeypatch):
    monkeypatch.setenv("LMLAB_SESSION_JOB_TIMEOUT", "2")
    # MiniLM's zero-shot with 300 timed calls: many seconds of work (the child imports torch and loads MiniLM first)
    job = bench_jobs.start("sentiment", ["baseline:zero-shot", "baseline:tfidf-lr"], None, 300)
    pid = json.loads((settings.cache_home() / "bench" / "jobs" / f"{job}.pid").read_text())["pid"]
    final = wait_for(lambda: (state := bench_jobs.status(job))["state"] not in ("starting", "running") and state,
                     timeout=60, poll=0.5)  # fmt: skip
    assert final["state"] == "failed" and "stopped after 0 min 02 s" in final["message"], final
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, timeout=10)
    assert bench_jobs.running() == []


def test_a_cancel_that_comes_as_a_benchmark_finishes_leaves_it_done(fresh_cache):
    """The benchmark saves its run and writes "done", then takes a moment to exit: a kill in that moment must not
    report a run that was saved as cancelled."""
    import subprocess
    import sys

    from core import io

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"pid": child.pid, "created": psutil.Process(child.pid).create_time()}
        folder = settings.cache_home() / "bench" / "jobs"
        folder.mkdir(parents=True, exist_ok=True)
        io.write_json_atomic(folder / "abc123.pid", record)
        io.write_json_atomic(folder / "abc123.json", {"state": "done", "fraction": 1.0, "run_id": "r1"})
        assert bench_jobs._kill("abc123", record, bench_jobs.CANCELLED) is False  # stopped, but it had finished
        assert child.wait(timeout=10) is not None and bench_jobs.status("abc123")["state"] == "done"
        assert not (folder / "abc123.pid").exists()
    finally:
        child.kill()


def test_a_benchmark_started_from_the_app_compares_at_most_six_models(fresh_cache):
    with pytest.raises(CoreError, match="at most 6 models"):
        bench_jobs.start("sentiment", ["vader"] * 7, None, 20)


def test_a_student_s_run_starts_only_from_what_the_train_page_offers(fresh_cache):
    """A crafted request cannot start a built-in Chinese base or a BERT far larger than the page's sliders allow."""
    from core.training.recipe import SCRATCH_LIMITS

    asks = [dataclasses.replace(_custom("other-base"), base="zh-pieces"),
            dataclasses.replace(_custom("wide"), scratch={**SCRATCH_LIMITS, "hidden_size": 4096}),
            dataclasses.replace(_custom("odd-field"), scratch={"hidden_size": 64, "vocab_size": 10**7})]  # fmt: skip
    for recipe in asks:
        with pytest.raises(JobError, match="starts from MiniLM"):
            jobs.start(recipe.key, recipe=recipe, owner="mallory")
        assert jobs.status(recipe.key).state == "none"
    largest = dataclasses.replace(_custom("largest", epochs=1), scratch=dict(SCRATCH_LIMITS))  # the page's maximum
    jobs.start(largest.key, recipe=largest, owner="mallory")
    _stop(largest.key)


def test_the_teacher_deletes_every_idle_session_run_at_once(fresh_cache, capsys):
    """A class that filled the cache: one command frees it, keeping pinned runs, the command line's and built-ins."""
    from core import io
    from core.train import main

    runs = (("alices", "alice"), ("pinned-run", "bob"), ("teachers", None), ("carols", "carol"), ("daves", "dave"),
            (TINY_KEY, "erin"))  # fmt: skip
    for key, owner in runs:
        folder = settings.models_dir() / key
        folder.mkdir(parents=True)
        io.write_json_atomic(folder / "metadata.json", {"task": "sentiment", "labels": ["neg", "pos"]})
        if owner:
            (jobs.job_dir(key) / "owner").write_text(owner)
    ownership.set_pinned("pinned-run", True)
    me = psutil.Process()  # dave's run is training again right now (this process stands for its job)
    io.write_json_atomic(jobs.job_dir("daves") / "progress.json",
                         {"state": "running", "pid": me.pid, "pid_created": me.create_time()})  # fmt: skip
    assert main(["--delete-session-runs"]) == 0
    printed = capsys.readouterr().out
    assert "deleted 2 session run(s): " in printed and "kept 1 training now: daves" in printed
    kept = {path.name for path in settings.models_dir().iterdir()}
    assert {"pinned-run", "teachers", "daves", TINY_KEY} <= kept and not {"alices", "carols"} & kept
    assert not (settings.jobs_dir() / "alices").exists()  # its job record too

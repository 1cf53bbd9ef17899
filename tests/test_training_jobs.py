"""Background jobs for real: atomic cache entries, killed jobs, shared jobs, cancel, the cap, the CLI."""

import json
import os
import signal
import subprocess
import sys
import threading

import psutil
import pytest

from core import catalog, settings
from core.errors import JobLimitError
from core.loading import sha256_of
from core.training import jobs

from conftest import ROOT, TINY_KEY, wait_for

LONG = {"epochs": 150}  # long enough to catch the job mid-way; the tests stop it themselves


def _visible_entries():
    return [p.name for p in settings.models_dir().iterdir() if not p.name.startswith(".")]


def test_cache_entry_appears_atomically(fresh_cache):
    seen_during_training = []

    def echo(progress):
        if progress.get("phase") in ("training", "saving"):
            seen_during_training.append(list(_visible_entries()))

    path = jobs.run_here(TINY_KEY, {"epochs": 1}, echo=echo)
    assert seen_during_training and all(entries == [] for entries in seen_during_training)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["sha256"] == sha256_of(path / "model.safetensors")
    assert meta["data"]["test_size"] == 50 and meta["hyperparameters"]["epochs"] == 1
    for field in ("versions", "seed", "train_seconds", "metrics", "created_at", "device"):
        assert field in meta
    assert _visible_entries() == [TINY_KEY]
    assert not [p for p in settings.models_dir().iterdir() if p.name.startswith(".tmp-")]
    assert jobs.status(TINY_KEY).state == "done"


def test_killed_job_leaves_nothing_loadable(fresh_cache):
    started = jobs.start(TINY_KEY, LONG)
    wait_for(lambda: jobs.status(TINY_KEY).step >= 2)
    os.kill(started.pid, signal.SIGKILL)
    died = wait_for(lambda: (s := jobs.status(TINY_KEY)).state == "died" and s)
    assert "stopped unexpectedly" in died.message
    assert catalog.read_metadata(TINY_KEY) is None
    assert not catalog.availability(catalog.get_spec(TINY_KEY)).ready
    assert _visible_entries() == []
    leftovers = [p for p in settings.models_dir().iterdir() if p.name.startswith(".tmp-")]
    assert leftovers, "the killed job's temporary folder should still be there (and hidden)"
    # The next job for the key cleans up and publishes a complete entry.
    jobs.run_here(TINY_KEY, {"epochs": 1})
    assert catalog.read_metadata(TINY_KEY) is not None
    assert not [p for p in settings.models_dir().iterdir() if p.name.startswith(".tmp-")]


def test_two_requests_share_one_job_and_cancel_saves_nothing(fresh_cache):
    results = []
    barrier = threading.Barrier(2)

    def ask():
        barrier.wait()
        results.append(jobs.start(TINY_KEY, LONG))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({status.pid for status in results}) == 1
    running = wait_for(lambda: (s := jobs.status(TINY_KEY)).step >= 1 and s)
    assert running.state == "running" and 0 < running.fraction < 1
    again = jobs.start(TINY_KEY, LONG)  # a third request, later: still the same job
    assert again.pid == running.pid
    jobs.cancel(TINY_KEY)
    final = jobs.wait(TINY_KEY, timeout=120)
    assert final.state == "cancelled"
    assert catalog.read_metadata(TINY_KEY) is None and _visible_entries() == []


def test_a_cancel_while_the_job_loads_ends_it_at_the_next_phase_not_its_first_step(fresh_cache):
    """Cancelled before training starts (a student's second thought while data and model load), the run stops at
    the next phase it reports, not after loading everything for a first step; nothing is published."""
    from core.errors import JobCancelled
    from core.training.recipes import get_recipe
    from core.training.runner import train_recipe

    phases = []
    with pytest.raises(JobCancelled, match="cancelled while loading model"):
        train_recipe(get_recipe(TINY_KEY), report=lambda update: phases.append(update["phase"]),
                     should_stop=lambda: "loading data" in phases)  # fmt: skip
    assert phases == ["preparing", "loading data"]  # the model was never built, no step was taken
    assert catalog.read_metadata(TINY_KEY) is None and _visible_entries() == []
    assert not [p for p in settings.models_dir().iterdir() if p.name.startswith(".tmp-")]


def test_a_stop_flag_left_by_a_killed_job_does_not_cancel_the_next_run(fresh_cache):
    """A job killed before it could clear its stop flag leaves it behind. A run in this process (the command line,
    one model after another) trains past it and clears it, however recent; a spawned job obeys only a flag newer
    than its process (the app clears the flag just before spawning it, so a newer one is a real cancel)."""
    from core.errors import JobCancelled

    flag = jobs.job_dir(TINY_KEY) / "stop"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()  # newer than this process: left while it was training another model
    assert jobs.run_here(TINY_KEY, {"epochs": 0.1}) is not None
    assert catalog.read_metadata(TINY_KEY) is not None and not flag.exists()
    flag.touch()
    os.utime(flag, (psutil.Process().create_time() - 60,) * 2)  # older than the (spawned) process
    assert jobs.run_here(TINY_KEY, {"epochs": 0.1}, spawned=True) is not None and not flag.exists()
    flag.touch()  # a cancel pressed after the spawned job started
    with pytest.raises(JobCancelled, match="while preparing"):
        jobs.run_here(TINY_KEY, {"epochs": 0.1}, spawned=True)
    assert not flag.exists()


def test_global_cap_on_concurrent_jobs(fresh_cache, monkeypatch):
    monkeypatch.setenv("LMLAB_MAX_JOBS", "1")
    jobs.start(TINY_KEY, LONG)
    try:
        with pytest.raises(JobLimitError, match="the limit is 1"):
            jobs.start("sentiment-minilm")
    finally:
        jobs.cancel(TINY_KEY)
        assert jobs.wait(TINY_KEY, timeout=120).state == "cancelled"


def test_bad_overrides_are_refused_before_starting(fresh_cache):
    with pytest.raises(Exception, match="Unknown training option"):
        jobs.start(TINY_KEY, {"learning_rat": 1})
    assert jobs.status(TINY_KEY).state == "none"


def _cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "core.train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_trains_the_same_cache_entry(fresh_cache, capsys):
    from core import train

    env = dict(os.environ)
    assert train.main(["--list"]) == 0 and "sentiment-minilm" in capsys.readouterr().out
    trained = _cli("--model", TINY_KEY, "--set", "epochs=1", env=env)  # a process of its own, as a teacher runs it
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout[trained.stdout.index("{") :])
    assert report["model"] == TINY_KEY and 0 <= report["accuracy"]["value"] <= 1
    assert "training" in trained.stderr  # the terminal progress bar
    assert catalog.read_metadata(TINY_KEY)["hyperparameters"]["epochs"] == 1
    assert train.main(["--model", TINY_KEY]) == 0 and "already in the cache" in capsys.readouterr().out
    assert train.main(["--model", "no-such-model"]) == 2
    assert train.main(["--model", TINY_KEY, "--set", "bogus=1", "--force"]) == 2

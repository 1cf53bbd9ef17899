"""Test setup: offline, a private model cache, and one tiny model trained for real with Trainer."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Decided before anything imports transformers: tests never reach the Hub.
os.environ["LMLAB_OFFLINE"] = "1"
for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[name] = "1"
os.environ["LMLAB_AUTOTRAIN"] = "0"  # tests start jobs on purpose, never as a side effect
os.environ["LMLAB_WARMUP"] = "0"  # no background model load competing with the tests (one test turns it on)
os.environ["TOKENIZERS_PARALLELISM"] = "false"
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
if _WORKERS > 1 and "LMLAB_THREADS" not in os.environ:  # pytest -n N: N processes share the cores; each takes its
    # share before torch is imported, or their thread teams fight
    _CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    os.environ["LMLAB_THREADS"] = str(max(1, _CORES // _WORKERS))
    os.environ.setdefault("OMP_NUM_THREADS", os.environ["LMLAB_THREADS"])
SESSION_CACHE = Path(tempfile.mkdtemp(prefix="lmlab-test-cache-"))
os.environ["LMLAB_CACHE_HOME"] = str(SESSION_CACHE)


@pytest.hookimpl(trylast=True)  # after pytest's own hook has torn down the fixtures still up (a run stopped by -x)
def pytest_sessionfinish(session, exitstatus):
    """The session's model cache (about 160 MB after a full run) goes when the run ends, as pytest's own tmp_path
    folders are pruned: repeated runs do not fill the temporary folder."""
    shutil.rmtree(SESSION_CACHE, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """pytest -n: a test marked ``timed`` compares wall-clock times, which came out wrong now and then in a worker
    process (even while the other waited): there it is skipped, and ``pytest -m timed`` runs them in one process."""
    if _WORKERS > 1:
        skip = pytest.mark.skip(reason="compares wall-clock times: run in one process with pytest -m timed")
        for item in items:
            if item.get_closest_marker("timed"):
                item.add_marker(skip)


TINY_KEY = "sentiment-tiny"
# Enough epochs for the tiny model to fit its training sentences; about 5 s on 2 cores.
TINY_OVERRIDES = {"epochs": 6}


@pytest.fixture(autouse=True)
def _traces_counted_per_test(monkeypatch):
    """Each test starts with a process that has made no traces (a server makes at most core.tasks.traced.MAX_TRACES;
    the suite makes many more, each on a model of its own)."""
    from core.tasks import traced

    monkeypatch.setattr(traced, "_made", 0)
    monkeypatch.setattr(traced, "_per_model", {})


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """The tiny from-scratch sentiment model, trained once per session into the session cache."""
    from core.catalog import read_metadata
    from core.training import jobs

    os.environ["LMLAB_CACHE_HOME"] = str(SESSION_CACHE)
    if read_metadata(TINY_KEY) is None:
        jobs.run_here(TINY_KEY, TINY_OVERRIDES)
    return SESSION_CACHE / "models" / TINY_KEY


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """An empty model cache for one test (child processes inherit it through the environment)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LMLAB_CACHE_HOME", str(cache))
    return cache


@pytest.fixture(scope="session")
def topic_tiny_model() -> Path:
    """The tiny from-scratch newsgroup topic model, trained once per session (about 10 s)."""
    from core.catalog import read_metadata
    from core.training import jobs

    os.environ["LMLAB_CACHE_HOME"] = str(SESSION_CACHE)
    if read_metadata("topic-tiny") is None:
        jobs.run_here("topic-tiny", {"epochs": 4})
    return SESSION_CACHE / "models" / "topic-tiny"


@pytest.fixture
def clear_streamlit_caches():
    """Each page test starts and ends with empty Streamlit caches (models and data are loaded afresh)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(path: str, timeout: float = 180, **query):
    """An AppTest of the whole app switched to ``path`` (query parameters as keywords), checked to run cleanly."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


# The tiny Chinese word segmenter the segmentation and tokenization tests share (one run, from the session's cache).
TINY_SEGMENTER = {"examples": 2000, "epochs": 1.0,
                  "scratch": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                              "intermediate_size": 64, "vocab_size": 2500}}  # fmt: skip


def _train_once(key: str, overrides: dict) -> Path:
    from core.catalog import read_metadata
    from core.training import jobs

    os.environ["LMLAB_CACHE_HOME"] = str(SESSION_CACHE)
    if read_metadata(key) is None:
        jobs.run_here(key, overrides)
    return SESSION_CACHE / "models" / key


@pytest.fixture(scope="session")
def translate_tiny_model() -> Path:
    """A tiny encoder-decoder under the default translation key (about 15 s): the pages find it there."""
    return _train_once("translate-en-zh", {"examples": 2000, "epochs": 3, "learning_rate": 2e-3,
                                           "scratch": {"d_model": 64, "layers": 1, "heads": 2, "ffn": 128}})  # fmt: skip


@pytest.fixture(scope="session")
def srl_tiny_model() -> Path:
    """MiniLM fine-tuned for one epoch on 150 generated sentences under the default SRL key (about 20 s)."""
    return _train_once("srl-minilm", {"examples": 150, "epochs": 1})


@pytest.fixture(scope="session")
def lm_tiny_model() -> Path:
    """A tiny GPT on 40 Lee articles under the default language-model key (about 15 s)."""
    return _train_once("lm-lee-gpt", {"examples": 40, "epochs": 10, "learning_rate": 3e-3, "max_length": 64,
                                      "scratch": {"n_embd": 64, "n_layer": 2, "n_head": 2, "vocab_size": 1000}})  # fmt: skip


# A BERT small enough to pretrain in seconds on 400 paragraphs; the real size is in core/training/recipes.py.
TINY_BERT_ZH = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                "vocab_size": 1500}  # fmt: skip


@pytest.fixture(scope="session")
def tiny_zh_pieces() -> Path:
    """The tiny BERT from random weights, reading BPE pieces learnt on the training reviews, for a twentieth of an
    epoch under the default key: the Sentiment page's default Chinese model."""
    return _train_once("sentiment-zh-pieces", {"epochs": 0.05, "max_length": 64,  # the reviews have ~4,400
                                               "scratch": {**TINY_BERT_ZH, "vocab_size": 6000}})  # characters  # fmt: skip


@pytest.fixture(scope="session")
def tiny_zh_gpt() -> Path:
    """A one-layer character GPT on 400 People's Daily paragraphs under the default key (about 20 s with its
    scoring on the 1,880 held-out paragraphs)."""
    return _train_once("zh-char-gpt", {"examples": 400, "epochs": 1.0, "learning_rate": 3e-3, "max_length": 32,
                                       "batch_size": 8, "scratch": {"n_embd": 32, "n_layer": 1, "n_head": 2,
                                                                    "vocab_size": 0}})  # fmt: skip


def wait_for(condition, timeout: float = 120.0, poll: float = 0.1):
    """``condition()``'s first truthy value, polled until ``timeout`` seconds (then the test fails)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out waiting for the job")


# Streamlit's frontend writes the script's state on its root element (`data-test-script-state`: running,
# notRunning, …). Added to a browser context, this counts the changes, so that a test can tell a run that has
# ended from one that has not begun yet, without fixed pauses.
WATCH_SCRIPT_RUNS = """
window.__runChanges = 0; window.__lastRunChange = 0;
new MutationObserver(() => { window.__runChanges += 1; window.__lastRunChange = performance.now(); })
  .observe(document, {attributes: true, subtree: true, attributeFilter: ["data-test-script-state"]});
"""
_STATE = """(document.querySelector("[data-testid='stApp']") || {getAttribute: () => null})
  .getAttribute("data-test-script-state")"""
# a change since the action, or a run going on now that was not already going on at the action (a click during a
# run joins it: no change to see)
_RUN_BEGUN = f"""seen => window.__runChanges > seen || (!window.__runningAtMark && {_STATE} === "running")"""
_RUN_OVER = f"""quiet => {_STATE} === "notRunning" && performance.now() - window.__lastRunChange > quiet"""


def screenshot(page, name: str) -> None:
    """Keep a full-page screenshot in ``test-artifacts/`` (ignored by git) for a reader of a browser run."""
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / name), full_page=True)


def mark_runs(page) -> None:
    """Call just before an action: the runs before it (a page's second run on load, say) are not the action's."""
    page.evaluate(f"window.__seenRunChanges = window.__runChanges; window.__runningAtMark = {_STATE} === 'running'")


def wait_for_script(page, begin_within: float = 10.0, must_begin: bool = True, timeout: float = 90.0,
                    quiet: float = 150.0) -> None:
    """Wait until the script run that the last action started has ended (a page of a context that has
    ``WATCH_SCRIPT_RUNS``; ``mark_runs`` just before the action, or after a page is opened nothing), then until the
    app says no script is running, with nothing changed for ``quiet`` milliseconds. The run is given
    ``begin_within`` seconds to begin (the browser learns of it from the server: a busy server is given time); if
    none begins, the test fails when ``must_begin``, else the wait goes on (an action that may start none: a text
    box committed in a form, a second look)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen = page.evaluate("window.__seenRunChanges || 0")
    try:
        page.wait_for_function(_RUN_BEGUN, arg=seen, timeout=begin_within * 1000, polling=50)
    except PlaywrightTimeout as error:
        if must_begin:
            raise AssertionError(f"no script run began within {begin_within:.0f} s of the action") from error
    try:
        page.wait_for_function(_RUN_OVER, arg=quiet, timeout=timeout * 1000, polling=50)
    except PlaywrightTimeout as error:
        raise AssertionError(f"the page was still running after {timeout:.0f} s") from error
    page.evaluate("window.__seenRunChanges = window.__runChanges; window.__runningAtMark = false")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # Debian's (.ci/run installs it)
SERVER_USERS: dict[str, list[str]] = {}  # by URL, the modules that have used a test server, in order


@pytest.fixture(scope="session")
def app_server(tiny_model):
    """One real server for every browser test of the run (each test opens sessions of its own; the models a test
    needs are trained into the cache before it asks, and the server reads the cache as a page asks). A module that
    uses it notes so in SERVER_USERS (a test that needs a server nobody has used yet can check)."""
    yield from serve_app()


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the run (each test opens contexts of its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield launched
        launched.close()


def serve_app():
    """The real server on a free local port (a generator for module fixtures: yields its URL, then stops it). A port
    found free can be taken before the server binds it (pytest -n: the other worker's server); then another."""
    for _attempt in range(3):
        process, url = _start_server()
        if process is not None:
            break
    else:
        pytest.fail("streamlit did not start on a free port in three tries")
    SERVER_USERS[url] = []
    yield url
    process.terminate()
    process.wait(timeout=20)


def _start_server():
    """(the server's process, its URL) once it answers on a port it holds itself, or (None, None) where it exited
    first (another process took the port)."""
    import socket
    import subprocess
    import urllib.request

    import psutil

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, LMLAB_AUTOTRAIN="0")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None, None
        try:
            listening = any(c.laddr.port == port and c.status == psutil.CONN_LISTEN
                            for c in _connections(psutil.Process(process.pid)))  # fmt: skip
            if listening:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        return process, url
        except (OSError, psutil.Error):
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail("streamlit did not answer within 60 s")


def _connections(process) -> list:
    """A process's TCP connections (psutil 6 renamed the method)."""
    return (getattr(process, "net_connections", None) or process.connections)("tcp")


def slowed(model) -> list[int]:
    """Make ``model``'s forward pass slow, as on a loaded server where requests pile up while a pass runs; the
    returned list gets the batch size of every pass (``del model.forward`` restores the class's own)."""
    original, passes = model.forward, []

    def slow(*args, **kwargs):
        passes.append(len(kwargs.get("input_ids", args[0] if args else [])))
        time.sleep(0.1)
        return original(*args, **kwargs)

    model.forward = slow
    return passes


def run_together(*targets) -> None:
    """Run the callables in threads at the same moment, as sessions of a class do, and wait for them all."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def beside_busy_python(work, threads: int = 2):
    """``work()``'s answer and seconds while ``threads`` threads run plain Python, as a server's other sessions do
    (the benchmark's own helper, ``benchmarks/generation_busy.py``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generation_busy", ROOT / "benchmarks" / "generation_busy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.beside_busy_python(threads, work)


def start_in_order(count: int, action, gap: float = 0.05) -> list[threading.Thread]:
    """Start ``count`` threads running ``action(i)``, each after the one before has had time to queue."""
    threads = []
    for i in range(count):
        thread = threading.Thread(target=action, args=(i,))
        thread.start()
        threads.append(thread)
        time.sleep(gap)
    return threads

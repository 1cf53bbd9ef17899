"""Paths, online/offline mode and limits. Cheap to import: no torch, no transformers.

Every value can be overridden by an environment variable (``LMLAB_*``), so a deployment,
a classroom server or a test run can change it without touching code.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from core.messages import N_, Message

PROJECT_ROOT = Path(__file__).resolve().parent.parent

HF_OFFLINE_VARIABLES = (
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_EVALUATE_OFFLINE",
    "TRANSFORMERS_OFFLINE",
)
HUB_HOST = "huggingface.co"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class Limits:
    # 5,000 characters is about two pages of text: more than any demo needs, and it keeps a
    # tokenizer call on a shared classroom server well under a second.
    max_chars: int = 5_000
    # The hard cap on tokens fed to any model; a model's own maximum applies when smaller.
    max_tokens: int = 512
    # How many forward passes may run at once across all sessions: one per core, each on one thread (limits() reads
    # the cores; 2 on a 2-core laptop or Community Cloud, where more only thrash), at most MAX_DEFAULT_INFERENCES.
    max_concurrent_inferences: int = 2
    # Training jobs running at once (each is a process using all cores).
    max_concurrent_jobs: int = 1
    # Wall-clock limit of one training job: the app's recipes finish in minutes on 2 cores; a run
    # still going after an hour is stopped and reported, so a hung job cannot hold the queue.
    job_timeout_s: int = 3_600
    # A run a student starts from the Train page: the class shares the training slot, so one run holds it for
    # at most this long (the built-in recipes take 1–3 minutes on 2 cores).
    session_job_timeout_s: int = 900
    # What the cache keeps of a semester's use: runs trained from sessions, uploaded CSV files and
    # benchmark results. Beyond the cap the oldest go first; built-in and pinned runs never do.
    max_runs: int = 40
    max_uploads: int = 50
    max_results: int = 200
    # A run starting from a Hub checkpoint (online) downloads it into Hugging Face's cache, which nothing here
    # empties: one that would leave the disk with less than this many MB free is refused before it downloads.
    disk_reserve_mb: int = 2_000


MAX_DEFAULT_INFERENCES = 16  # a bigger machine sets LMLAB_MAX_INFERENCES itself: each slot holds a pass's activations


def default_inferences() -> int:
    """Forward passes at once unless ``LMLAB_MAX_INFERENCES`` says otherwise: one per core this process may use
    (every pass runs on ``serving_threads()`` threads, 1 by default), at least 1, at most MAX_DEFAULT_INFERENCES."""
    return max(1, min(cores() // serving_threads(), MAX_DEFAULT_INFERENCES))


def limits() -> Limits:
    return Limits(
        max_chars=_int_env("LMLAB_MAX_CHARS", Limits.max_chars),
        max_tokens=_int_env("LMLAB_MAX_TOKENS", Limits.max_tokens),
        max_concurrent_inferences=_int_env("LMLAB_MAX_INFERENCES", default_inferences()),
        max_concurrent_jobs=_int_env("LMLAB_MAX_JOBS", Limits.max_concurrent_jobs),
        job_timeout_s=_int_env("LMLAB_JOB_TIMEOUT", Limits.job_timeout_s),
        session_job_timeout_s=_int_env("LMLAB_SESSION_JOB_TIMEOUT", Limits.session_job_timeout_s),
        max_runs=_int_env("LMLAB_MAX_RUNS", Limits.max_runs),
        max_uploads=_int_env("LMLAB_MAX_UPLOADS", Limits.max_uploads),
        max_results=_int_env("LMLAB_MAX_RESULTS", Limits.max_results),
        disk_reserve_mb=_int_env("LMLAB_DISK_RESERVE_MB", Limits.disk_reserve_mb),
    )


SERVER_SET_OMP = "LMLAB_SERVER_SET_OMP_NUM_THREADS"  # marks an OMP_NUM_THREADS the server set (children drop it)


def serving_threads() -> int:
    """Torch threads for one forward pass in the server: ``LMLAB_SERVING_THREADS``, else 1 (see
    ``core.device.threads_for_serving`` for why; on a machine with more cores, more inference slots —
    ``LMLAB_MAX_INFERENCES`` — use them)."""
    wanted = os.environ.get("LMLAB_SERVING_THREADS", "").strip()
    return int(wanted) if wanted.isdigit() and int(wanted) > 0 else 1


SWITCH_INTERVAL_MS = 0.5  # Python's own is 5; see serve_switch_interval


def serve_switch_interval() -> float:
    """How often, in milliseconds, a thread running Python in the server hands the GIL to a thread waiting for it:
    ``LMLAB_SWITCH_INTERVAL_MS``, else ``SWITCH_INTERVAL_MS``. Every forward pass (ONNX Runtime's, or an eager
    PyTorch operation's) and every file or socket call lets go of the GIL and must take it back; beside sessions
    running Python (Streamlit and Plotly building pages), each take-back waited up to Python's 5 ms, or several times
    that behind other waiters. Measured on 2 cores beside two threads running plain Python (``python
    benchmarks/generation_busy.py --model lm-lee-gpt --intervals 5,1,0.5,0.2 --busy 0,2``): 40 tokens generated on ONNX Runtime
    in 1.36 s at 5 ms, 0.38 s at 1 ms, 0.17 s at 0.5 ms, 0.08 s at 0.2 ms. Process-wide, for every thread (the
    server sets it at each session's start; the README weighs what a class gains and what it costs)."""
    wanted = os.environ.get("LMLAB_SWITCH_INTERVAL_MS", "").strip()
    try:
        milliseconds = float(wanted) if wanted else SWITCH_INTERVAL_MS
    except ValueError:
        milliseconds = SWITCH_INTERVAL_MS
    milliseconds = min(max(milliseconds, 0.05), 100.0) if math.isfinite(milliseconds) else SWITCH_INTERVAL_MS
    sys.setswitchinterval(milliseconds / 1000)
    return milliseconds


def cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def serve_threads_before_torch() -> None:
    """Before torch is imported in the server: its OpenMP pool starts with ``serving_threads()`` threads in every
    thread (unless OMP_NUM_THREADS is set already); the training processes it starts drop the setting again."""
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(serving_threads())
        os.environ[SERVER_SET_OMP] = "1"


def autotrain() -> bool:
    """Train a trained-here model in the background the first time a page needs it (``LMLAB_AUTOTRAIN=0`` turns it off)."""
    return os.environ.get("LMLAB_AUTOTRAIN", "1").strip().lower() not in {"0", "false", "no", "off"}


def warmup() -> bool:
    """Load MiniLM in the background once the first page is served (``LMLAB_WARMUP=0`` turns it off)."""
    return os.environ.get("LMLAB_WARMUP", "1").strip().lower() not in {"0", "false", "no", "off"}


RUNTIMES = {  # what computes a classifier's answers when it serves the pages (core/tasks/onnx_runtime.py)
    "torch": "PyTorch fp32",
    "onnx": "ONNX Runtime fp32",
    "onnx-int8": N_("ONNX Runtime dynamic int8"),  # pages show it translated ("dynamic" is a word, not a name)
}
# a benchmark row of int8 as the pages serve it: int8's answers, its close calls computed again in fp32
INT8_CHECKED = N_("ONNX Runtime dynamic int8, close calls in fp32")


def serving_runtime() -> str:
    """``LMLAB_SERVING``: onnx-int8 (the default: fastest, used for a model only where it gives PyTorch's label
    on at least 98 % of held-out texts, its close calls computed again in fp32), onnx (PyTorch's answers to about 1e-6, faster than PyTorch), or
    torch. Without onnxruntime installed, torch."""
    wanted = os.environ.get("LMLAB_SERVING", "").strip().lower()
    wanted = wanted if wanted in RUNTIMES else "onnx-int8"
    return wanted if wanted == "torch" or onnx_available() else "torch"


def onnx_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


_RESOLVED: dict[str, Path] = {}  # LMLAB_CACHE_HOME as set → the folder it names, resolved once (pages ask every rerun)


def cache_home() -> Path:
    """Where trained models, job progress and results live. ``LMLAB_CACHE_HOME`` overrides."""
    override = os.environ.get("LMLAB_CACHE_HOME", "").strip()
    path = _RESOLVED.get(override)
    if path is None or not os.path.isdir(path):  # made again if it was removed
        path = Path(override).expanduser() if override else Path(user_cache_dir("lm-lab"))
        path.mkdir(parents=True, exist_ok=True)
        path = _RESOLVED[override] = path.resolve()
    return path


def models_dir() -> Path:
    path = cache_home() / "models"
    if not os.path.isdir(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def jobs_dir() -> Path:
    path = cache_home() / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Mode:
    online: bool
    reason: str
    seconds: float

    @property
    def label(self) -> str:
        return "online" if self.online else "offline"


_mode: Mode | None = None
_mode_lock = threading.Lock()


def _probe(host: str, port: int, timeout: float) -> bool:
    """True when a TCP connection to host:port opens within ``timeout`` seconds.

    DNS lookups ignore socket timeouts and can hang for a long time on a closed network,
    so the probe runs in a daemon thread and we stop waiting after ``timeout``.
    """
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except Exception:  # any failure to connect means "not reachable"
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def decide_mode(*, timeout: float = 1.5, refresh: bool = False) -> Mode:
    """Decide once whether the Hugging Face Hub is reachable, and set the HF offline variables if not.

    ``LMLAB_OFFLINE=1`` forces offline, ``LMLAB_OFFLINE=0`` forces online; ``HF_HUB_OFFLINE=1``
    set by the user also means offline. Otherwise a TCP probe to the Hub decides in at most
    ``timeout`` seconds. Call this before importing transformers: huggingface_hub reads the
    variables at import time.
    """
    global _mode
    with _mode_lock:
        if _mode is not None and not refresh:
            return _mode
        started = time.perf_counter()
        forced = os.environ.get("LMLAB_OFFLINE", "").strip()
        if forced:
            online = not _truthy(forced)
            reason = Message("set by LMLAB_OFFLINE={value}", value=forced)
        elif _truthy(os.environ.get("HF_HUB_OFFLINE", "")):
            online, reason = False, Message("set by HF_HUB_OFFLINE")
        else:
            online = _probe(HUB_HOST, 443, timeout)
            limit = f"{timeout:g}"
            reason = (Message("{host} answered (probe limit {limit} s)", host=HUB_HOST, limit=limit) if online else
                      Message("{host} could not be reached (probe limit {limit} s)", host=HUB_HOST, limit=limit))  # fmt: skip
        if not online:
            for name in HF_OFFLINE_VARIABLES:
                os.environ[name] = "1"
        _mode = Mode(online=online, reason=reason, seconds=time.perf_counter() - started)
        return _mode


def current_mode() -> Mode:
    return _mode if _mode is not None else decide_mode()

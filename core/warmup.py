"""What a class would otherwise wait for on its first visit, done in the background once the server has
answered its first page: import torch and transformers, and load (and hash-check) the packaged MiniLM
that the Inspect page draws and the Multi-head page compares with (the Learn pages themselves read its files
without transformers); the loaded model is handed to the first page that asks for it.

It runs at most once per process, in a daemon thread, after the first script run has finished (so the
first page is not slowed down), and under the same load lock as every other load. ``LMLAB_WARMUP=0``
turns it off (the test suite does, except where it tests this).
"""

from __future__ import annotations

import logging
import threading
import time

from core import settings

_started: threading.Thread | None = None
_guard = threading.Lock()
seconds: float | None = None  # how long the warm-up took, once it has finished


def start() -> threading.Thread | None:
    """Start the warm-up unless it has started already in this process (or is turned off)."""
    global _started
    if _started is not None:  # every script run asks: the common answer needs no lock
        return _started
    if not settings.warmup():
        return None
    with _guard:
        if _started is None:
            _started = threading.Thread(target=_warm, name="lmlab-warm-up", daemon=True)
            _started.start()
        return _started


def _warm() -> None:
    global seconds
    began = time.perf_counter()
    try:
        from core import catalog, loading
        from core.device import threads_for_serving

        threads_for_serving()  # before the pages' threads run torch: see its note
        # imports, hash check, and the model itself, kept for the first page that asks for it (it takes it over)
        loading.load_encoder(catalog.MINILM, eager_attention=True, keep=True)
    except Exception as error:  # noqa: BLE001 - a failed warm-up only means the first visit loads it itself
        logging.getLogger(__name__).warning("warm-up skipped: %s", error)
    seconds = time.perf_counter() - began

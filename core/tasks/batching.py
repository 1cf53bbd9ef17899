"""Requests for one shared model from every session, answered together: opportunistic micro-batching.

A class asks one model many small questions at once. Instead of one forward pass per question, each
waiting in turn for the model, whoever takes the model next answers everyone who is waiting by then
(up to ``max_batch``, sorted by length so the padding stays small) in one forward pass. A lone request
waits for nothing: there is no batching window, so one session alone is as fast as before; under load,
the requests that arrive while a batch runs form the next one. ``padded_passes`` cuts texts of known lengths
into passes of at most ``PADDED_TOKENS`` padded tokens, for whoever runs many texts at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

PADDED_TOKENS = 4096  # the most padded tokens one pass of batched single requests may hold
T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("item", "result", "error", "done")

    def __init__(self, item: T):
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False


class Coalescer(Generic[T, R]):
    """``submit(item)`` returns ``run([items…])``'s answer for ``item``; ``run`` is called with ``lock`` held
    (the model's own lock, or a turn of the batches' own where they do not need the model), so it must not take that
    lock itself."""

    def __init__(self, lock: AbstractContextManager, run: Callable[[list[T]], list[R]], *, max_batch: int = 32):
        self.lock = lock  # the model's own lock, or the batches' turn
        self.run = run
        self.max_batch = max(1, max_batch)
        self._waiting: list[_Slot[T, R]] = []
        self._guard = threading.Lock()
        self._changed = threading.Condition()  # a turn at the model is over (its requests are answered)
        self._queued = False  # one request is in line for the model lock, on behalf of all who wait
        self.batch_sizes: list[int] = []  # the last few batches, for the serving benchmark

    def submit(self, item: T) -> R:
        """One waiting request at a time queues for the model lock (in turn with the model's other users) and,
        once it has it, answers everyone waiting; the others sleep until their answer is there or that turn is
        over. An answered request never queues for the model lock just to learn that it was answered."""
        slot: _Slot[T, R] = _Slot(item)
        with self._guard:
            self._waiting.append(slot)
        try:
            while not slot.done:
                self._take_turn(slot)
        finally:
            if not slot.done:  # interrupted while waiting: nobody will read this answer, so it is not computed
                with self._guard:
                    if slot in self._waiting:
                        self._waiting.remove(slot)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _take_turn(self, slot: _Slot[T, R]) -> None:
        """Wait a little for another request's turn, or take the turn and answer everyone waiting."""
        mine = False
        try:
            with self._changed:
                if slot.done:  # answered while this thread was between checks
                    return
                if self._queued:  # another request is in line for the model: it will answer this one too
                    self._changed.wait(timeout=0.05)
                    return
                self._queued = mine = True
            with self.lock:
                with self._guard:
                    batch = self._waiting[: self.max_batch]
                    del self._waiting[: self.max_batch]
                if batch:
                    self._answer(batch)
        finally:
            if mine:
                with self._changed:
                    self._queued = False
                    self._changed.notify_all()

    def _answer(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self.run([slot.item for slot in batch])
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
        except Exception as error:  # noqa: BLE001 - one request's failure must not fail the others: each alone
            if len(batch) == 1:
                batch[0].error = error
            else:
                for slot in batch:
                    self._answer([slot])
        except BaseException as error:  # every request hears why, none waits forever
            for slot in batch:
                slot.error = error
        finally:
            for slot in batch:
                slot.done = True
            self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]


_runner = None
_runner_guard = threading.Lock()
_here = threading.local()  # ``on_pool`` on the single-pass threads themselves


def single_passes():
    """The threads that run single passes for every session (ONNX Runtime's int8 answers): as many as the inference
    gate has slots, created on first use, shared by all models. A request waits for its answer; the threads go
    straight on to the next waiting request, so a freed slot is never left idle while a woken session thread is
    scheduled (measured on 2 cores, 16 sessions: 716 answers/s this way against 565 with each session running its
    own pass in turn)."""
    global _runner
    with _runner_guard:
        if _runner is None:
            from concurrent.futures import ThreadPoolExecutor

            from core import settings

            _runner = ThreadPoolExecutor(max(1, settings.limits().max_concurrent_inferences), "lmlab-pass",
                                         initializer=_mark_pool_thread)  # fmt: skip
        return _runner


def _mark_pool_thread() -> None:
    _here.on_pool = True


def _forget_runner() -> None:
    """In a forked child the threads are gone while the pool would still count them: it makes its own (and a guard
    some parent thread held at the fork would stay held: a new one), and counts no answers at the gate."""
    global _runner, _runner_guard
    _runner, _runner_guard = None, threading.Lock()
    at_the_gate.__init__()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_runner)


def run_single(function: Callable[..., R], *args) -> R:
    """``function(*args)`` on the single-pass threads, its answer (or its exception) back to the caller; a caller
    interrupted while waiting gives up a pass not yet started. Called on one of those threads, it runs there: queued,
    it could wait for a thread that waits for it."""
    if getattr(_here, "on_pool", False):
        return function(*args)
    future = single_passes().submit(function, *args)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


class AtTheGate:
    """How many answers of exported models are at the inference gate, waiting for a slot or holding one, on the
    single-pass threads or in their own (``TransformerClassifier._checked``). Where the gate holds more than these,
    other work is there (a translation, an explanation, a PyTorch answer, a page's batch), and a new request queues in
    its own thread, with a place of its own in the queue as every request had before the threads: two threads would
    hold two places against the other work's one, however many sessions wait behind them."""

    def __init__(self):
        self.count, self._guard = 0, threading.Lock()

    def __enter__(self):
        with self._guard:
            self.count += 1

    def __exit__(self, *exc) -> None:
        with self._guard:
            self.count -= 1

    def others(self, gate) -> bool:
        """Whether work other than these answers holds or waits for one of the gate's slots."""
        return gate.running + gate.waiting > self.count


at_the_gate = AtTheGate()  # one for the process, like the gate


def padded_passes(lengths: list[int]) -> list[list[int]]:
    """Indices of texts of these token ``lengths``, sorted by length and cut into passes of at most PADDED_TOKENS
    padded tokens, a new pass starting where the length jumps (past 1.5 times the pass's shortest, plus 8): one long
    text does not pad thirty short ones to its length. (Three requests of a long post and two short label sentences
    each, merged into one pass, padded 1,548 positions against 1,266 asked one by one; cut at the jumps, 534.)"""
    groups: list[list[int]] = [[]]
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):  # the longest text comes last
        group = groups[-1]
        if group and ((len(group) + 1) * lengths[index] > PADDED_TOKENS
                      or lengths[index] > 1.5 * lengths[group[0]] + 8):  # fmt: skip
            groups.append([])
        groups[-1].append(index)
    return groups

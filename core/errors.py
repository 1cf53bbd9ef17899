"""Errors the app shows to people. Every message names the bad value and says what to do."""

from __future__ import annotations

import contextlib
import sys

from core.messages import Message


class CoreError(Exception):
    """Base class: pages catch this (and only this) and show the message."""


class InputError(CoreError):
    """The user's input cannot be used as it is."""


class EmptyInputError(InputError):
    pass


class InputTooLongError(InputError):
    pass


class UnknownModelError(CoreError):
    pass


class ModelUnavailableError(CoreError):
    """The model exists in the catalog but cannot be used right now (offline, not trained yet)."""


class IntegrityError(CoreError):
    """A weight file does not match its pinned sha256."""


class UnsafeNameError(CoreError):
    """A name that could reach outside the places LM Lab owns."""


class JobError(CoreError):
    pass


class JobLimitError(JobError):
    pass


class JobCancelled(JobError):
    pass


class DataError(CoreError):
    pass


class OutOfMemoryError(CoreError):
    """A GPU had no memory left for a request or a training run."""


def out_of_memory(error: BaseException) -> OutOfMemoryError | None:
    """A GPU's out-of-memory error (CUDA's ``torch.OutOfMemoryError``, or Apple MPS's RuntimeError) as an error in
    words, after handing the memory torch keeps cached back to the GPU so that the next request can have it; None
    for every other error. Never imports torch: an error from torch means torch is loaded already."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    cuda = isinstance(error, getattr(torch, "OutOfMemoryError", ()))
    mps = isinstance(error, RuntimeError) and "MPS backend out of memory" in str(error)
    if not (cuda or mps):
        return None
    with contextlib.suppress(Exception):  # freeing a cache is best effort; the message is what matters
        (torch.cuda if cuda else torch.mps).empty_cache()
    return OutOfMemoryError(Message("The GPU ran out of memory ({device}). Nothing else was affected: try a shorter "
                                    "text or a smaller batch, or run on the CPU (LMLAB_DEVICE=cpu).",
                                    device="CUDA" if cuda else "MPS"))  # fmt: skip

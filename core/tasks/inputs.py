"""The input rules every scenario shares: clean odd Unicode, refuse empty or oversized text."""

from __future__ import annotations

import threading
import unicodedata

from core import settings
from core.errors import EmptyInputError, InputTooLongError

# Control characters (other than tab and newline), lone surrogates, unassigned code points and
# private-use characters carry no meaning for a model and can break tokenizers or renderers.
_DROP_CATEGORIES = {"Cc", "Cs", "Cn", "Co"}
_KEEP = {"\n", "\t"}


def clean_text(text: str) -> str:
    """NFC-normalise, drop invisible control characters, trim. Emoji and CJK stay as they are."""
    if not isinstance(text, str):
        raise EmptyInputError("Please enter some text (got no text at all).")
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in _DROP_CATEGORIES)
    return text.strip()


def check_text(text: str, *, max_chars: int | None = None) -> str:
    """The cleaned text, or a clear error when it is empty or longer than the character cap."""
    limit = max_chars or settings.limits().max_chars
    cleaned = clean_text(text)
    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in cleaned):
        raise EmptyInputError(
            "Please enter some text: the box is empty (or holds only spaces and invisible characters)."
        )
    if len(cleaned) > limit:
        raise InputTooLongError(
            f"Your text has {len(cleaned):,} characters; the limit is {limit:,}. "
            "Shorten it or split it into parts."
        )
    return cleaned


_gate: threading.BoundedSemaphore | None = None
_gate_lock = threading.Lock()


def inference_gate() -> threading.BoundedSemaphore:
    """A process-wide cap on forward passes running at once (``Limits.max_concurrent_inferences``)."""
    global _gate
    with _gate_lock:
        if _gate is None:
            _gate = threading.BoundedSemaphore(settings.limits().max_concurrent_inferences)
        return _gate

"""The input rules every scenario shares: clean odd Unicode, refuse empty or oversized text."""

from __future__ import annotations

import threading
import unicodedata
from collections import deque
from dataclasses import dataclass

from core import settings
from core.errors import CoreError, EmptyInputError, InputError, InputTooLongError, out_of_memory
from core.messages import Message

# Control characters (other than tab and newline), lone surrogates, unassigned code points and
# private-use characters carry no meaning for a model and can break tokenizers or renderers.
_DROP_CATEGORIES = {"Cc", "Cs", "Cn", "Co"}
_KEEP = {"\n", "\t"}


def clean_text(text: str) -> str:
    """NFC-normalise, drop invisible control characters, trim. Emoji and CJK stay as they are."""
    if not isinstance(text, str):
        raise EmptyInputError(Message("Please enter some text (got no text at all)."))
    text = _few_marks(text)  # NFC sorts a run of marks: quadratic in its length
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in _DROP_CATEGORIES)
    return text.strip()


MAX_MARKS = 8  # combining marks kept on one character (real scripts stack three or four; "Zalgo" text stacks hundreds)


def _few_marks(text: str) -> str:
    """``text`` with each run of combining characters (any script's) cut to ``MAX_MARKS``."""
    kept, run = [], 0
    for char in text:
        run = run + 1 if unicodedata.combining(char) else 0
        if run <= MAX_MARKS:
            kept.append(char)
    return "".join(kept) if len(kept) < len(text) else text


@dataclass(frozen=True)
class LanguageFit:
    """How a model's language fits a text: what the text is, what the model reads, and — for a model with an
    unknown-token ([UNK]) vocabulary — how many of the text's tokens it does not know."""

    text_language: str  # "zh" or "en" (``core.data.text.language_of``)
    model_languages: tuple[str, ...]
    unknown: int | None = None  # tokens the vocabulary maps to [UNK]; None for a model without such a token
    tokens: int = 0  # the text's tokens, special tokens excluded

    @property
    def fits(self) -> bool:
        return self.text_language in self.model_languages

    @property
    def unknown_share(self) -> float:
        return (self.unknown or 0) / self.tokens if self.tokens else 0.0


def language_fit(text: str, languages: tuple[str, ...], tokenizer=None, input_ids=None) -> LanguageFit:
    """The fit of ``text`` to a model reading ``languages``; with its tokenizer (and the text's ids, when they
    are already there), how many tokens are [UNK]."""
    from core.data.text import language_of

    unknown, tokens = None, 0
    unk = getattr(tokenizer, "unk_token_id", None) if tokenizer is not None else None
    if tokenizer is not None:
        ids = list(input_ids) if input_ids is not None else tokenizer(text, add_special_tokens=False)["input_ids"]
        specials = set(tokenizer.all_special_ids) - {unk}
        ids = [i for i in ids if i not in specials]
        tokens = len(ids)
        unknown = sum(1 for i in ids if i == unk) if unk is not None else None
    return LanguageFit(language_of(text), tuple(languages), unknown, tokens)


def refuse_other_language(text: str, languages: tuple[str, ...], title: str) -> None:
    """A clear refusal for a model that cannot read the text's language at all (translation, role labels)."""
    from core.data.text import language_of

    found = language_of(text)
    names = {"en": "English", "zh": "Chinese"}
    if not any(char.isalpha() for char in text[:4000]):
        raise InputError(Message("Your text has no words, only digits, punctuation or symbols. Type a sentence in "
                                 "{wanted}.", wanted=names.get(languages[0], languages[0])))  # fmt: skip
    if found not in languages:
        reads = " and ".join(names.get(x, x) for x in languages)
        raise InputError(Message("{model} reads {reads} only; your text is {language}. Type a sentence in {wanted}.",
                                 model=title, reads=reads, language=names.get(found, found),
                                 wanted=names.get(languages[0], languages[0])))  # fmt: skip


def check_text(text: str, *, max_chars: int | None = None) -> str:
    """The cleaned text, or a clear error when it is empty or longer than the character cap."""
    limit = max_chars or settings.limits().max_chars
    if isinstance(text, str) and len(text) > 4 * limit:
        # refused before the per-character cleaning: a 200 KB paste costs nothing more than its length
        raise InputTooLongError(
            Message("Your text has {length} characters; the limit is {limit}. Shorten it or split it into parts.",
                    length=f"{len(text):,}", limit=f"{limit:,}")
        )
    cleaned = clean_text(text)
    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in cleaned):
        raise EmptyInputError(
            Message("Please enter some text: the box is empty (or holds only spaces and invisible characters).")
        )
    if len(cleaned) > limit:
        raise InputTooLongError(
            Message("Your text has {length} characters; the limit is {limit}. Shorten it or split it into parts.",
                    length=f"{len(cleaned):,}", limit=f"{limit:,}")
        )
    return cleaned


class FairLock:
    """A model's lock, handed to waiting threads in the order they asked for it.

    ``threading.Lock`` lets the thread that releases it take it straight back: a long job that takes the
    model step by step (an explanation) would then keep every other request waiting to the end.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._tickets = 0  # the next ticket to hand out
        self._serving = 0  # the ticket that may hold the lock
        self._owner: int | None = None  # the thread holding it
        self._abandoned: set[int] = set()  # tickets whose thread stopped waiting (interrupted)

    def acquire(self) -> None:
        with self._condition:
            ticket = self._tickets
            self._tickets += 1
            try:
                self._condition.wait_for(lambda: self._serving == ticket)
            except BaseException:  # interrupted while waiting: give the turn up, never block the others
                if self._serving == ticket:
                    self._advance()
                else:
                    self._abandoned.add(ticket)
                raise
            self._owner = threading.get_ident()

    def release(self) -> None:
        with self._condition:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a FairLock this thread does not hold")
            self._owner = None
            self._advance()

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._condition.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Gate:
    """A process-wide cap on forward passes running at once, served first come, first served.

    Callers take their model's own lock *before* a slot (``with model_lock, inference_gate():``):
    a request waiting for a busy model then holds no slot, so a slow call on one model never
    keeps another model's requests waiting. ``waiting`` and ``running`` tell a page how many
    requests are ahead of a new one.
    """

    def __init__(self, slots: int):
        self.slots = max(1, int(slots))
        self._guard = threading.Lock()
        self._running = 0  # slots taken
        # callers waiting, in arrival order: each with a lock of its own that the releasing thread opens, so a
        # freed slot wakes exactly the next caller (waking every waiter to check its ticket cost a class of
        # sixteen a quarter of the model's throughput)
        self._queue: deque[threading.Lock] = deque()
        self._local = threading.local()  # whether this thread holds a slot: a nested acquire never waits for itself

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def held_here(self) -> bool:
        """Whether the calling thread holds a slot (a pass it starts now is a nested one)."""
        return getattr(self._local, "held", 0) > 0

    def ahead(self) -> int:
        """Requests a new caller would find in front of it (running beyond the free slots, plus waiting)."""
        with self._guard:
            return max(0, self._running + len(self._queue) - self.slots + 1)

    def acquire(self) -> None:
        """Wait for a slot; callers are admitted in the order they arrived. A thread that holds a slot already enters
        again at once: its nested pass runs in the slot it has (were it to queue, two holders nesting behind a
        waiter would each wait for the other's slot)."""
        held = getattr(self._local, "held", 0)
        if held:
            self._local.held = held + 1
            return
        with self._guard:
            if not self._queue and self._running < self.slots:
                self._running += 1
                self._local.held = 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._queue.append(turn)
        try:
            turn.acquire()  # opened by _admit, which has counted this caller's slot
        except BaseException:  # interrupted while waiting: leave the queue, or give back the slot just granted
            with self._guard:
                if turn in self._queue:
                    self._queue.remove(turn)
                    self._admit()
                    raise
            self._local.held = 1
            self.release()
            raise
        self._local.held = 1

    def release(self) -> None:
        held = getattr(self._local, "held", 0)
        if held > 1:  # a nested pass ends: the slot stays this thread's
            self._local.held = held - 1
            return
        with self._guard:
            if self._running <= 0:
                raise RuntimeError("Gate released more often than acquired.")
            self._running -= 1
            self._admit()
        self._local.held = 0

    def _admit(self) -> None:
        """Let in the callers at the head of the queue while there are slots for them (guard held)."""
        while self._queue and self._running < self.slots:
            self._running += 1
            self._queue.popleft().release()

    def __enter__(self) -> Gate:
        self.acquire()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.release()
        if error is not None and (oom := out_of_memory(error)) is not None:  # every forward runs in here
            raise oom from None


_gate: Gate | None = None
_gate_lock = threading.Lock()


def inference_gate() -> Gate:
    """The process-wide gate (``Limits.max_concurrent_inferences`` slots), created on first use."""
    global _gate
    with _gate_lock:
        if _gate is None:
            _gate = Gate(settings.limits().max_concurrent_inferences)
        return _gate


def inputs_for(model, batch):
    """``batch`` (a dict of tensors, or one tensor) on ``model``'s device: for ``generate`` and for layers called
    directly (a model's own forward moves its inputs, see ``core.device.place``)."""
    device = next(model.parameters()).device
    if hasattr(batch, "to") and not hasattr(batch, "items"):
        return batch.to(device)
    return {name: value.to(device) if hasattr(value, "device") else value for name, value in batch.items()}


def to_cpu(tensor):
    """A model's output back on the CPU in float32 (numpy has no bf16), detached, ready for ``.numpy()``. In half
    precision a number can overflow: such an answer is refused in words, never shown as "nan"."""
    tensor = tensor.detach()
    if str(tensor.dtype) in ("torch.float16", "torch.bfloat16") and not bool(tensor.isfinite().all()):
        raise CoreError(Message("The model's numbers overflowed in {precision}; LMLAB_PRECISION=fp32 avoids it.",
                                precision="fp16" if str(tensor.dtype) == "torch.float16" else "bf16"))  # fmt: skip
    return (tensor.float() if tensor.is_floating_point() else tensor).cpu()


def follows_inputs(model):
    """``model`` taking each call's inputs to its own device (``core.device.follows_inputs``): for models handed
    over by training, which ``Trainer`` may have left on a GPU."""
    from core.device import follows_inputs as follow

    return follow(model)


def pipeline_placement() -> dict:
    """``device`` and ``dtype`` for a transformers ``pipeline``: LM Lab's placement (a pipeline otherwise picks the
    first accelerator and its own precision, whatever ``LMLAB_DEVICE`` and ``LMLAB_PRECISION`` say)."""
    from core.device import PRECISIONS, inference_placement

    device, precision = inference_placement()
    return {"device": device, "dtype": PRECISIONS[precision]}

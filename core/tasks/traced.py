"""Model passes traced once with TorchScript: what explanations, Inspect's maps, the sentence encoder, the Chinese
segmenter, the SRL tagger, the GPTs' next-token bars and scores (and their attributions) and translations'
attributions run on the CPU.

These passes stay on PyTorch (explanations need gradients, which the ONNX Runtime inference sessions LM Lab uses do
not give; the others are used in ways the exports do not cover). Eager PyTorch hands Python's GIL back at every
operation of a forward pass and must take it again afterwards; on a server whose sessions keep Python busy, every
take-back waits its turn (the stall ``core.tasks.lm_onnx`` avoids for generation). A traced graph runs all its
operations in C++ and takes the GIL back once per call, and its backward pass needs no GIL either. Measured with
``python benchmarks/generation_busy.py --explain`` (2 cores, one torch thread as the server runs; the README has the
table): the sentiment MiniLM's explanation of a 36-word sentence, 1 s both ways alone, 32–37 s eager and 3.1–3.4 s
traced beside two threads running plain Python.

The graph is run by TorchScript's plain interpreter, operation by operation as eager mode runs them (one difference:
transformers builds the attention mask while tracing even for unpadded rows, where eager mode passes none; adding
its zeros changed no number in any case measured). The trace is made on a padded batch of two rows and checked
against the eager model before it is used, on five more shapes (up to 130 tokens, with padding and with token types
of 1): its outputs (and, for a pass whose gradients are wanted, its gradients with respect to the embeddings, and its
logits from the embedding layer's output against the model's from the token ids) must match within ``TOLERANCE``.
Anything else — a model on a GPU, in reduced precision or from the Hub, a trace that fails or does not match,
TorchScript switched off, a process that has made ``MAX_TRACES`` traces or ``PER_MODEL`` of one model — keeps the
eager model, whose numbers the trace only reproduces, and the reason is logged. ``torch.jit.trace`` is deprecated, not removed, in PyTorch 2.13 (and unsupported on Python
3.14). The trace and each step of its check take the model (``hold``), so no other page's hooks are traced; hooks added
later are not run by the trace, which is what these passes want: the plain model.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
import warnings
from collections.abc import Callable

TOLERANCE = 1e-4  # absolute and relative, on outputs and gradients (measured: no difference at all)
# rows, tokens, (row, first padded position) pairs; the last one's second half has token type 1 where types are read
_SHAPES = ((8, 12, ()), (3, 5, ((0, 2),)), (1, 40, ()), (2, 2, ()), (2, 130, ((0, 70),)))
# Every trace keeps about 10 MB for the life of the process (TorchScript registers its types and functions for good:
# measured on the sentiment MiniLM, +10 MB a trace, the model itself freed), so a process makes at most this many; a
# class that visits every page uses about eleven (two classifiers, Inspect's two MiniLMs, the encoder, the segmenter,
# the SRL tagger, two GPTs, two translators), and a model loaded again (a retrain's new version, or one the page
# caches dropped for others) traces again.
MAX_TRACES = 16
PER_MODEL = 4  # traces of one model name (its passes, again after each reload): one model's churn leaves the rest room
OWN_RUNS = "the runs sessions trained"  # the name every session's own run is counted under (see _budget)
HUB_NOTE = "models from the Hub keep the eager pass (every trace keeps memory for good)"
TRACING = threading.Lock()  # torch.jit.trace and the legacy ONNX exporter share a module-level map: one at a time
_made, _per_model = 0, {}
_counting = threading.Lock()


class OnePass:
    """The traced pass an owner (a classifier, the encoder, …) builds once: ``get()`` is it, built by the first
    caller, who must not hold the model; callers arriving while it is built get None and run the eager model instead
    of waiting. ``on_batch`` runs whichever serves now. Hold ``build`` without a reference to the owner, so that a
    dropped owner is freed at once."""

    def __init__(self, build: Callable[..., TracedPass], *, key: str, hub: bool = False):
        self._build, self.found, self._building = build, None, threading.Lock()
        self._key, self._refusal = key, HUB_NOTE if hub else ""

    @classmethod
    def of(cls, spec, lock, build: Callable[..., TracedPass], *args) -> OnePass:
        """An owner's pass for ``spec``'s model: ``build(*args, hold)``, where ``hold()`` takes ``lock`` and an inference
        slot; a model from the Hub keeps its eager pass."""
        from core.specs import HUB

        return cls(functools.partial(build, *args, functools.partial(holding, lock)), key=spec.key,
                   hub=spec.source == HUB)  # fmt: skip

    def get(self) -> TracedPass | None:
        if self.found is None and self._building.acquire(blocking=False):
            try:
                if self.found is None:
                    self.found = self._build(key=self._key, refusal=self._refusal)
            finally:
                self._building.release()
        return self.found

    def stay_eager(self, why: str = "asked to keep the eager pass") -> None:
        """No trace for this owner (the eager model is what a comparison wants); nothing is traced or counted."""
        self.found = self._build(key=self._key, refusal=why)

    def on_batch(self, batch: dict, eager: Callable, first: Callable | None = None):
        """The traced pass on a tokenizer's output (its ids, or ``first()`` in their place, its mask and, where given,
        its token types) once one is built and serves; ``eager()`` otherwise, or where the batch holds anything else.
        The caller holds the model."""
        found, rest = self.found, set(batch) - {"input_ids"}
        if found is None or found.traced is None or not rest <= {"attention_mask", "token_type_ids"} \
                or "attention_mask" not in rest:  # fmt: skip
            return eager()
        return found(batch["input_ids"] if first is None else first(), batch["attention_mask"], batch.get("token_type_ids"))


class TracedPass:
    """``run(first, mask, types)`` of one model, traced where that gives the eager numbers; ``first`` is the token
    ids, or their input embeddings for a pass whose gradients are wanted; ``types`` is an encoder–decoder's decoder
    tokens where ``decoder``. ``traced`` is None where the eager pass runs,
    and ``why`` says why. Made by a caller that does not hold the model: the trace and each shape of its check take
    it with ``hold()`` (its lock and an inference slot), so that other requests get it in between. Callers of the
    pass hold the model."""

    def __init__(self, model, run: Callable, *, hold: Callable, embeddings: bool = False,
                 reference: Callable | None = None, masked: bool = True, decoder: bool = False, key: str = "",
                 refusal: str = ""):  # fmt: skip
        import torch

        self.model, self.run, self.traced, self.why, self.hold, self.key = model, run, None, refusal, hold, key
        self.embeddings, self.reference = embeddings, reference  # reference(ids, mask, types): what the pass must give
        self.masked = masked  # False: ``run`` reads ``first`` alone (a causal model's rows, whole or right-padded)
        self.decoder = decoder  # True: the third input is an encoder–decoder's decoder tokens, not token types
        self.takes_types = masked and (decoder or _takes_types(model))
        if refusal:
            return
        try:
            with torch.inference_mode(False), torch.enable_grad():  # the check takes gradients, whatever the caller's mode
                self.traced = _checked_trace(self)
        except Exception as error:  # noqa: BLE001 - any failure leaves the eager model, which is what was asked for
            self.why = f"{type(error).__name__}: {str(error)[:200]}"
            logging.getLogger(__name__).warning("%s keeps its eager pass: %s", type(model).__name__, self.why)

    def __call__(self, first, mask=None, types=None):
        import torch

        if types is None and mask is not None:
            types = torch.zeros_like(mask)
        if self.traced is None:
            return self.run(first, mask, types)
        return _run(self.traced, *self._inputs(first, mask, types))

    def _inputs(self, first, mask, types) -> tuple:
        return (first,) if not self.masked else (first, mask, types) if self.takes_types else (first, mask)


def logits_from_embeddings(model, hold: Callable, **options) -> TracedPass:
    """``model(inputs_embeds=…).logits``: a classifier's pass for integrated gradients, whose logits from the embedding
    layer's output must also equal the model's from the token ids."""
    extra = _type_keyword(model)
    return TracedPass(
        model, lambda embeddings, mask, types: model(inputs_embeds=embeddings, attention_mask=mask, **extra(types)).logits,
        hold=hold, embeddings=True, reference=lambda ids, mask, types: model(input_ids=ids, attention_mask=mask, **extra(types)).logits,
        **options)  # fmt: skip


def logits(model, hold: Callable, **options) -> TracedPass:
    """``model(input_ids=…).logits``: a token classifier's pass (the Chinese segmenter's)."""
    extra = _type_keyword(model)
    return TracedPass(model, lambda ids, mask, types: model(input_ids=ids, attention_mask=mask,
                                                            **extra(types)).logits, hold=hold, **options)  # fmt: skip


def hidden_states(model, hold: Callable, **options) -> TracedPass:
    """``model(input_ids=…).last_hidden_state``: an encoder's pass (the sentence encoder's)."""
    extra = _type_keyword(model)
    return TracedPass(model, lambda ids, mask, types: model(input_ids=ids, attention_mask=mask,
                                                            **extra(types)).last_hidden_state, hold=hold,
                      **options)  # fmt: skip


def attention_maps(model, hold: Callable, **options) -> TracedPass:
    """Every layer's attention weights, stacked: ``(layers, rows, heads, T, T)`` (a model loaded with eager
    attention, which returns them)."""
    import torch

    extra = _type_keyword(model)
    return TracedPass(model, lambda ids, mask, types: torch.stack(model(
        input_ids=ids, attention_mask=mask, output_attentions=True, **extra(types)).attentions), hold=hold, **options)  # fmt: skip


def causal_hidden_states(body, hold: Callable, **options) -> TracedPass:
    """``body(inputs_embeds=…).last_hidden_state`` of a GPT, no mask: the pass integrated gradients of generated
    tokens run through, and the next-token bars and scores on right-padded rows (a causal model's real tokens never
    see the padding after them)."""
    return TracedPass(body, lambda embeddings, _mask, _types: body(inputs_embeds=embeddings).last_hidden_state,
                      hold=hold, embeddings=True, masked=False, **options)  # fmt: skip


def seq2seq_hidden_from_embeddings(model, hold: Callable, **options) -> TracedPass:
    """``model.base_model(inputs_embeds=…, attention_mask=…, decoder_input_ids=…).last_hidden_state`` of an
    encoder–decoder: the pass integrated gradients of a translation run through (the third input is the decoder's
    tokens)."""
    return TracedPass(model, lambda embeddings, mask, decoder: model.base_model(
        inputs_embeds=embeddings, attention_mask=mask, decoder_input_ids=decoder).last_hidden_state, hold=hold,
        embeddings=True, decoder=True, **options)  # fmt: skip


def _takes_types(model) -> bool:
    return "token_type_ids" in inspect.signature(model.forward).parameters


def _type_keyword(model) -> Callable:
    """The token types as the model's keyword, where it takes them."""
    takes = _takes_types(model)
    return lambda types: {"token_type_ids": types} if takes else {}


def _run(traced, *inputs):
    """The traced graph, run by TorchScript's plain interpreter: operation by operation, each recording its own
    gradient as in eager mode (so a backward pass computes only the gradients asked for), with no GIL in between. The
    optimizing executor's one backward graph also computed every weight's gradient: 1.4 times slower. The setting is
    per thread. Every call of a trace goes through here: an optimized plan, once made, would serve every thread."""
    import torch

    with torch.jit.optimized_execution(False):
        return traced(*inputs)


def _checked_trace(found: TracedPass):
    import torch

    from core.device import precision_of

    model = found.model
    if next(model.parameters()).device.type != "cpu" or precision_of(model) != "fp32":
        raise ValueError("traced on the CPU in fp32 only")
    if not hasattr(torch, "jit") or not hasattr(torch.jit, "trace") or not torch.jit._state._enabled:
        raise ValueError("TorchScript is missing or switched off (PYTORCH_JIT=0)")
    _count_a_trace(found.key)
    embed = model.get_input_embeddings()
    longest = int(getattr(model.config, "max_position_embeddings", 0) or 40)
    generator = torch.Generator().manual_seed(0)

    def rows(count: int, tokens: int, padded) -> tuple:
        ids = torch.randint(0, embed.num_embeddings, (count, min(tokens, longest)), generator=generator)
        mask, types = torch.ones_like(ids), torch.zeros_like(ids)
        for row, first in padded:
            mask[row, first:] = 0
        if tokens > 100 and getattr(model.config, "type_vocab_size", 1) > 1:
            types[:, ids.shape[1] // 2 :] = 1  # a sentence pair's second sentence
        if found.decoder:  # decoder tokens: fewer than the source's, or (odd row counts) more
            length = min(longest, ids.shape[1] * 3 // 2) if count % 2 else max(1, ids.shape[1] // 2)
            types = torch.randint(0, embed.num_embeddings, (count, length), generator=generator)
        return ids, mask, types

    def first_of(ids):
        return embed(ids).detach().requires_grad_(True) if found.embeddings else ids

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, first, mask=None, types=None):
            return found.run(first, mask, torch.zeros_like(mask) if types is None and mask is not None else types)

    ids, mask, types = rows(2, 12, ((1, 7),))
    example = found._inputs(first_of(ids).detach(), mask, types)
    traced = None
    while traced is None:  # the model held, TRACING taken if free; else waited for without the model or a slot
        with found.hold():
            if TRACING.acquire(blocking=False):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # deprecation and tracer warnings: the check below decides
                        traced = torch.jit.trace(Wrapped().eval(), example, check_trace=False)
                finally:
                    TRACING.release()
        if traced is None:
            with TRACING:  # an export or another trace is under way
                pass
    if not isinstance(traced, torch.jit.ScriptModule):
        raise ValueError("TorchScript is switched off (PYTORCH_JIT=0)")
    for count, tokens, padded in _SHAPES:
        with found.hold():
            _check(found, traced, *rows(count, tokens, padded), first_of)
    return traced


@contextlib.contextmanager
def holding(lock):
    """``lock`` and an inference slot: what a step of the trace and its check hold."""
    from core.tasks.inputs import inference_gate

    with lock, inference_gate():
        yield


def _budget(key: str) -> str:
    """What a trace of ``key`` is counted under: the model's name, or ``OWN_RUNS`` for a run a session started on the
    Train page (it has an owner): every such run has a new name, so they share one model's budget, and a class's
    runs cannot spend the budget of the models every page uses."""
    from core import settings

    try:
        owned = bool(key) and bool((settings.cache_home() / "jobs" / key / "owner").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        owned = False
    return OWN_RUNS if owned else key


def _count_a_trace(key: str) -> None:
    global _made
    counted = _budget(key)
    with _counting:
        if _made >= MAX_TRACES:
            raise ValueError(f"this process has made its {MAX_TRACES} traces (each keeps about 10 MB for good)")
        if _per_model.get(counted, 0) >= PER_MODEL:
            raise ValueError(f"{counted} {'have' if counted == OWN_RUNS else 'has'} been traced {PER_MODEL} times in "
                             "this process (loaded again after a retrain or a cache eviction, or new runs)")  # fmt: skip
        _made += 1
        _per_model[counted] = _per_model.get(counted, 0) + 1


def _check(found: TracedPass, traced, ids, mask, types, first_of) -> None:
    import torch

    count, tokens = ids.shape
    pairs = []
    for run in (found.run, lambda first, m, t: _run(traced, *found._inputs(first, m, t))):
        first = first_of(ids)
        with torch.set_grad_enabled(found.embeddings):
            output = run(first, mask, types)
        pairs.append((output.detach(), torch.autograd.grad(output.sum(), first)[0] if found.embeddings else None))
    (eager, eager_gradient), (mine, gradient) = pairs
    checks = [(eager, mine, "outputs")] + ([(eager_gradient, gradient, "gradients")] if found.embeddings else [])
    if found.reference is not None:
        with torch.no_grad():
            checks.append((found.reference(ids, mask, types), mine, "outputs from token ids"))
    for want, got, what in checks:
        if not torch.allclose(got, want, atol=TOLERANCE, rtol=TOLERANCE):
            raise ValueError(f"the trace's {what} differ from the eager model's by "
                             f"{(got - want).abs().max().item():.2e} on {count} × {tokens} tokens")  # fmt: skip

"""A classifier's forward pass from input embeddings, traced once with TorchScript: what explanations run on the CPU.

An explanation is dozens of forward and backward passes (integrated gradients) and two more forward passes. Eager
PyTorch hands Python's GIL back at every operation of a forward pass and must take it again afterwards; on a server
whose sessions keep Python busy, every take-back waits its turn (the stall ``core.tasks.lm_onnx`` avoids for
generation). A traced graph runs all its operations in C++ and takes the GIL back once per call; the backward pass
runs in autograd's engine, which lets go of the GIL for the whole pass either way. Measured on 2 cores, one torch
thread as the server runs, with ``python benchmarks/generation_busy.py --explain`` (the sentiment MiniLM's explanation
of the longest held-out polarity sentence, 36 words): 1.07 s both ways alone; beside two threads running plain Python
19.3 s eager and 2.7 s traced, beside four 35.7 and 4.6 s, with the same scores to the last bit.

The trace is made once per loaded model, on a padded batch of two rows (so that it records the masked path, which
serves unpadded rows too), and checked against the eager model before it is used: on three more shapes (one row of
40 tokens, a padded batch of three, an unpadded batch of eight) its logits and its gradients with respect to the
embeddings must match within ``TOLERANCE``, and its logits from the embedding layer's output must match the eager
model's from the token ids. Anything else — a model on a GPU or in reduced precision, a trace that fails or does not
match, a PyTorch without TorchScript (``torch.jit.trace`` is deprecated, not removed, in PyTorch 2.13) — keeps the
eager model, whose numbers the trace only reproduces. The caller holds the model, so no other page's hooks are traced;
hooks added later are not run by the trace, which is what an explanation wants: the plain model.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Callable

TOLERANCE = 1e-4  # absolute and relative, on outputs and gradients (measured: no difference at all)
_SHAPES = ((8, 12, ()), (3, 5, ((0, 2),)), (1, 40, ()), (2, 2, ()))  # rows, tokens, (row, first padded position)


class TracedPass:
    """``run(first, mask, types)`` of one model, traced where that gives the eager numbers; ``first`` is the token
    ids, or their input embeddings for a pass whose gradients are wanted. ``traced`` is None where the eager pass runs,
    and ``why`` says why. Made by a caller that does not hold the model: the trace and each shape of its check take
    it with ``hold()`` (its lock and an inference slot), so that other requests get it in between. Callers of the
    pass hold the model."""

    def __init__(self, model, run: Callable, *, hold: Callable, embeddings: bool = False,
                 reference: Callable | None = None, masked: bool = True):  # fmt: skip
        import torch

        self.model, self.run, self.traced, self.why, self.hold = model, run, None, "", hold
        self.embeddings, self.reference = embeddings, reference  # reference(ids, mask, types): what the pass must give
        self.masked = masked  # False: ``run`` reads ``first`` alone (a causal model's whole rows), and so does the trace
        self.takes_types = masked and "token_type_ids" in inspect.signature(model.forward).parameters
        try:
            with torch.inference_mode(False), torch.enable_grad():  # the check takes gradients, whatever the caller's mode
                self.traced = _checked_trace(self)
        except Exception as error:  # noqa: BLE001 - any failure leaves the eager model, which is what was asked for
            self.why = f"{type(error).__name__}: {str(error)[:200]}"

    def __call__(self, first, mask=None, types=None):
        import torch

        if types is None and mask is not None:
            types = torch.zeros_like(mask)
        if self.traced is None:
            return self.run(first, mask, types)
        return _run(self.traced, *self._inputs(first, mask, types))

    def _inputs(self, first, mask, types) -> tuple:
        return (first,) if not self.masked else (first, mask, types) if self.takes_types else (first, mask)

    def of_batch(self, batch: dict, eager: Callable, first=None):
        """The pass on a tokenizer's output (its ids, or ``first`` in their place, its mask and, where given, its
        token types); ``eager()`` where the batch holds anything else."""
        rest = set(batch) - {"input_ids"}
        if not rest <= {"attention_mask", "token_type_ids"} or "attention_mask" not in rest:
            return eager()
        return self(batch["input_ids"] if first is None else first, batch["attention_mask"], batch.get("token_type_ids"))


def logits_from_embeddings(model, hold: Callable) -> TracedPass:
    """``model(inputs_embeds=…).logits``: a classifier's pass for integrated gradients, whose logits from the embedding
    layer's output must also equal the model's from the token ids."""
    extra = _type_keyword(model)
    return TracedPass(
        model, lambda embeddings, mask, types: model(inputs_embeds=embeddings, attention_mask=mask, **extra(types)).logits,
        hold=hold, embeddings=True, reference=lambda ids, mask, types: model(input_ids=ids, attention_mask=mask, **extra(types)).logits)  # fmt: skip


def logits(model, hold: Callable) -> TracedPass:
    """``model(input_ids=…).logits``: a token classifier's pass (the Chinese segmenter's)."""
    extra = _type_keyword(model)
    return TracedPass(model, lambda ids, mask, types: model(input_ids=ids, attention_mask=mask,
                                                            **extra(types)).logits, hold=hold)  # fmt: skip


def hidden_states(model, hold: Callable) -> TracedPass:
    """``model(input_ids=…).last_hidden_state``: an encoder's pass (the sentence encoder's)."""
    extra = _type_keyword(model)
    return TracedPass(model, lambda ids, mask, types: model(input_ids=ids, attention_mask=mask,
                                                            **extra(types)).last_hidden_state, hold=hold)  # fmt: skip


def attention_maps(model, hold: Callable) -> TracedPass:
    """Every layer's attention weights, stacked: ``(layers, rows, heads, T, T)`` (a model loaded with eager
    attention, which returns them)."""
    import torch

    extra = _type_keyword(model)
    return TracedPass(model, lambda ids, mask, types: torch.stack(model(
        input_ids=ids, attention_mask=mask, output_attentions=True, **extra(types)).attentions), hold=hold)  # fmt: skip


def causal_hidden_states(body, hold: Callable) -> TracedPass:
    """``body(inputs_embeds=…).last_hidden_state`` of a GPT, whole unpadded rows (no mask): the pass integrated
    gradients of generated tokens run through."""
    return TracedPass(body, lambda embeddings, _mask, _types: body(inputs_embeds=embeddings).last_hidden_state,
                      hold=hold, embeddings=True, masked=False)  # fmt: skip


def _type_keyword(model) -> Callable:
    """The token types as the model's keyword, where it takes them."""
    takes = "token_type_ids" in inspect.signature(model.forward).parameters
    return lambda types: {"token_type_ids": types} if takes else {}


def _run(traced, *inputs):
    """The traced graph, run by TorchScript's plain interpreter: operation by operation, each recording its own
    gradient as in eager mode (so a backward pass computes only the gradients asked for, the same numbers to the last
    bit), with no GIL in between. The optimizing executor's one backward graph also computed every weight's gradient:
    1.4 times slower. The setting is per thread."""
    import torch

    with torch.jit.optimized_execution(False):
        return traced(*inputs)


def _checked_trace(found: TracedPass):
    import torch

    from core.device import precision_of

    model = found.model
    if next(model.parameters()).device.type != "cpu" or precision_of(model) != "fp32":
        raise ValueError("traced on the CPU in fp32 only")
    if not hasattr(torch, "jit") or not hasattr(torch.jit, "trace"):
        raise ValueError("this PyTorch has no TorchScript")
    embed = model.get_input_embeddings()
    longest = int(getattr(model.config, "max_position_embeddings", 0) or 40)
    generator = torch.Generator().manual_seed(0)

    def rows(count: int, tokens: int, padded) -> tuple:
        ids = torch.randint(0, embed.num_embeddings, (count, min(tokens, longest)), generator=generator)
        mask = torch.ones_like(ids)
        for row, first in padded:
            mask[row, first:] = 0
        return ids, mask

    def first_of(ids):
        return embed(ids).detach().requires_grad_(True) if found.embeddings else ids

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, first, mask=None, types=None):
            return found.run(first, mask, torch.zeros_like(mask) if types is None and mask is not None else types)

    ids, mask = rows(2, 12, ((1, 7),))
    example = found._inputs(first_of(ids).detach(), mask, torch.zeros_like(ids))
    with found.hold(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation and tracer warnings: the check below decides
        traced = torch.jit.trace(Wrapped().eval(), example, check_trace=False)
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


def _check(found: TracedPass, traced, ids, mask, first_of) -> None:
    import torch

    count, tokens = ids.shape
    types = torch.zeros_like(ids)
    pairs = []
    for run in (found.run, lambda first, m, t: _run(traced, *found._inputs(first, m, t))):
        first = first_of(ids)
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

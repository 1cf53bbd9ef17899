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

import inspect
import warnings

TOLERANCE = 1e-4  # absolute and relative, on logits and gradients (measured: no difference at all)
_SHAPES = ((8, 12, ()), (3, 5, ((0, 2),)), (1, 40, ()))  # rows, tokens, (row, first padded position) pairs


class EmbeddingsForward:
    """``model(inputs_embeds=..., attention_mask=..., token_type_ids=...).logits``, traced where that is faithful.

    ``traced`` says which ran; ``why`` says why not where it is the eager model. Callers hold the model."""

    def __init__(self, model):
        self.model, self.traced, self.why = model, None, ""
        self.takes_types = "token_type_ids" in inspect.signature(model.forward).parameters
        try:
            import torch

            with torch.enable_grad():  # the check takes gradients, whatever mode the first caller is in
                self.traced = _checked_trace(self)
        except Exception as error:  # noqa: BLE001 - any failure leaves the eager model, which is what was asked for
            self.why = f"{type(error).__name__}: {str(error)[:200]}"

    def __call__(self, embeddings, mask, types=None):
        import torch

        if types is None:
            types = torch.zeros_like(mask)
        if self.traced is None:
            return self.eager(embeddings, mask, types)
        return _run(self.traced, embeddings, mask, types if self.takes_types else None)

    def eager(self, embeddings, mask, types):
        extra = {"token_type_ids": types} if self.takes_types else {}
        return self.model(inputs_embeds=embeddings, attention_mask=mask, **extra).logits


def _run(traced, embeddings, mask, types):
    """The traced graph, run by TorchScript's plain interpreter: operation by operation, each recording its own
    gradient as in eager mode (so a backward pass computes only the gradients asked for, the same numbers to the last
    bit), with no GIL in between. The optimizing executor's one backward graph also computed every weight's gradient:
    1.4 times slower. The setting is per thread."""
    import torch

    with torch.jit.optimized_execution(False):
        return traced(embeddings, mask) if types is None else traced(embeddings, mask, types)


def _checked_trace(forward: EmbeddingsForward):
    import torch

    from core.device import precision_of

    model = forward.model
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

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, embeddings, mask, types=None):
            return forward.eager(embeddings, mask, torch.zeros_like(mask) if types is None else types)

    ids, mask = rows(2, 12, ((1, 7),))
    example = (embed(ids).detach(), mask) + ((torch.zeros_like(ids),) if forward.takes_types else ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation and tracer warnings: the check below decides
        traced = torch.jit.trace(Wrapped().eval(), example, check_trace=False)
    for count, tokens, padded in _SHAPES:
        ids, mask = rows(count, tokens, padded)
        types = torch.zeros_like(ids)
        with torch.no_grad():
            from_ids = model(input_ids=ids, attention_mask=mask,
                             **({"token_type_ids": types} if forward.takes_types else {})).logits  # fmt: skip
        found = []
        for run in (forward.eager, lambda e, m, t: _run(traced, e, m, t if forward.takes_types else None)):
            embeddings = embed(ids).detach().requires_grad_(True)
            logits = run(embeddings, mask, types)
            (gradient,) = torch.autograd.grad(logits.sum(), embeddings)
            found.append((logits.detach(), gradient))
        (eager, eager_gradient), (mine, gradient) = found
        for want, got, what in ((from_ids, mine, "logits from token ids"), (eager, mine, "logits"),
                                (eager_gradient, gradient, "gradients")):  # fmt: skip
            if not torch.allclose(got, want, atol=TOLERANCE, rtol=TOLERANCE):
                raise ValueError(f"the trace's {what} differ from the eager model's by "
                                 f"{(got - want).abs().max().item():.2e} on {count} × {tokens} tokens")  # fmt: skip
    return traced

"""Hooks that add up what flows through chosen modules of a model, per key: the means mean ablation puts in place of
a part (``core.tasks.ablation`` for a GPT or a BERT-class classifier, ``core.tasks.ablation_translation`` for an
encoder-decoder) are these sums over held-out text, divided by the positions read.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def summed(before: dict, after: dict, first_apart: bool = False):
    """Within the block, per key, what goes into each module of ``before`` (W_O: every head's output side by side)
    and what comes out of each of ``after`` (an MLP) is added up over every position the modules see, in float64 on
    the CPU (MPS has no float64): yields (sums, positions), both by key. With ``first_apart``, a sum is (2, width):
    the first position's, then the others'. The hooks go on the way out."""
    import torch

    sums: dict = {}
    positions: dict = {}

    def add(key, value) -> None:
        value = value.detach().to("cpu", torch.float64)
        flat = value.reshape(-1, value.shape[-1])
        if first_apart:
            total = torch.stack([value[..., 0, :].reshape(-1, value.shape[-1]).sum(dim=0),
                                 value[..., 1:, :].reshape(-1, value.shape[-1]).sum(dim=0)])  # fmt: skip
        else:
            total = flat.sum(dim=0)
        sums[key] = sums.get(key, 0) + total
        positions[key] = positions.get(key, 0) + flat.shape[0]

    hooks = []
    try:
        for key, module in before.items():
            hooks.append(module.register_forward_pre_hook(lambda _m, inputs, key=key: add(key, inputs[0])))
        for key, module in after.items():
            hooks.append(module.register_forward_hook(lambda _m, _i, output, key=key: add(key, output)))
        yield sums, positions
    finally:
        for hook in hooks:
            hook.remove()

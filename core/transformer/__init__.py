"""A Transformer written to be read: attention, multi-head attention, positional encodings,
encoder and decoder layers — each checked against PyTorch and Hugging Face in the tests.

Names follow "Attention Is All You Need" (Vaswani et al., 2017): d_model, d_k, n_heads, q, k, v.
"""

import contextlib
import threading

_SEEDING = threading.Lock()


@contextlib.contextmanager
def seeded(seed: int):
    """Torch's global generator seeded with ``seed`` for the toy layers built inside, one caller at a time, and put
    back afterwards: the same seed draws the same weights whatever other walkthroughs, checks, Learn's layers and
    the Train page's architecture preview draw meanwhile. (Training runs in a process of its own.)"""
    import torch

    with _SEEDING, torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # the CPU's only: torch.manual_seed would reseed a GPU's too
        yield

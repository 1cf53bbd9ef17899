"""The key–value cache, measured: the same greedy continuation generated twice, once running the whole sequence
again for every new token, once with the keys and values of the tokens already read kept (the KV cache) so that
each step runs the new token alone.

Every layer's attention needs, for the new token's query, the keys and values of all tokens before it. They do not
change once computed (a causal model never lets an earlier token see a later one), so a generator keeps them: per
layer two tensors of heads × tokens × d_head, growing by one token per step. The cache trades memory for time; both
runs must give the same tokens, and the demo checks that they do (and how far their logits differ: rounding only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.messages import Message

MAX_NEW_TOKENS = 64  # both runs under one model lock: the cap keeps the wait of the others short


@dataclass(frozen=True)
class KvDemo:
    prompt_tokens: int
    tokens: list[str]  # the greedy continuation (the same both ways when ``same_tokens``)
    without_ms: list[float]  # per step: the whole sequence run again
    with_ms: list[float]  # per step: the prompt once (prefill), then the new token alone
    positions_without: int  # token positions the model computed in all
    positions_with: int
    cache_bytes: list[int]  # the cache's size after each step
    cache_shape: tuple[int, int, int, int, int]  # (layers, keys and values, heads, tokens, d_head) at the end
    same_tokens: bool
    max_logit_difference: float


def _cache_of(outputs):
    found = outputs.get("cache")  # transformers 5 names it "cache"; older versions "past_key_values"
    return found if found is not None else outputs.get("past_key_values")


def _size(cache) -> tuple[int, tuple[int, int, int, int, int]]:
    layers = list(cache.layers)
    keys = layers[0].keys
    total = sum(t.numel() * t.element_size() for layer in layers for t in (layer.keys, layer.values))
    return total, (len(layers), 2, int(keys.shape[1]), int(keys.shape[2]), int(keys.shape[3]))


def compare(lm, prompt: str, new_tokens: int = 32) -> KvDemo:
    """Greedy generation of ``new_tokens`` tokens from ``prompt`` (a core.tasks.generate.LanguageModel), without and
    with the KV cache, timed step by step under the model's lock and an inference slot."""
    import torch

    if not 1 <= new_tokens <= MAX_NEW_TOKENS:
        raise InputError(Message("Generate between 1 and {most} new tokens.", most=MAX_NEW_TOKENS))
    ids = lm.prompt_ids(prompt)
    if not ids:
        raise InputError(Message("Score needs at least one token of text."))
    if len(ids) + new_tokens > lm.context:
        raise InputError(Message("The prompt has {count} tokens; with {new} new ones it would pass the model's "
                                 "{limit}-token window. Shorten it.", count=len(ids), new=new_tokens,
                                 limit=lm.context))  # fmt: skip
    with lm.exclusive() as model, torch.no_grad():
        device = next(model.parameters()).device
        model(torch.tensor([ids], device=device), use_cache=False)  # a warm-up, untimed: neither run pays it
        plain, plain_ms, plain_logits = list(ids), [], []
        for _ in range(new_tokens):  # the whole sequence, every step, no cache built
            started = time.perf_counter()
            logits = model(torch.tensor([plain], device=device), use_cache=False).logits[0, -1].float()
            chosen = int(logits.argmax())  # inside the timing: on a GPU this waits for the pass to finish
            plain_ms.append(1000 * (time.perf_counter() - started))
            plain_logits.append(logits)
            plain.append(chosen)
        cached, cached_ms, sizes, difference, step_input, cache = list(ids), [], [], 0.0, list(ids), None
        for step in range(new_tokens):  # the prompt once, then one token at a time
            started = time.perf_counter()
            outputs = model(torch.tensor([step_input], device=device), use_cache=True,
                            **({"cache": cache} if cache is not None else {}))  # fmt: skip
            logits = outputs.logits[0, -1].float()
            chosen = int(logits.argmax())
            cached_ms.append(1000 * (time.perf_counter() - started))
            cache = _cache_of(outputs)
            difference = max(difference, float((logits - plain_logits[step]).abs().max()))
            cached.append(chosen)
            step_input = [cached[-1]]
            sizes.append(_size(cache)[0])
        shape = _size(cache)[1]
    return KvDemo(
        prompt_tokens=len(ids),
        tokens=[lm.tokenizer.decode([i]) for i in cached[len(ids):]],
        without_ms=plain_ms, with_ms=cached_ms,
        positions_without=int(np.sum([len(ids) + i for i in range(new_tokens)])),
        positions_with=len(ids) + new_tokens - 1,
        cache_bytes=sizes, cache_shape=shape, same_tokens=cached == plain, max_logit_difference=difference,
    )  # fmt: skip

"""The logit lens: what a causal language model would predict if it stopped after each block.

A GPT adds each block's work to a running vector per position, the residual stream; only at the end does
it apply its final layer norm and the unembedding (the output matrix) to turn that vector into a
probability for every token of the vocabulary. The logit lens (nostalgebraist, 2020) applies the same
final layer norm and unembedding to the residual stream after every block, so one can watch the
prediction form layer by layer. The row after the last block is the model's own output, exactly: the
lens checks that, and says by how much it differs (rounding only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import CoreError
from core.messages import Message
from core.tasks.inputs import to_cpu

MAX_TOKENS = 48  # positions drawn in the grid (the lens itself is one forward pass)
MOVERS = 3  # tokens a block promotes (and suppresses) most, per position


@dataclass(frozen=True)
class Lens:
    tokens: list[str]  # the input, one entry per position (the document-boundary token first)
    layers: list[str]  # "embeddings", "block 1", …, "block n"
    top_tokens: list[list[str]]  # [layer][position]: the most likely next token there
    top_probs: np.ndarray  # (layers, positions): its probability
    true_probs: np.ndarray  # (layers, positions − 1): the probability of the token that really comes next
    true_ranks: np.ndarray  # (layers, positions − 1): its rank, 1 = the top prediction
    final_difference: float  # max |lens logits after the last block − the model's own logits|
    # [block − 1][position]: (promoted, suppressed), each MOVERS (token, change in probability) pairs: what the block
    # did to the lens's next-token distribution there, largest rise and largest fall first
    movers: tuple = ()

    def summary(self) -> dict[str, np.ndarray]:
        """Per layer: mean log-probability (nats) of the real next token, and how often it is the top prediction."""
        return {"mean_logprob": np.log(np.maximum(self.true_probs, 1e-30)).mean(axis=1),
                "top1": (self.true_ranks == 1).mean(axis=1)}  # fmt: skip


def _parts(model):
    """(embedding dropout, blocks, final layer norm, unembedding) of a GPT-2-class model."""
    body = getattr(model, "transformer", None)
    if body is None or not hasattr(body, "ln_f") or not hasattr(model, "lm_head"):
        raise CoreError(Message("The logit lens reads GPT-2-class models (a final layer norm and an output matrix); "
                                "{name} is not one.", name=type(model).__name__))  # fmt: skip
    return body.drop, list(body.h), body.ln_f, model.lm_head


def read_lens(model, tokenizer, ids: Sequence[int]) -> Lens:
    """The lens over ``ids`` (at most MAX_TOKENS of them): one forward pass, the residual stream read by hooks
    after the embeddings and after every block, each decoded with the model's own final norm and unembedding."""
    import torch

    ids = list(ids)[:MAX_TOKENS]
    if len(ids) < 2:
        raise CoreError(Message("The lens needs at least one token of text."))
    embeddings, blocks, final_norm, unembed = _parts(model)
    streams: list = []

    def keep(_module, _inputs, output):
        streams.append(output[0] if isinstance(output, tuple) else output)

    hooks = []
    try:
        for module in (embeddings, *blocks):
            hooks.append(module.register_forward_hook(keep))
        with torch.no_grad():
            own = model(torch.tensor([ids])).logits[0].float()
    finally:
        for hook in hooks:
            hook.remove()
    following = torch.tensor(ids[1:], device=own.device)
    rows = {"top_probs": [], "top_ids": [], "true": [], "ranks": []}
    difference, before, moved = 0.0, None, []
    with torch.no_grad():
        for stream in streams:  # one layer at a time: a 50,257-token vocabulary never sits in memory per layer
            logits = unembed(final_norm(stream[0])).float()  # (T, V)
            difference = float((logits - own).abs().max())  # the last layer's is kept
            probs = torch.softmax(logits, dim=-1)
            if before is not None:  # what this block changed: the largest rises and falls of probability
                change = probs - before
                up, down = change.topk(MOVERS, dim=-1), (-change).topk(MOVERS, dim=-1)
                moved.append((up.indices.tolist(), up.values.tolist(), down.indices.tolist(), (-down.values).tolist()))
            before = probs
            best, best_ids = probs.max(dim=-1)
            true = probs[:-1].gather(-1, following.view(-1, 1))[:, 0]
            rows["top_probs"].append(best)
            rows["top_ids"].append(best_ids)
            rows["true"].append(true)
            rows["ranks"].append((probs[:-1] > true.unsqueeze(-1)).sum(dim=-1) + 1)
            del logits
    top_probs, top_ids = torch.stack(rows["top_probs"]), torch.stack(rows["top_ids"])
    true, ranks = torch.stack(rows["true"]), torch.stack(rows["ranks"])

    def shown(token_id: int) -> str:
        return tokenizer.decode([int(token_id)]).replace(" ", "␣") or "∅"

    return Lens(
        tokens=[shown(i) for i in ids],
        layers=["embeddings", *[f"block {n}" for n in range(1, len(blocks) + 1)]],
        top_tokens=[[shown(i) for i in row] for row in top_ids.tolist()],
        top_probs=to_cpu(top_probs).numpy(),
        true_probs=to_cpu(true).numpy(),
        true_ranks=to_cpu(ranks).numpy(),
        final_difference=difference,
        movers=_movers(moved, shown),
    )


def _movers(moved: list, shown) -> tuple:
    """Per block and position, the promoted and suppressed tokens as (token, change in probability) pairs."""

    def pairs(ids: list[int], values: list[float]) -> tuple:
        return tuple((shown(i), float(v)) for i, v in zip(ids, values, strict=True))

    return tuple(
        tuple((pairs(up_i, up_v), pairs(down_i, down_v)) for up_i, up_v, down_i, down_v in zip(*block, strict=True))
        for block in moved
    )


@dataclass(frozen=True)
class MaskedLens:
    """The lens of a masked language model (BERT): what it would put at each position after each block."""

    tokens: list[str]  # the input, [CLS] … [SEP], with [MASK] where a token is hidden
    layers: list[str]  # "embeddings", "block 1", …
    top_tokens: list[list[str]]  # [layer][position]: the most likely token at that position
    top_probs: np.ndarray  # (layers, positions)
    input_probs: np.ndarray  # (layers, positions): the probability of the token really there (NaN at [MASK] and
    # the special tokens, where there is none to reconstruct)
    final_difference: float  # max |lens logits after the last block − the model's own logits|


def _masked_parts(model):
    """(embeddings, blocks, masked-LM head) of a BERT-class masked language model (BERT, or a RoFormer: the Chinese
    BERT pretrained here)."""
    body, head = getattr(model, "base_model", None), getattr(model, "cls", None)
    if body is None or head is None or not hasattr(getattr(body, "encoder", None), "layer"):
        raise CoreError(Message("The masked-LM lens reads BERT-class models with their masked-LM head; {name} is "
                                "not one.", name=type(model).__name__))  # fmt: skip
    return body.embeddings, list(body.encoder.layer), head


def read_masked_lens(model, tokenizer, ids: Sequence[int]) -> MaskedLens:
    """The masked-LM head (transform, layer norm, output matrix) applied to the hidden state after the embeddings
    and after every block, read by hooks in one forward pass; the last row is the model's own output."""
    import torch

    ids = list(ids)[:MAX_TOKENS]
    embeddings, blocks, head = _masked_parts(model)
    states: list = []

    def keep(_module, _inputs, output):
        states.append(output[0] if isinstance(output, tuple) else output)

    hooks = [module.register_forward_hook(keep) for module in (embeddings, *blocks)]
    try:
        with torch.no_grad():
            own = model(input_ids=torch.tensor([ids])).logits[0].float()
    finally:
        for hook in hooks:
            hook.remove()
    special = set(tokenizer.all_special_ids)
    real = torch.tensor([i not in special for i in ids], device=own.device)  # [MASK] is special: nothing to rebuild
    present = torch.tensor(ids, device=own.device)
    top_probs, top_ids, input_probs, difference = [], [], [], 0.0
    with torch.no_grad():
        for state in states:
            logits = head(state[0]).float()  # (T, V)
            difference = float((logits - own).abs().max())  # the last layer's is kept
            probs = torch.softmax(logits, dim=-1)
            best, best_ids = probs.max(dim=-1)
            top_probs.append(best)
            top_ids.append(best_ids)
            there = probs.gather(-1, present.view(-1, 1))[:, 0]
            input_probs.append(torch.where(real, there, torch.full_like(there, float("nan"))))
    return MaskedLens(
        tokens=tokenizer.convert_ids_to_tokens(ids),
        layers=["embeddings", *[f"block {n}" for n in range(1, len(blocks) + 1)]],
        top_tokens=[tokenizer.convert_ids_to_tokens(row) for row in torch.stack(top_ids).tolist()],
        top_probs=to_cpu(torch.stack(top_probs)).numpy(), input_probs=to_cpu(torch.stack(input_probs)).numpy(),
        final_difference=difference,
    )  # fmt: skip
